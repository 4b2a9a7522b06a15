"""The dashboard's read model over the index's stores (``narcwatch.index``) and the
alert outbox (``narcwatch.index.alerts.outbox.AlertDB``).

The index answers with flat documents (``narcwatch.index.documents.item_document``) and
result models (``narcwatch.index.results``); this module turns them into the views the
pages render. Captures come from the crawler's evidence manifest. Highlights come back
from the store as private-use markers and are split into (text, is_match) pieces here,
so no store-made HTML ever reaches a template.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from narcwatch.crawler.models import Capture, Listing, Money, PriceTier
from narcwatch.dashboards.evidence import lookup_capture
from narcwatch.dashboards.reader import _decimal, _strings, hit_from_document, read_crawl_status
from narcwatch.dashboards.views import (
    Appearance,
    CrawlStatus,
    FacetValue,
    Facts,
    Hit,
    IdentifierSeen,
    ListingView,
    OfferRow,
    PriceLevel,
    SearchPage,
    Snapshot,
    TimelineEntry,
    Trends,
    VendorView,
)
from narcwatch.index.models import Alert, AlertStatus

__all__ = ["IndexReader", "marker_segments"]

TREND_CLASSES = 8
TREND_SUBSTANCES = 8
LINKED_IDENTIFIERS = 10
MAX_ROWS = 50  # offers/tiers read from one document (the index keeps fewer; a foreign store may not)

try:  # the index's highlight markers; absent on a branch without the index
    from narcwatch.index.results import HL_END, HL_START
except ImportError:  # pragma: no cover - only before the index branch is merged
    HL_START, HL_END = "\ue000", "\ue001"


def marker_segments(text: str | None) -> tuple[tuple[str, bool], ...]:
    """Split store-highlighted text (``HL_START``hit``HL_END``) into (text, is_match) pieces."""
    if not text:
        return ()
    out: list[tuple[str, bool]] = []
    for i, part in enumerate(text.split(HL_START)):
        if i == 0:
            if part:
                out.append((part.replace(HL_END, ""), False))
            continue
        hit, _, rest = part.partition(HL_END)
        if hit:
            out.append((hit.replace(HL_START, ""), True))
        if rest:
            out.append((rest.replace(HL_START, "").replace(HL_END, ""), False))
    return tuple(out)


def _dt(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v
    if not isinstance(v, str) or not v:
        return None
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _money(amount: Any, currency: Any) -> Money | None:
    value = _decimal(amount)
    if value is None or not isinstance(currency, str) or not 2 <= len(currency) <= 10:
        return None
    return Money(amount=value, currency=currency)


def _first(v: Any) -> str | None:
    values = _strings(v)
    return values[0] if values else None


def _text(v: Any, limit: int = 200) -> str | None:
    return v[:limit] if isinstance(v, str) and v else None


def _currency(v: Any) -> str | None:
    return v.upper() if isinstance(v, str) and 2 <= len(v) <= 10 else None


def offers_from_document(doc: Mapping[str, Any]) -> list[OfferRow]:
    """The document's ``offers`` (``narcwatch.index.documents.offer_rows``) as rows; odd entries are skipped."""
    raw = doc.get("offers")
    if not isinstance(raw, (list, tuple)):
        return []
    rows = []
    for o in raw[:MAX_ROWS]:
        if not isinstance(o, Mapping):
            continue
        row = OfferRow(quantity=_decimal(o.get("quantity")), unit=_text(o.get("unit"), 20),
                       purity=_decimal(o.get("purity")), price=_decimal(o.get("price")),
                       currency=_currency(o.get("currency")), usd=_decimal(o.get("usd")),
                       usd_per_unit=_decimal(o.get("usd_per_unit")))
        if row != OfferRow():
            rows.append(row)
    return rows


