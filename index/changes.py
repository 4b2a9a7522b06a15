"""Change detection at ingest, independent of the backend.

A backend loads what it already knows about a batch (``Known``: the current documents of
the batch's keys, which snapshots exist, which vendors and identifiers were seen), hands it
to ``plan`` and writes the resulting ``Plan`` in one transaction / one bulk request. Event
ids are derived from the snapshot they describe, so a replayed batch plans nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from narcwatch.crawler.models import VendorProfile
from narcwatch.index.documents import item_document, parse_iso, stable_id
from narcwatch.index.models import ChangeEvent, EventType
from narcwatch.index.store import IngestItem

__all__ = ["Known", "Plan", "merge_vendor", "plan", "removal_event", "snapshot_id"]


@dataclass
class Known:
    snapshots: set[str] = field(default_factory=set)
    current: dict[str, dict[str, Any]] = field(default_factory=dict)
    vendor_sources: dict[str, set[str]] = field(default_factory=dict)  # handle (lower) -> sources
    identifiers: set[tuple[str, str]] = field(default_factory=set)  # (kind, value)


@dataclass
class Plan:
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    vendors: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    sightings: list[dict[str, Any]] = field(default_factory=list)
    events: list[ChangeEvent] = field(default_factory=list)


def snapshot_id(key: str, crawl_id: str, seen_at: str) -> str:
    """One snapshot per (listing key, crawl); without a crawl id the observation time stands in."""
    return stable_id("snap", key, crawl_id or seen_at)


def _event(etype: EventType, doc: dict[str, Any], anchor: str, **details: Any) -> ChangeEvent:
    # Every value is already of its field's type (documents are built from validated items),
    # so the event is constructed without a second validation: it is the hot path of a bulk load.
    return ChangeEvent.trusted(
        stable_id(etype.value, anchor), etype, parse_iso(doc["seen_at"]),  # type: ignore[arg-type]
        doc["source"], doc.get("key"), doc.get("vendor"), doc.get("capture_id") or "",
        doc.get("capture_sha256") or "", details)


def _money(v: Any) -> str | None:
    return None if v is None else str(v)


def _dec(v: Any) -> Decimal | None:
    try:
        return None if v is None else Decimal(str(v))
    except ArithmeticError:
        return None


def plan(batch: Sequence[IngestItem], known: Known, docs: Sequence[dict[str, Any]] | None = None) -> Plan:
    """Snapshots, current documents, vendor/identifier sightings and events for ``batch``.

    ``docs``: ``item_document`` of each item, when the caller built them already (a
    store can build the next batch's while SQLite commits the last one); taken over."""
    out = Plan()
    for i, (item, ext) in enumerate(batch):
        doc = item_document(item, ext) if docs is None else docs[i]
        sid = snapshot_id(doc["key"], doc["crawl_id"], doc["seen_at"])
        if sid in known.snapshots:
            continue
        known.snapshots.add(sid)
        if isinstance(item, VendorProfile):
            _vendor(out, known, doc, sid, profile=item)
            _identifiers(out, known, doc, sid)
            continue
        prev = known.current.get(doc["key"])
        doc["snapshot_id"] = sid
        if prev is None:
            doc["first_seen"], doc["last_seen"] = doc["seen_at"], doc["seen_at"]
            out.events.append(_event(EventType.NEW, doc, sid, type=doc["type"], title=doc["title"]))
        else:
            if doc["seen_at"] < prev["last_seen"]:  # a late replay of an older crawl: history only
                out.snapshots.append({**doc, "id": sid})
                _identifiers(out, known, doc, sid)
                continue
            doc["first_seen"] = min(prev["first_seen"], doc["seen_at"])
            doc["last_seen"] = doc["seen_at"]
            if prev.get("removed"):
                out.events.append(_event(EventType.REAPPEARED, doc, sid, removed_since=prev.get("last_seen")))
            if (_dec(prev.get("price")), prev.get("currency")) != (doc["price"], doc["currency"]) or \
                    _dec(prev.get("usd_per_gram")) != doc["usd_per_gram"] or \
                    _dec(prev.get("usd_per_unit")) != doc["usd_per_unit"]:
                if doc["price"] is not None or prev.get("price") is not None:
                    out.events.append(_event(
                        EventType.PRICE_CHANGED, doc, sid,
                        old_price=_money(prev.get("price")), old_currency=prev.get("currency"),
                        new_price=_money(doc["price"]), new_currency=doc["currency"],
                        old_usd_per_gram=_money(prev.get("usd_per_gram")), new_usd_per_gram=_money(doc["usd_per_gram"]),
                        old_usd_per_unit=_money(prev.get("usd_per_unit")), new_usd_per_unit=_money(doc["usd_per_unit"]),
                    ))
            if prev.get("text_hash") != doc["text_hash"]:
                out.events.append(_event(EventType.TEXT_CHANGED, doc, sid, old_title=prev.get("title"),
                                         new_title=doc["title"]))
        for canonical in doc["novel_substances"]:
            if canonical not in (prev or {}).get("novel_substances", []):
                out.events.append(_event(EventType.NOVEL_SUBSTANCE, doc, f"{doc['key']}|{canonical}",
                                         substance=canonical, classes=doc["classes"]))
        doc["removed"], doc["missed"] = False, 0
        known.current[doc["key"]] = doc
        out.docs[doc["key"]] = doc
        out.snapshots.append({**doc, "id": sid})
        if doc.get("vendor") and doc["type"] == "listing":
            _vendor(out, known, doc, sid, profile=None)
        _identifiers(out, known, doc, sid)
    return out


def _vendor(out: Plan, known: Known, doc: dict[str, Any], sid: str, profile: VendorProfile | None) -> None:
    handle = (doc.get("vendor") or "").strip()
    if not handle:
        return
    lc, source = handle.lower(), doc["source"]
    sources = known.vendor_sources.setdefault(lc, set())
    vid = (source, lc)
    seen = doc["seen_at"]
    facts = None if profile is None else {
        "pgp_key": profile.pgp_key, "joined": profile.joined, "sales": profile.sales,
        "feedback": profile.feedback, "description": profile.description, "url": profile.url}
    row = out.vendors.get(vid)
    if row is None:
        out.vendors[vid] = {"source": source, "handle_lc": lc, "handle": handle, "first_seen": seen,
                            "last_seen": seen, "capture_id": doc["capture_id"],
                            "capture_sha256": doc["capture_sha256"], "profile": facts}
    else:
        merge_vendor(row, seen, seen, facts)
    if source in sources:
        return
    vdoc = {**doc, "vendor": handle}
    out.events.append(_event(EventType.NEW_VENDOR, vdoc, f"{source}|{lc}", handle=handle))
    if sources:
        out.events.append(_event(EventType.VENDOR_NEW_MARKET, vdoc, f"{source}|{lc}", handle=handle,
                                 new_market=source, known_markets=sorted(sources)))
    sources.add(source)


def merge_vendor(row: dict[str, Any], first_seen: str, last_seen: str, profile: dict[str, Any] | None) -> None:
    """Fold a later sighting of ``row``'s vendor into it, as the store's vendor upsert does:
    the earliest first seen, the latest last seen, the last profile given; the first
    sighting's handle and capture stay. One rule for a batch (``plan``) and for the batches
    a pipelined load merges into one upsert (``sqlite._Upserts``)."""
    if first_seen < row["first_seen"]:
        row["first_seen"] = first_seen
    if last_seen > row["last_seen"]:
        row["last_seen"] = last_seen
    if profile is not None:
        row["profile"] = profile


def _identifiers(out: Plan, known: Known, doc: dict[str, Any], sid: str) -> None:
    for kind, value in doc["identifier_facts"]:
        out.sightings.append({"kind": kind, "value": value, "source": doc["source"], "key": doc["key"],
                              "vendor": doc.get("vendor"), "seen_at": doc["seen_at"], "snapshot_id": sid,
                              "capture_id": doc["capture_id"], "capture_sha256": doc["capture_sha256"]})
        if (kind, value) not in known.identifiers:
            known.identifiers.add((kind, value))
            out.events.append(_event(EventType.IDENTIFIER_FIRST_SEEN, doc, f"{kind}|{value}", kind=kind, value=value))


def removal_event(current: dict[str, Any], crawl_id: str, at: str, missed: int) -> ChangeEvent:
    doc = {**current, "seen_at": at}
    return _event(EventType.REMOVED, doc, f"{current['key']}|{crawl_id}", missed_crawls=missed,
                  last_seen=current.get("last_seen"))


