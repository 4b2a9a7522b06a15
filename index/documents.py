"""Flatten a crawled item and its extraction into the document every backend indexes.

The keys are the canonical field names of ``narcwatch.index.fields`` plus bookkeeping
(``seen_at``, ``crawl_id``, ``capture_sha256``, ``text_hash``, ``identifier_facts``).
Money stays ``Decimal`` here; backends index a float copy for ranges and sorting only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from narcwatch.crawler.models import Listing, Post, VendorProfile
from narcwatch.extract.models import Extraction, IdentifierKind, Offer
from narcwatch.index.models import ChangeEvent

__all__ = ["MASS_UNITS", "MAX_OFFERS", "dumps", "event_document", "iso", "item_document", "jsonable", "offer_rows", "parse_iso", "stable_id"]

#: grams per unit, for USD per gram from a mass quantity.
MASS_UNITS: dict[str, Decimal] = {
    "g": Decimal(1), "gr": Decimal(1), "gram": Decimal(1), "grams": Decimal(1), "mg": Decimal("0.001"),
    "ug": Decimal("0.000001"), "mcg": Decimal("0.000001"), "kg": Decimal(1000),
    "oz": Decimal("28.349523125"), "lb": Decimal("453.59237"),
}
_PIECE_UNITS = frozenset({"unit", "units", "pill", "pills", "tab", "tabs", "blotter", "blotters", "piece", "pieces"})
_PGP_KINDS = frozenset({IdentifierKind.PGP_FINGERPRINT})
#: offers and displayed tiers kept per document (display only: hostile text can name hundreds).
MAX_OFFERS = 20


def stable_id(*parts: object) -> str:
    """Deterministic id: the same inputs always give the same id (replays write nothing new)."""
    try:
        joined = "\x1f".join(parts)  # type: ignore[arg-type]  # the common case: all strings
    except TypeError:
        joined = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def iso(t: datetime) -> str:
    """UTC, fixed width: sorts as text in SQLite and parses as a date in Elasticsearch."""
    tz = t.tzinfo
    if tz is not None and tz is not timezone.utc and t.utcoffset():
        t = t.astimezone(timezone.utc)
    # %-formatting the fields is twice as fast as isoformat (and strftime), and the same
    # text: zero-padded, always with microseconds (twice per listing in a bulk load)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond)


def parse_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


_ORJSON_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dumps(v: Any) -> str:
    """JSON with Decimal as string and datetimes as ``iso``: one pass, no copy of the document.

    orjson writes it (a third of a bulk load's Python time went to ``json.dumps``); what
    orjson refuses (integers past 64 bits, lone surrogates) falls back to ``json.dumps``.
    Non-ASCII text is written as UTF-8, not ``\\u`` escapes (stores written before keep
    theirs: the same JSON value, compared as such where it matters, see ``ContentWriter``)."""
    try:
        return orjson.dumps(v, default=_default, option=_ORJSON_OPTS).decode()
    except TypeError:
        return json.dumps(v, default=_default, separators=(",", ":"))


def _default(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return iso(v)
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return iso(v)
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [jsonable(x) for x in v]
    return v


def _dedupe(values: Iterable[str | None]) -> list[str]:
    if not values and isinstance(values, (list, tuple)):
        return []
    out: dict[str, None] = {}
    for v in values:
        if v and v.strip():
            out.setdefault(v.strip(), None)
    return list(out)


def _per_gram(offer: Offer) -> Decimal | None:
    unit = (offer.unit or "").lower()
    if unit in MASS_UNITS:
        if offer.usd_per_unit is not None:
            return offer.usd_per_unit
        if offer.usd is not None and offer.quantity:
            grams = offer.quantity * MASS_UNITS[unit]
            return (offer.usd / grams) if grams > 0 else None
    return None


def _per_piece(offer: Offer) -> Decimal | None:
    if (offer.unit or "").lower() in _PIECE_UNITS:
        if offer.usd_per_unit is not None:
            return offer.usd_per_unit
        if offer.usd is not None and offer.quantity:
            return offer.usd / offer.quantity if offer.quantity > 0 else None
    return None


def _usd_from_listing(listing: Listing, ext: Extraction | None) -> tuple[Decimal | None, Decimal | None]:
    """(price_usd, usd_per_gram from the listing price) when the listing price is in USD."""
    if listing.price is None or listing.price.currency != "USD":
        return None, None
    usd = listing.price.amount
    if ext is not None:
        masses = [o for o in ext.offers if (o.unit or "").lower() in MASS_UNITS and o.quantity]
        if len(masses) == 1:  # one quantity named: the listing price is for it
            grams = masses[0].quantity * MASS_UNITS[(masses[0].unit or "").lower()]  # type: ignore[operator]
            if grams > 0:
                return usd, usd / grams
    return usd, None


_CENTI_CENT = Decimal("0.0001")


def offer_rows(offers: Iterable[Offer]) -> list[dict[str, Any]]:
    """The extracted offers as the document keeps them for display: quantity, unit,
    purity, price, currency, USD and USD per unit (null keys left out), at most ``MAX_OFFERS``.

    Amounts are decimal strings, as every store writes them (JSON has no decimal): made
    here once, they reach the JSON encoder as text instead of one Python callback per
    amount (about 20 a listing, a tenth of a bulk load's document cost)."""
    rows: list[dict[str, Any]] = []
    for o in offers:  # a bulk load's hot path: the keys written one by one, in display order
        if len(rows) >= MAX_OFFERS:
            break
        row: dict[str, Any] = {}
        if (v := o.quantity) is not None:
            row["quantity"] = str(v)
        if (u := o.unit) is not None:
            row["unit"] = u
        if (v := o.purity) is not None:
            row["purity"] = str(v)
        if (v := o.price) is not None:
            row["price"] = str(v)
        if (u := o.currency) is not None:
            row["currency"] = u
        if (v := o.usd) is not None:
            try:
                row["usd"] = str(v.quantize(_CENTI_CENT))
            except InvalidOperation:  # as ``_round``: a value that does not round is left out
                pass
        if (v := o.usd_per_unit) is not None:
            try:
                row["usd_per_unit"] = str(v.quantize(_CENTI_CENT))
            except InvalidOperation:
                pass
        if row:
            rows.append(row)
    return rows


def _round(v: Decimal | None) -> Decimal | None:
    if v is None:
        return None
    try:
        return v.quantize(_CENTI_CENT)
    except InvalidOperation:
        return None


def item_document(item: Listing | Post | VendorProfile, ext: Extraction | None) -> dict[str, Any]:
    """The flat document for a listing or post (vendor profiles go to the vendor table)."""
    ext = ext or Extraction()
    if isinstance(item, Listing):
        title, text, vendor = item.title, item.description, item.vendor
        price = item.price
        price_usd, ppg_listing = _usd_from_listing(item, ext)
        raw_from, raw_to = [item.ships_from], [item.ships_to]
        available, category = item.available, item.category
    elif isinstance(item, Post):
        title, text, vendor = item.title or "", item.text, item.author
        price, price_usd, ppg_listing = None, None, None
        raw_from, raw_to, available, category = [], [], True, item.thread
    else:
        title, text, vendor = item.handle, item.description, item.handle
        price, price_usd, ppg_listing = None, None, None
        raw_from, raw_to, available, category = [], [], True, None
    offers = ext.offers
    per_gram: list[Decimal] = []
    per_piece: list[Decimal] = []
    if offers:  # one pass: a unit decides which of the two (if any) an offer can give
        for o in offers:
            u = o.unit
            u = u.lower() if u else ""
            if u in MASS_UNITS:
                g = _per_gram(o)
                if g is not None and g > 0:
                    per_gram.append(g)
            elif u in _PIECE_UNITS:
                pc = _per_piece(o)
                if pc is not None and pc > 0:
                    per_piece.append(pc)
    if ppg_listing is not None and ppg_listing > 0:
        per_gram.append(ppg_listing)
    if price_usd is None and price is not None:
        amount, cur = price.amount, price.currency
        price_usd = next((o.usd for o in offers if o.usd is not None and o.price == amount
                          and (o.currency or "").upper() == cur), None)
    if ext.wallets or ext.identifiers:
        wallets = _dedupe(w.address for w in ext.wallets)
        pgp = _dedupe(i.value.replace(" ", "").upper() for i in ext.identifiers if i.kind in _PGP_KINDS)
        facts: list[tuple[str, str]] = [(f"wallet:{w.chain.upper()}", w.address) for w in ext.wallets]
        facts += [(i.kind.value, i.value.replace(" ", "").upper() if i.kind in _PGP_KINDS else i.value)
                  for i in ext.identifiers]
        facts = list(dict.fromkeys((k, v.strip()) for k, v in facts if v and v.strip()))
    else:  # the common case, and the hot path of a bulk load
        wallets, pgp, facts = [], [], []
    subs = ext.substances
    cas = [c.value for c in ext.cas] + [s.cas for s in subs]
    return {
        "key": item.key, "type": item.type, "source": item.source, "site_id": item.site_id, "url": item.url,
        "title": title, "text": text, "vendor": vendor, "category": category,
        "currency": price.currency if price else None, "price": price.amount if price else None,
        "price_usd": _round(price_usd),
        "usd_per_gram": _round(min(per_gram)) if per_gram else None,
        "usd_per_unit": _round(min(per_piece)) if per_piece else None,
        "substances": _dedupe([s.canonical for s in subs]),
        "classes": ext.classes,
        "novel": any(s.novel for s in subs),
        "novel_substances": _dedupe([s.canonical for s in subs if s.novel]),
        "cas": _dedupe(cas) if any(cas) else [],
        "wallets": wallets, "pgp": pgp,
        "identifiers": _dedupe(v for _, v in facts),
        "identifier_facts": [list(f) for f in facts],
        "offers": offer_rows(offers) if offers else [],
        "tiers": [{"quantity": t.quantity, "price": t.price.amount, "currency": t.price.currency}
                  for t in item.tiers[:MAX_OFFERS]] if isinstance(item, Listing) and item.tiers else [],
        "ships_from": _dedupe(ext.ships_from) or _dedupe(raw_from),
        "ships_to": _dedupe(ext.ships_to) or _dedupe(raw_to),
        "available": bool(available),
        "seen_at": iso(item.seen_at), "crawl_id": item.crawl_id,
        "capture_id": item.capture_id, "capture_sha256": item.capture_sha256,
        "text_hash": stable_id(" ".join(title.split()), " ".join(text.split())),
    }


def event_document(event: ChangeEvent, listing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The flat document an alert rule sees for one event: the listing's fields (when the
    event is about a listing) plus ``event``, ``event_at`` and the event's details."""
    doc: dict[str, Any] = dict(listing or {})
    doc.update({"event": event.type.value, "event_at": iso(event.at), "details": event.details})
    doc.setdefault("source", event.source)
    doc.setdefault("key", event.listing_key)
    if event.vendor and not doc.get("vendor"):
        doc["vendor"] = event.vendor
    return doc