def tiers_from_document(doc: Mapping[str, Any]) -> list[PriceTier]:
    """The tier table as the site displayed it (``tiers``: quantity text, price, currency)."""
    raw = doc.get("tiers")
    if not isinstance(raw, (list, tuple)):
        return []
    out = []
    for t in raw[:MAX_ROWS]:
        if isinstance(t, Mapping) and (money := _money(t.get("price"), t.get("currency"))) is not None:
            out.append(PriceTier.model_construct(quantity=str(t.get("quantity") or "")[:100], price=money))
    return out


def listing_from_document(doc: Mapping[str, Any]) -> Listing:
    """The current document as a ``Listing`` for display (never raises on odd fields)."""
    return Listing.model_construct(
        source=str(doc.get("source") or ""), url=str(doc.get("url") or ""), site_id=doc.get("site_id"),
        crawl_id=str(doc.get("crawl_id") or ""), seen_at=_dt(doc.get("seen_at")) or datetime.now(timezone.utc),
        capture_id=str(doc.get("capture_id") or ""), capture_sha256=str(doc.get("capture_sha256") or ""),
        type="listing", title=str(doc.get("title") or ""), vendor=doc.get("vendor") or None,
        category=doc.get("category") or None, price=_money(doc.get("price"), doc.get("currency")),
        displayed_prices=[], tiers=tiers_from_document(doc), ships_from=", ".join(_strings(doc.get("ships_from"))) or None,
        ships_to=", ".join(_strings(doc.get("ships_to"))) or None, escrow=None,
        description=str(doc.get("text") or ""), available=bool(doc.get("available", True)),
        language=str(doc.get("language") or "en"))


def substance_class(canonical: str) -> str:
    """The lexicon's class of a substance ("" for one it does not know, e.g. a novel one):
    the index document keeps the listing's classes, not which substance has which."""
    try:
        from narcwatch.extract.lexicon import load_lexicon

        entry = load_lexicon().get(canonical)
    except (ImportError, OSError, ValueError, KeyError):
        return ""
    return entry.cls.value if entry is not None else ""


def facts_from_document(doc: Mapping[str, Any]) -> Facts:
    facts = [f for f in doc.get("identifier_facts") or () if isinstance(f, (list, tuple)) and len(f) == 2]
    wallets = [(str(k).removeprefix("wallet:"), str(v)) for k, v in facts if str(k).startswith("wallet:")]
    idents = [(str(k), str(v)) for k, v in facts if not str(k).startswith("wallet:")]
    classes = _strings(doc.get("classes"))
    return Facts(substances=[(s, substance_class(s)) for s in _strings(doc.get("substances"))], classes=classes,
                 price_usd=_decimal(doc.get("price_usd")), usd_per_gram=_decimal(doc.get("usd_per_gram")),
                 usd_per_unit=_decimal(doc.get("usd_per_unit")), wallets=wallets, identifiers=idents,
                 cas=_strings(doc.get("cas")), novel=_strings(doc.get("novel_substances")),
                 offers=offers_from_document(doc))


def _week(d: date) -> date:
    return d - timedelta(days=d.weekday())


