"""Re-extraction: replay what the index holds through the current pipeline.

A lexicon update (a new nitazene, a new street name) should find last year's listings,
not only tomorrow's. Re-parsing every captured page with its source's spider would be
heavy and would need the spider of the day; the stored documents already hold the text
the spider read, and each cites its capture (``capture_id`` + ``capture_sha256``). So
``reextract`` reads each current document, checks that its capture still hashes right in
the evidence archive (manifest entry, WARC record, payload SHA-256), runs the text
through the current pipeline and writes the new extracted fields back.

A substance the stored extraction did not have is *retroactive*: its mention is marked
``retroactive=True``, the document lists it in ``retroactive_substances``, and an event
is recorded so alert rules fire on it - ``NOVEL_SUBSTANCE`` for a novel candidate (the
same event id ingest would have used, so it never fires twice) and ``RETROACTIVE_MATCH``
for a known substance. Event ids are derived from (key, substance): a second run finds
nothing new and records nothing.

The observed price, currency and the observation history (snapshots, first/last seen)
stay as captured: they were read from the page's structure, which this replay does not
see. What is derived from them is recomputed: the offers and their USD values, converted
at the rate of each document's own capture day (``rates``: the page's displayed rate
first, then the rates files), so configuring rates files fills USD for documents
ingested before there were any. A USD value the replay cannot compute (no rate) keeps
the stored one rather than erasing it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

from narcwatch.crawler.evidence.manifest import Manifest
from narcwatch.crawler.evidence.verify import read_payload
from narcwatch.crawler.models import Money
from narcwatch.extract.models import Extraction, IdentifierKind
from narcwatch.extract.pipeline import extract_many
from narcwatch.extract.rates import RateProvider
from narcwatch.index.documents import MASS_UNITS, offer_rows, parse_iso, stable_id
from narcwatch.index.documents import _per_gram, _per_piece, _round  # the same rules as at ingest
from narcwatch.index.models import ChangeEvent, EventType

__all__ = ["ReextractStats", "ReextractStore", "extracted_fields", "reextract"]

log = logging.getLogger(__name__)

Extractor = Callable[[Sequence[tuple[str, str] | tuple[str, str, dict[str, Any]]]], Iterable[Extraction]]


class ReextractStore(Protocol):
    """What a backend offers for re-extraction (``SqliteStore`` has it)."""

    def iter_documents(self, batch: int = 500) -> Iterator[dict[str, Any]]: ...

    def update_extractions(self, docs: Sequence[dict[str, Any]], events: Sequence[ChangeEvent] = ()) -> int: ...


@dataclass
class ReextractStats:
    documents: int = 0
    verified: int = 0
    updated: int = 0
    retroactive: int = 0  # substance matches new compared to the stored extraction
    events: int = 0
    usd_filled: int = 0  # listings that had no USD per gram and have one now
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> documents left as they were

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _dedupe(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def extracted_fields(ext: Extraction) -> dict[str, Any]:
    """The document fields that come from text extraction alone (as ``item_document``)."""
    pgp_kinds = {IdentifierKind.PGP_FINGERPRINT}
    facts = [(f"wallet:{w.chain.upper()}", w.address) for w in ext.wallets]
    facts += [(i.kind.value, i.value.replace(" ", "").upper() if i.kind in pgp_kinds else i.value)
              for i in ext.identifiers]
    facts = list(dict.fromkeys((k, v.strip()) for k, v in facts if v and v.strip()))
    return {
        "substances": _dedupe(s.canonical for s in ext.substances),
        "classes": ext.classes,
        "novel": any(s.novel for s in ext.substances),
        "novel_substances": _dedupe(s.canonical for s in ext.substances if s.novel),
        "cas": _dedupe([c.value for c in ext.cas] + [s.cas for s in ext.substances]),
        "wallets": _dedupe(w.address for w in ext.wallets),
        "pgp": _dedupe(i.value.replace(" ", "").upper() for i in ext.identifiers if i.kind in pgp_kinds),
        "identifiers": _dedupe(v for _, v in facts),
        "identifier_facts": [list(f) for f in facts],
    }


class _Verifier:
    """Checks a document's capture against the archive, one manifest look-up each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest = Manifest(root / "manifest.sqlite")

    def problem(self, doc: dict[str, Any]) -> str | None:
        cid, sha = doc.get("capture_id") or "", doc.get("capture_sha256") or ""
        if not cid:
            return "no capture cited"
        cap = self.manifest.get(cid)
        if cap is None:
            return "capture not in manifest"
        if cap.sha256 != sha:
            return "cited sha256 differs from manifest"
        try:
            payload, headers = read_payload(self.root, cap)
        except FileNotFoundError:
            return "WARC file missing"
        except Exception as exc:  # a corrupt record is reported, never fatal to the replay
            return f"unreadable record ({type(exc).__name__})"
        if headers.get("X-Narcwatch-Capture") != cid or hashlib.sha256(payload).hexdigest() != sha:
            return "capture no longer hashes right"
        return None

    def close(self) -> None:
        self.manifest.close()


def _text(doc: dict[str, Any]) -> str:
    """What ingest's ``item_text`` read: title, the displayed tiers, the text."""
    tiers = doc.get("tiers") if isinstance(doc.get("tiers"), list) else []
    line = " | ".join(f"{t.get('quantity')} {t.get('price')} {t.get('currency')}" for t in tiers if isinstance(t, dict))
    return "\n".join(p for p in (doc.get("title") or "", line, doc.get("text") or "") if p)


