"""TEST DOUBLE — an in-memory store for the dashboard tests only.

Not a backend: it exists so the dashboard can be tested before the index branch's
SQLite/Elasticsearch stores land. It implements the base ``Store`` protocol loosely and
the dashboard's ``DashboardReader`` fully, over a handful of fictional listings. Its
search understands bare words (AND) and ``field:value`` for a few fields, and raises
``ValueError`` on an unknown field like the real query parser does.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from narcwatch.crawler.models import Capture, Listing
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
from narcwatch.extract.models import Extraction
from narcwatch.index.models import Alert, AlertStatus, ChangeEvent

_FIELDS = {"vendor": "vendor", "source": "source", "market": "source", "class": "classes", "classes": "classes",
           "substance": "substances", "ships_from": "ships_from", "from": "ships_from"}


@dataclass
class Doc:
    listing: Listing
    extraction: Extraction | None
    snapshots: list[Snapshot] = field(default_factory=list)
    captures: list[Capture] = field(default_factory=list)


class MemStore:
    """TEST DOUBLE: dashboard reader over in-memory fictional data."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.alerts: dict[str, Alert] = {}
        self.crawl: dict[str, CrawlStatus] = {}
        self.closed = False

    # Store protocol (the parts the dashboard touches) --------------------------------
    def ingest(self, batch: Sequence[Any]) -> list[ChangeEvent]:
        raise NotImplementedError("test double")

    def end_crawl(self, source: str, crawl_id: str, complete: bool, at: datetime) -> list[ChangeEvent]:
        raise NotImplementedError("test double")

    def events(self, since: datetime | None = None, types: Sequence[str] = (), limit: int = 1000) -> list[ChangeEvent]:
        return []

    def save_alerts(self, alerts: Sequence[Alert]) -> int:
        for a in alerts:
            self.alerts[a.id] = a
        return len(alerts)

    def counts(self) -> dict[str, int]:
        return {"listings": len(self.docs), "alerts": len(self.alerts)}

    def search(self, query: str, *, limit: int = 20, offset: int = 0, sort: str | None = None) -> Any:
        return self.search_page(query, limit=limit, offset=offset, sort=sort)

    def close(self) -> None:
        self.closed = True

    # test setup -------------------------------------------------------------------
    def add(self, doc: Doc) -> None:
        self.docs[doc.listing.key] = doc

    # DashboardReader -------------------------------------------------------------
    @staticmethod
    def _values(doc: Doc, name: str) -> list[str]:
        x = doc.extraction
        if name == "classes":
            return x.classes if x else []
        if name == "substances":
            return [s.canonical for s in x.substances] if x else []
        if name == "ships_from":
            return [doc.listing.ships_from] if doc.listing.ships_from else []
        value = getattr(doc.listing, name)
        return [value] if value else []

    def _hit(self, doc: Doc) -> Hit:
        per_gram = [o.usd_per_unit for o in (doc.extraction.offers if doc.extraction else [])
                    if o.usd_per_unit is not None and o.unit == "g"]
        return Hit(key=doc.listing.key, title=doc.listing.title, source=doc.listing.source,
                   vendor=doc.listing.vendor, price=doc.listing.price, usd_per_gram=min(per_gram) if per_gram else None,
                   classes=tuple(self._values(doc, "classes")), substances=tuple(self._values(doc, "substances")),
                   ships_from=tuple(self._values(doc, "ships_from")), last_seen=doc.snapshots[-1].seen_at if doc.snapshots else None,
                   snippet=doc.listing.description[:200])

    def search_page(self, query: str, *, limit: int = 20, offset: int = 0, sort: str | None = None,
                    facets: Sequence[str] = ()) -> SearchPage:
        words, filters = [], []
        for token in query.split():
            name, sep, value = token.partition(":")
            if sep:
                if name.lower() not in _FIELDS:
                    raise ValueError(f"unknown field {name!r}; fields: {', '.join(sorted(_FIELDS))}")
                filters.append((_FIELDS[name.lower()], value.strip('"').lower()))
            else:
                words.append(token.lower())
        found = []
        for doc in self.docs.values():
            text = f"{doc.listing.title} {doc.listing.description}".lower()
            if all(w in text for w in words) and all(
                    v in [x.lower() for x in self._values(doc, f)] for f, v in filters):
                found.append(doc)
        counts: dict[str, list[FacetValue]] = {}
        for name in facets:
            counter = Counter(v for d in found for v in self._values(d, name))
            counts[name] = [FacetValue(v, n) for v, n in counter.most_common()]
        hits = [self._hit(d) for d in found[offset:offset + limit]]
        return SearchPage(query=query, total=len(found), hits=hits, facets=counts, offset=offset, limit=limit)

    def listing_view(self, key: str) -> ListingView | None:
        doc = self.docs.get(key)
        if doc is None:
            return None
        x = doc.extraction or Extraction()
        facts = Facts(substances=[(m.canonical, m.cls.value) for m in x.substances], classes=x.classes,
                      usd_per_gram=self._hit(doc).usd_per_gram, wallets=[(w.chain, w.address) for w in x.wallets],
                      identifiers=[(i.kind.value, i.value) for i in x.identifiers], cas=[c.value for c in x.cas],
                      offers=[OfferRow.from_offer(o) for o in x.offers])
        return ListingView(listing=doc.listing, extraction=doc.extraction, snapshots=doc.snapshots,
                           captures=doc.captures, facts=facts, first_seen=doc.snapshots[0].seen_at if doc.snapshots else None,
                           last_seen=doc.snapshots[-1].seen_at if doc.snapshots else None)

    def vendor_view(self, handle: str) -> VendorView | None:
        docs = [d for d in self.docs.values() if (d.listing.vendor or "").lower() == handle.lower()]
        if not docs:
            return None
        by_source: dict[str, list[Doc]] = defaultdict(list)
        for d in docs:
            by_source[d.listing.source].append(d)
        appearances = [Appearance(src, ds[0].listing.vendor or handle,
                                  min(s.seen_at for d in ds for s in d.snapshots),
                                  max(s.seen_at for d in ds for s in d.snapshots), len(ds))
                       for src, ds in sorted(by_source.items())]
        ids: dict[tuple[str, str], set[str]] = defaultdict(set)
        per_gram: dict[str, list[Decimal]] = defaultdict(list)
        for d in docs:
            for w in (d.extraction.wallets if d.extraction else []):
                ids[("wallet " + w.chain, w.address)].add(d.listing.source)
            for i in (d.extraction.identifiers if d.extraction else []):
                ids[(i.kind.value, i.value)].add(d.listing.source)
            for o in (d.extraction.offers if d.extraction else []):
                if o.usd_per_unit is not None and o.unit == "g" and d.extraction.substances:
                    per_gram[d.extraction.substances[0].canonical].append(o.usd_per_unit)
        levels = [PriceLevel(sub, "g", min(v), statistics.median(v), max(v), len(v)) for sub, v in sorted(per_gram.items())]
        timeline = sorted((TimelineEntry(d.snapshots[0].seen_at, d.listing.source, "NEW", d.listing.title, d.listing.key)
                           for d in docs if d.snapshots), key=lambda e: e.at)
        return VendorView(handle=docs[0].listing.vendor or handle, appearances=appearances,
                          identifiers=[IdentifierSeen(k, v, None, tuple(sorted(s))) for (k, v), s in sorted(ids.items())],
                          price_levels=levels, timeline=timeline, listings=[self._hit(d) for d in docs])

    def alert_list(self, status: AlertStatus | None = None, limit: int = 200) -> list[Alert]:
        rows = [a for a in self.alerts.values() if status is None or a.status == status]
        return sorted(rows, key=lambda a: a.created_at, reverse=True)[:limit]

    def set_alert_status(self, alert_id: str, status: AlertStatus, by: str) -> Alert | None:
        alert = self.alerts.get(alert_id)
        if alert is None:
            return None
        alert = alert.model_copy(update={"status": status, "status_by": by, "status_at": datetime.now(timezone.utc)})
        self.alerts[alert_id] = alert
        return alert

    def trends(self, weeks: int = 12) -> Trends:
        end = max((s.seen_at for d in self.docs.values() for s in d.snapshots), default=datetime.now(timezone.utc))
        monday = (end - timedelta(days=end.weekday())).date()
        labels = [(monday - timedelta(weeks=weeks - 1 - i)).isoformat() for i in range(weeks)]
        per_class: dict[str, list[int]] = defaultdict(lambda: [0] * weeks)
        ppg: dict[str, list[list[Decimal]]] = defaultdict(lambda: [[] for _ in range(weeks)])
        for d in self.docs.values():
            for s in d.snapshots:
                wk = (s.seen_at - timedelta(days=s.seen_at.weekday())).date().isoformat()
                if wk not in labels:
                    continue
                i = labels.index(wk)
                for c in self._values(d, "classes"):
                    per_class[c][i] += 1
                if s.usd_per_gram is not None and d.extraction and d.extraction.substances:
                    ppg[d.extraction.substances[0].canonical][i].append(s.usd_per_gram)
        ships = Counter(v for d in self.docs.values() for v in self._values(d, "ships_from"))
        return Trends(weeks=labels, listings_per_class=dict(per_class),
                      usd_per_gram={k: [statistics.median(v) if v else None for v in vals] for k, vals in ppg.items()},
                      ships_from=[FacetValue(k, n) for k, n in ships.most_common()])

    def crawl_status(self, source: str) -> CrawlStatus | None:
        return self.crawl.get(source)
