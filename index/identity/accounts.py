"""Vendor accounts read from the store: one per (source, handle), with what links them.

An account is what a site shows: a market vendor page, a forum author, a Telegram
channel. It carries the identifiers seen on its pages (each with the capture it came
from), the free text it wrote (for phrasing evidence) and its product line and price
levels. Reading is a read-only pass over the SQLite store (documents decoded by the
store's own code, ``storedocs``), so identity resolution never takes the writer's lock.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from collections.abc import Iterable
from typing import Any

from narcwatch.index.identity.storedocs import iter_current_documents

__all__ = ["Account", "Sighting", "account_id", "load_accounts"]

_MAX_TEXTS = 40  # texts kept per account for phrasing evidence (bounded work per account)
_MAX_TEXT_CHARS = 4000


def account_id(source: str, handle: str) -> str:
    """Stable account id: ``source/handle`` with the handle lower-cased as the store keys it."""
    return f"{source}/{handle.strip().lower()}"


@dataclass(frozen=True)
class Sighting:
    """Where an identifier was seen: enough to show an investigator the capture."""

    kind: str
    value: str
    key: str
    first_seen: str
    last_seen: str
    capture_id: str
    capture_sha256: str


@dataclass
class Account:
    source: str
    handle: str
    first_seen: str = ""
    last_seen: str = ""
    capture_id: str = ""
    capture_sha256: str = ""
    pgp_key: str | None = None
    identifiers: dict[tuple[str, str], list[Sighting]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    substances: dict[str, int] = field(default_factory=dict)
    classes: set[str] = field(default_factory=set)
    ships_from: set[str] = field(default_factory=set)
    ships_to: set[str] = field(default_factory=set)
    usd_per_gram: dict[str, list[float]] = field(default_factory=dict)  # substance -> observations
    usd_per_unit: dict[str, list[float]] = field(default_factory=dict)
    listings: int = 0
    posts: int = 0
    vendor_page: bool = False  # the store has a vendor row for it (listings or a profile page)

    @property
    def is_vendor(self) -> bool:
        """Sells here (listings or a vendor page), as opposed to only posting."""
        return self.listings > 0 or self.vendor_page

    @property
    def id(self) -> str:
        return account_id(self.source, self.handle)

    def price_levels(self) -> dict[str, float]:
        """Median USD per gram (or per unit, suffixed ``/u``) per substance."""
        out = {s: median(v) for s, v in self.usd_per_gram.items() if v}
        out.update({f"{s}/u": median(v) for s, v in self.usd_per_unit.items() if v})
        return out


def _ro(path: str | Path) -> sqlite3.Connection:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no store at {p}")
    return sqlite3.connect(f"file:{p}?mode=ro", uri=True, check_same_thread=False)


def store_path(store: Any) -> Path:
    """The SQLite file behind ``store`` (a path or a ``SqliteStore``)."""
    if isinstance(store, (str, Path)):
        return Path(store)
    path = getattr(store, "path", None)
    if getattr(store, "backend", "sqlite") != "sqlite" or path is None:
        raise ValueError("not a SQLite store: pass the store object, load_accounts reads either backend")
    return Path(path)


def load_accounts(store: Any) -> dict[str, Account]:
    """Every vendor account in the store, keyed by ``account_id``.

    ``store`` is a SQLite store or its path (read-only, without the writer's lock) or a
    ``SearchEngineStore`` (Elasticsearch/OpenSearch: read by scrolling its vendors,
    items and identifier sightings). Both give the same accounts for the same ingest.
    """
    if getattr(store, "backend", "sqlite") != "sqlite":
        from narcwatch.index.identity.engine import engine_rows

        return build_accounts(*engine_rows(store))
    db = _ro(store_path(store))
    try:
        return build_accounts(*_sqlite_rows(db))
    finally:
        db.close()


VendorRow = tuple[str, str, str, str, str, str, Any]  # source, handle, first, last, capture id, sha256, profile
SightingRow = tuple[str, str, str, str, str, str, str, str, str]  # kind, value, source, key, vendor_lc, first, last, cap, sha


def _sqlite_rows(db: sqlite3.Connection) -> tuple[Iterable[VendorRow], Iterable[tuple[str, dict[str, Any]]],
                                                  Iterable[SightingRow]]:
    vendors = db.execute("SELECT source, handle, first_seen, last_seen, capture_id, capture_sha256, profile FROM vendors "
                         "ORDER BY source, handle_lc").fetchall()
    docs = iter_current_documents(db, with_vendor=True)
    sightings = db.execute(
        """SELECT kind, value, source, key, vendor_lc, first_seen, last_seen, first_capture_id,
                  first_capture_sha256 FROM identifiers WHERE vendor_lc IS NOT NULL AND vendor_lc != ''
           ORDER BY first_seen, key""")
    return vendors, docs, sightings


def _get(accounts: dict[str, Account], source: str, handle: str) -> Account:
    aid = account_id(source, handle)
    acc = accounts.get(aid)
    if acc is None:
        acc = accounts[aid] = Account(source=source, handle=handle.strip())
    return acc


def build_accounts(vendors: Iterable[VendorRow], documents: Iterable[tuple[str, dict[str, Any]]],
                   sightings: Iterable[SightingRow]) -> dict[str, Account]:
    """Accounts from a backend's vendor rows, current ``(type, document)`` pairs and identifier sightings."""
    accounts: dict[str, Account] = {}
    for source, handle, first, last, cap, sha, profile in vendors:
        acc = _get(accounts, source, handle)
        acc.first_seen, acc.last_seen, acc.capture_id, acc.capture_sha256 = first, last, cap, sha
        acc.vendor_page = True
        prof = profile if isinstance(profile, dict) else _json(profile)
        if isinstance(prof, dict):
            acc.pgp_key = prof.get("pgp_key") if isinstance(prof.get("pgp_key"), str) else None
            desc = prof.get("description")
            if isinstance(desc, str) and desc.strip():
                acc.texts.append(desc[:_MAX_TEXT_CHARS])
    # Current documents: product line, prices, places, free text; posts make forum/channel accounts.
    for dtype, d in documents:
        if not isinstance(d.get("vendor"), str) or not isinstance(d.get("source"), str):
            continue
        acc = _get(accounts, d["source"], d["vendor"])
        seen = str(d.get("first_seen") or d.get("seen_at") or "")
        last = str(d.get("last_seen") or d.get("seen_at") or "")
        if seen and (not acc.first_seen or seen < acc.first_seen):
            acc.first_seen = seen
            if not acc.capture_id:
                acc.capture_id, acc.capture_sha256 = str(d.get("capture_id") or ""), str(d.get("capture_sha256") or "")
        acc.last_seen = max(acc.last_seen, last)
        if dtype == "listing":
            acc.listings += 1
        else:
            acc.posts += 1
        text = d.get("text")
        if isinstance(text, str) and text.strip() and len(acc.texts) < _MAX_TEXTS:
            acc.texts.append(text[:_MAX_TEXT_CHARS])
        subs = [s for s in d.get("substances") or [] if isinstance(s, str)]
        for s in subs:
            acc.substances[s] = acc.substances.get(s, 0) + 1
        acc.classes.update(c for c in d.get("classes") or [] if isinstance(c, str))
        acc.ships_from.update(c for c in d.get("ships_from") or [] if isinstance(c, str))
        acc.ships_to.update(c for c in d.get("ships_to") or [] if isinstance(c, str))
        if len(subs) == 1:  # a price level belongs to one product; a multi-product page is ambiguous
            for fld, target in (("usd_per_gram", acc.usd_per_gram), ("usd_per_unit", acc.usd_per_unit)):
                v = _positive(d.get(fld))
                if v is not None:
                    target.setdefault(subs[0], []).append(v)
    handles: dict[tuple[str, str], str] = {(a.source, a.handle.lower()): a.handle for a in accounts.values()}
    for kind, value, source, key, vendor_lc, first, last, cap, sha in sightings:
        handle = handles.get((source, vendor_lc), vendor_lc)
        acc = _get(accounts, source, handle)
        acc.identifiers.setdefault((kind, value), []).append(Sighting(kind, value, key, first, last, cap, sha))
        if not acc.first_seen or first < acc.first_seen:
            acc.first_seen = first
        acc.last_seen = max(acc.last_seen, last)
    return accounts


def _positive(value: Any) -> float | None:
    """A price level from a document: the store keeps Decimals as strings (``"17.0000"``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        v = float(value)
    except ValueError:
        return None
    return v if 0 < v < 1e12 else None  # also drops nan and inf


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def group_by(accounts: dict[str, Account], kinds: set[str]) -> dict[tuple[str, str], list[str]]:
    """Identifier (kind, value) -> account ids showing it, for the kinds given."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for aid, acc in accounts.items():
        for kv in acc.identifiers:
            if kv[0] in kinds or kv[0].split(":", 1)[0] in kinds:
                out[kv].append(aid)
    return out