def _context(doc: dict[str, Any], rates: RateProvider | None) -> dict[str, Any]:
    """Per-document extraction context: its capture day, its displayed price, the rates."""
    seen = parse_iso(doc.get("seen_at")) if isinstance(doc.get("seen_at"), str) else None
    ctx: dict[str, Any] = {"capture_date": seen.date() if seen else None, "rates": rates}
    price, cur = doc.get("price"), doc.get("currency")
    if price is not None and isinstance(cur, str) and cur:
        try:
            ctx["fields"] = {"price": Money(amount=Decimal(str(price)), currency=cur)}
        except (InvalidOperation, ValueError):
            pass  # a stored price that is no longer a price: the text alone decides
    return ctx


def _default_extractor(items: Sequence[tuple[str, str] | tuple[str, str, dict[str, Any]]]) -> Iterable[Extraction]:
    return extract_many(list(items))


def price_fields(doc: dict[str, Any], ext: Extraction) -> dict[str, Any]:
    """The USD fields derived from ``ext.offers`` and the observed price (as ``item_document``);
    a value that cannot be computed now keeps the stored one."""
    per_gram = [g for g in (_per_gram(o) for o in ext.offers) if g is not None and g > 0]
    per_piece = [p for p in (_per_piece(o) for o in ext.offers) if p is not None and p > 0]
    price, cur = doc.get("price"), (doc.get("currency") or "").upper()
    price_usd = None
    try:
        amount = Decimal(str(price)) if price is not None else None
    except (InvalidOperation, ValueError):
        amount = None
    if amount is not None and cur == "USD":
        price_usd = amount
        masses = [o for o in ext.offers if (o.unit or "").lower() in MASS_UNITS and o.quantity]
        if len(masses) == 1:
            grams = masses[0].quantity * MASS_UNITS[(masses[0].unit or "").lower()]  # type: ignore[operator]
            if grams > 0:
                per_gram.append(amount / grams)
    elif amount is not None:
        same = [o.usd for o in ext.offers if o.usd is not None and o.price == amount and (o.currency or "").upper() == cur]
        price_usd = same[0] if same else None
    new = {"price_usd": _round(price_usd), "usd_per_gram": _round(min(per_gram)) if per_gram else None,
           "usd_per_unit": _round(min(per_piece)) if per_piece else None}
    out = {k: v if v is not None else doc.get(k) for k, v in new.items()}
    if ext.offers:
        out["offers"] = offer_rows(ext.offers)
    return out


def _events(doc: dict[str, Any], new: list[str], novel: set[str], at: datetime) -> list[ChangeEvent]:
    out = []
    for canonical in new:
        etype = EventType.NOVEL_SUBSTANCE if canonical in novel else EventType.RETROACTIVE_MATCH
        anchor = f"{doc['key']}|{canonical}"  # NOVEL_SUBSTANCE: the id ingest would have given it
        out.append(ChangeEvent(
            id=stable_id(etype.value, anchor), type=etype, at=at, source=doc.get("source") or "",
            listing_key=doc.get("key"), vendor=doc.get("vendor"), capture_id=doc.get("capture_id") or "",
            capture_sha256=doc.get("capture_sha256") or "",
            details={"substance": canonical, "classes": doc.get("classes", []), "retroactive": True,
                     "first_seen": doc.get("first_seen"), "last_seen": doc.get("last_seen")},
        ))
    return out


def reextract(store: ReextractStore, evidence_root: str | Path | None, *, verify: bool = True,
              extractor: Extractor | None = None, batch: int = 200, dry_run: bool = False,
              now: datetime | None = None, rates: RateProvider | None = None) -> ReextractStats:
    """Re-extract every current document; returns what happened.

    ``verify`` (the default) skips a document whose capture is missing or no longer hashes
    right: a fact the index asserts must rest on evidence that still checks out.
    ``rates`` (``extract.rates.load_rates``) converts prices the page gave no rate for.
    """
    if verify and evidence_root is None:
        raise ValueError("verify needs the evidence archive root")
    run = extractor or _default_extractor
    at = now or datetime.now(timezone.utc)
    stats = ReextractStats()
    verifier = _Verifier(Path(evidence_root)) if verify and evidence_root is not None else None
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if not pending:
            return
        results = list(run([(d["key"], _text(d), _context(d, rates)) for d in pending]))
        docs, events = [], []
        for doc, ext in zip(pending, results, strict=True):
            before = set(doc.get("substances") or [])
            fields = extracted_fields(ext)
            new = [c for c in fields["substances"] if c not in before]
            for m in ext.substances:
                if m.canonical in new:
                    m.retroactive = True
            novel = {m.canonical for m in ext.substances if m.novel}
            if doc.get("type", "listing") == "listing":
                fields.update(price_fields(doc, ext))
                stats.usd_filled += int(doc.get("usd_per_gram") is None and fields.get("usd_per_gram") is not None)
            updated = {**doc, **fields,
                       "retroactive_substances": _dedupe([*(doc.get("retroactive_substances") or []), *new]),
                       "reextracted_at": at.isoformat(), "pipeline_version": ext.pipeline_version}
            docs.append(updated)
            events += _events(updated, new, novel, at)
            stats.retroactive += len(new)
        stats.events += len(events)
        stats.updated += len(docs) if dry_run else store.update_extractions(docs, events)
        pending.clear()

    try:
        for doc in store.iter_documents():
            stats.documents += 1
            if verifier is not None:
                problem = verifier.problem(doc)
                if problem is not None:
                    log.warning("reextract: %s skipped: %s", doc.get("key"), problem)
                    stats.skip(problem)
                    continue
                stats.verified += 1
            pending.append(doc)
            if len(pending) >= batch:
                flush()
        flush()
    finally:
        if verifier is not None:
            verifier.close()
    return stats