class IndexReader:
    """``DashboardReader`` over an index store (``search/listing/vendor/trends``) and the alert DB."""

    def __init__(self, store: Any, data_dir: Path, alert_db: Any = None):
        self.store = store
        self.data_dir = data_dir
        self._alert_db = alert_db

    @property
    def alert_db(self) -> Any:
        if self._alert_db is None:
            from narcwatch.index.alerts.outbox import AlertDB

            self._alert_db = AlertDB(self.data_dir / "outbox.sqlite")
        return self._alert_db

    # search -------------------------------------------------------------------------
    def search_page(self, query: str, *, limit: int = 20, offset: int = 0, sort: str | None = None,
                    facets: Sequence[str] = ()) -> SearchPage:
        result = self.store.search(query, limit=limit, offset=offset, sort=sort, facets=tuple(facets))
        hits = []
        for h in result.hits:
            base = hit_from_document(h.doc)
            hl = h.highlights or {}
            hits.append(Hit(**{**base.__dict__, "snippet": str(h.doc.get("text") or "")[:240],
                               "title_segments": marker_segments(hl.get("title")),
                               "snippet_segments": marker_segments(hl.get("text"))}))
        facets = {name: [FacetValue(f.value, f.count) for f in values] for name, values in result.facets.items()}
        return SearchPage(query=query, total=result.total, hits=hits, facets=facets, offset=offset, limit=limit,
                          terms=self._terms(query))

    @staticmethod
    def _terms(query: str) -> tuple[str, ...]:
        try:
            from narcwatch.index.query import parse

            return tuple(dict.fromkeys(tok for node in parse(query).text_nodes for tok in node.tokens))[:16]
        except (ImportError, ValueError):
            return ()

    # listing ------------------------------------------------------------------------
    def listing_view(self, key: str) -> ListingView | None:
        history = self.store.listing(key)
        if history is None:
            return None
        doc = history.current
        snaps = []
        for s in history.snapshots:
            seen = _dt(s.get("seen_at"))
            if seen is None:
                continue
            snaps.append(Snapshot(seen_at=seen, title=str(s.get("title") or ""),
                                  price=_money(s.get("price"), s.get("currency")), usd=_decimal(s.get("price_usd")),
                                  usd_per_gram=_decimal(s.get("usd_per_gram")), available=bool(s.get("available", True)),
                                  capture_id=str(s.get("capture_id") or ""),
                                  capture_sha256=str(s.get("capture_sha256") or "")))
        captures: list[Capture] = []
        for cid in dict.fromkeys(s.capture_id for s in snaps if s.capture_id):
            if (cap := lookup_capture(self.data_dir / "evidence", cid)) is not None:
                captures.append(cap)
        events = [TimelineEntry(at, str(e.get("source") or ""), str(e.get("type") or ""), _event_text(e), key)
                  for e in history.events if (at := _dt(e.get("at"))) is not None]
        return ListingView(
            listing=listing_from_document(doc), extraction=None, snapshots=snaps, captures=captures,
            first_seen=_dt(doc.get("first_seen")) or (snaps[0].seen_at if snaps else None),
            last_seen=_dt(doc.get("last_seen")) or (snaps[-1].seen_at if snaps else None),
            removed=bool(doc.get("removed", False)), facts=facts_from_document(doc), events=events)

    # vendor -------------------------------------------------------------------------
    def vendor_view(self, handle: str) -> VendorView | None:
        report = self.store.vendor(handle)
        if report is None:
            return None
        listings = {str(x.get("key")): x for x in report.listings}
        per_source: dict[str, int] = defaultdict(int)
        for x in report.listings:
            per_source[str(x.get("source"))] += 1
        appearances = [Appearance(str(a.get("source")), str(a.get("handle")), _dt(a.get("first_seen")),
                                  _dt(a.get("last_seen")), per_source.get(str(a.get("source")), 0))
                       for a in report.accounts]
        identifiers = [IdentifierSeen(str(i.get("kind")), str(i.get("value")), _dt(i.get("first_seen")),
                                      _strings(i.get("sources"))) for i in report.identifiers]
        by_key: dict[str, list[Decimal]] = defaultdict(list)
        for p in report.price_history:
            if (g := _decimal(p.get("usd_per_gram"))) is not None:
                by_key[str(p.get("key"))].append(g)
        levels = [PriceLevel(str(listings.get(k, {}).get("title") or k), "g", min(v), statistics.median(v), max(v), len(v))
                  for k, v in sorted(by_key.items())]
        timeline = [TimelineEntry(t, str(a.get("source")), "account", f"{a.get('handle')} first seen")
                    for a in report.accounts if (t := _dt(a.get("first_seen")))]
        timeline += [TimelineEntry(t, str(x.get("source")), "listing", str(x.get("title") or ""), str(x.get("key")))
                     for x in report.listings if (t := _dt(x.get("first_seen")))]
        timeline.sort(key=lambda e: e.at)
        hits = [Hit(key=str(x.get("key")), title=str(x.get("title") or ""), source=str(x.get("source") or ""),
                    vendor=report.name, price=_money(x.get("price"), x.get("currency")),
                    usd_per_gram=_decimal(x.get("usd_per_gram")), last_seen=_dt(x.get("last_seen")))
                for x in report.listings]
        return VendorView(handle=report.name, appearances=appearances, identifiers=identifiers, price_levels=levels,
                          timeline=timeline, linked=self._linked(report.name, identifiers), listings=hits)

    def _linked(self, name: str, identifiers: Sequence[IdentifierSeen]) -> list[str]:
        """Other vendors whose listings carry one of this vendor's identifiers."""
        found: dict[str, None] = {}
        for ident in identifiers[:LINKED_IDENTIFIERS]:
            if not ident.value or any(c in ident.value for c in '"\\'):
                continue
            try:
                facets = self.store.search(f'identifiers:"{ident.value}"', limit=0, facets=("vendor",)).facets
            except ValueError:
                continue
            for f in facets.get("vendor", ()):
                if f.value.lower() != name.lower():
                    found.setdefault(f.value, None)
        return list(found)

    # trends -------------------------------------------------------------------------
    def trends(self, weeks: int = 12) -> Trends:
        overall = self.store.trends("")
        classes = [f.value for f in overall.facets.get("classes", [])][:TREND_CLASSES]
        per_class_rows = {c: self.store.trends(f'classes:"{c}"', facets=()).listings_per_week for c in classes
                          if '"' not in c and "\\" not in c}
        all_weeks = [str(w.get("week")) for w in overall.listings_per_week]
        last = max((date.fromisoformat(w) for w in all_weeks if _is_day(w)), default=_week(date.today()))
        labels = [(_week(last) - timedelta(weeks=weeks - 1 - i)).isoformat() for i in range(weeks)]
        index = {w: i for i, w in enumerate(labels)}

        def aligned(rows: Sequence[Mapping[str, Any]], value: str) -> list[Any]:
            out: list[Any] = [0 if value == "count" else None] * weeks
            for r in rows:
                w = str(r.get("week"))
                if _is_day(w) and (i := index.get(_week(date.fromisoformat(w)).isoformat())) is not None:
                    out[i] = r.get(value)
            return out

        by_sub: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        weight: dict[str, int] = defaultdict(int)
        for r in overall.price_per_gram:
            by_sub[str(r.get("substance"))].append(r)
            weight[str(r.get("substance"))] += int(r.get("n") or 0)
        top = sorted(by_sub, key=lambda s: (-weight[s], s))[:TREND_SUBSTANCES]
        return Trends(
            weeks=labels,
            listings_per_class={c: aligned(rows, "count") for c, rows in per_class_rows.items()},
            usd_per_gram={s: [_decimal(v) for v in aligned(by_sub[s], "median")] for s in top},
            ships_from=[FacetValue(f.value, f.count) for f in overall.facets.get("ships_from", [])])

    # alerts -------------------------------------------------------------------------
    def alert_list(self, status: AlertStatus | None = None, limit: int = 200) -> list[Alert]:
        return [a for _, a in self.alert_db.alerts(status=status.value if status else None, limit=limit)]

    def set_alert_status(self, alert_id: str, status: AlertStatus, by: str) -> Alert | None:
        try:
            return self.alert_db.set_status(alert_id, status, by)  # type: ignore[no-any-return]
        except KeyError:
            return None

    def crawl_status(self, source: str) -> CrawlStatus | None:
        return read_crawl_status(self.data_dir, source)


def _is_day(s: str) -> bool:
    try:
        date.fromisoformat(s)
    except ValueError:
        return False
    return True


def _event_text(e: Mapping[str, Any]) -> str:
    details = e.get("details") or {}
    if isinstance(details, Mapping) and details:
        return ", ".join(f"{k}: {v}" for k, v in list(details.items())[:6])[:300]
    return ""
