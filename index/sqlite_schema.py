"""Schema, migrations and the compact row codec of the SQLite store.

Layout since v2 (why: v1 stored the full document JSON on the current row *and* on every
snapshot, 5 KB per listing; most of it repeats from one crawl to the next):

``contents``  one row per (title, text, extraction facts) version of a listing; a
              snapshot whose content equals its listing's current one points at the same
              row, so an unchanged listing re-crawled costs one small ``snapshots`` row.
              (Deduplicated per listing, not globally: a global hash index is a random
              B-tree insert per listing, the costliest write of a bulk load.)
``snapshots`` one row per observation: the columns queries need (seen_at, price, vendor,
              usd_per_gram, capture) plus ``obs``, the JSON of the observation-specific
              rest (price_usd, crawl, sha256, first/last seen ...).
``docs``      the current listing/post: lower-cased filter columns, title/text (the FTS5
              external content) and ``snap``, the seq of the snapshot it is. The document
              a search returns is that snapshot with docs' live state (available, removed,
              missed, first/last seen) laid over it.
``docs_fts``  external-content FTS5 over docs(title, text), maintained by the store (no
              triggers: an unchanged text is not re-indexed on every crawl).

Migrations are append-only: a store at v1 is converted row by row in one transaction.

v3 drops the ``docs`` indexes on price, usd_per_gram and first_seen. Each is a B-tree
insert at a random position per new listing, which at a million listings means a dirty
page per row written back at every commit (measured: about a fifth of ingest time at
1M), while range filters on them are answered by the column snapshot, which the
store's own writes keep current. Without a snapshot (another process wrote) such a
range is a scan of ``docs``; ``docs_last`` stays for browsing newest-first.

v4 adds ``changelog``: every write that changes a ``docs`` row or its ``terms`` appends
the row's rid (an append at the end of a rowid table: no random page). A process that
did not make the write (``narcwatch serve`` beside the daemon's ingest) reads the rids
logged since its column snapshot was built and re-reads only those rows, instead of
answering from SQL until it could rebuild a million rows. The writer keeps the newest
``SqliteStore.changelog_keep`` entries; a reader that fell further behind rebuilds.

v5 adds ``bulk_load``, the record of a running bulk load (``SqliteStore.bulk_load``): the
first rid whose full text is indexed at its end and the SQL of the ``BULK_DEFERRED``
indexes it dropped. A store that still has the row when it opens (a crash mid-load)
recreates those indexes and indexes that text before anything else.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from typing import Any

from narcwatch.index.documents import dumps

__all__ = ["BULK_DEFERRED", "CONTENT_KEYS", "ContentWriter", "MIGRATIONS", "SCHEMA_VERSION", "content_body",
           "content_of", "decode_snapshot", "encode_snapshot", "split_sql"]

#: Keys of a document that describe *what* the listing is (deduplicated in ``contents``);
#: everything else describes one observation of it and stays on the snapshot row.
CONTENT_KEYS = ("key", "type", "source", "site_id", "url", "title", "text", "vendor", "category", "substances",
                "classes", "novel", "novel_substances", "cas", "wallets", "pgp", "identifiers", "identifier_facts",
                "ships_from", "ships_to", "text_hash")
_CONTENT = frozenset(CONTENT_KEYS)
#: Snapshot keys kept as columns (exact text) rather than in ``obs``.
_SNAP_COLUMNS = frozenset({"id", "seen_at", "price", "currency", "capture_id"})
_NOT_OBS = _CONTENT | _SNAP_COLUMNS

_V1 = """
    CREATE TABLE docs (
        rid INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, key_lc TEXT NOT NULL, type TEXT NOT NULL,
        source_lc TEXT NOT NULL, vendor_lc TEXT, category_lc TEXT, currency_lc TEXT, url_lc TEXT, capture_lc TEXT,
        title TEXT NOT NULL DEFAULT '', text TEXT NOT NULL DEFAULT '',
        price REAL, price_usd REAL, usd_per_gram REAL, usd_per_unit REAL,
        available INTEGER NOT NULL, novel INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0,
        missed INTEGER NOT NULL DEFAULT 0, last_crawl TEXT NOT NULL DEFAULT '',
        first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, doc TEXT NOT NULL
    );
    CREATE INDEX docs_key_lc ON docs(key_lc);
    CREATE INDEX docs_source ON docs(source_lc, removed);
    CREATE INDEX docs_vendor ON docs(vendor_lc, first_seen);
    CREATE INDEX docs_ppg ON docs(usd_per_gram) WHERE usd_per_gram IS NOT NULL;
    CREATE INDEX docs_price ON docs(price) WHERE price IS NOT NULL;
    CREATE INDEX docs_first ON docs(first_seen);
    CREATE INDEX docs_last ON docs(last_seen);
    CREATE TABLE terms (f TEXT NOT NULL, v TEXT NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY (f, v, rid)) WITHOUT ROWID;
    CREATE INDEX terms_rid ON terms(rid);
    CREATE VIRTUAL TABLE docs_fts USING fts5(title, text, content='docs', content_rowid='rid',
                                             tokenize='unicode61 remove_diacritics 2');
    CREATE TRIGGER docs_ai AFTER INSERT ON docs BEGIN
        INSERT INTO docs_fts(rowid, title, text) VALUES (new.rid, new.title, new.text); END;
    CREATE TRIGGER docs_ad AFTER DELETE ON docs BEGIN
        INSERT INTO docs_fts(docs_fts, rowid, title, text) VALUES ('delete', old.rid, old.title, old.text); END;
    CREATE TRIGGER docs_au AFTER UPDATE OF title, text ON docs BEGIN
        INSERT INTO docs_fts(docs_fts, rowid, title, text) VALUES ('delete', old.rid, old.title, old.text);
        INSERT INTO docs_fts(rowid, title, text) VALUES (new.rid, new.title, new.text); END;
    CREATE TABLE snapshots (
        id TEXT PRIMARY KEY, key TEXT NOT NULL, crawl_id TEXT NOT NULL, seen_at TEXT NOT NULL,
        price TEXT, currency TEXT, usd_per_gram REAL, usd_per_unit REAL, available INTEGER NOT NULL,
        vendor_lc TEXT, capture_id TEXT NOT NULL, capture_sha256 TEXT NOT NULL, doc TEXT NOT NULL
    );
    CREATE INDEX snapshots_key ON snapshots(key, seen_at);
    CREATE INDEX snapshots_vendor ON snapshots(vendor_lc, seen_at);
    CREATE TABLE vendors (
        source TEXT NOT NULL, handle_lc TEXT NOT NULL, handle TEXT NOT NULL, first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL, capture_id TEXT NOT NULL, capture_sha256 TEXT NOT NULL, profile TEXT,
        PRIMARY KEY (handle_lc, source)
    );
    CREATE TABLE identifiers (
        kind TEXT NOT NULL, value TEXT NOT NULL, source TEXT NOT NULL, key TEXT NOT NULL, vendor_lc TEXT,
        first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, first_capture_id TEXT NOT NULL,
        first_capture_sha256 TEXT NOT NULL, last_capture_id TEXT NOT NULL, last_capture_sha256 TEXT NOT NULL,
        sightings INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (value, kind, source, key)
    );
    CREATE INDEX identifiers_vendor ON identifiers(vendor_lc);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, at TEXT NOT NULL, source TEXT NOT NULL,
        listing_key TEXT, vendor TEXT, capture_id TEXT NOT NULL, capture_sha256 TEXT NOT NULL, details TEXT NOT NULL
    );
    CREATE INDEX events_at ON events(at);
    CREATE INDEX events_key ON events(listing_key);
    CREATE TABLE alerts (id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, created_at TEXT NOT NULL, status TEXT NOT NULL,
                         body TEXT NOT NULL);
    CREATE TABLE crawls (source TEXT NOT NULL, crawl_id TEXT NOT NULL, complete INTEGER NOT NULL, at TEXT NOT NULL,
                         PRIMARY KEY (source, crawl_id));
"""

_V2_TABLES = """
    DROP TRIGGER docs_ai;
    DROP TRIGGER docs_ad;
    DROP TRIGGER docs_au;
    CREATE TABLE contents (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE snapshots2 (
        seq INTEGER PRIMARY KEY, id BLOB NOT NULL, rid INTEGER NOT NULL, seen_at TEXT NOT NULL,
        vendor_lc TEXT, price TEXT, currency TEXT, usd_per_gram REAL, capture_id TEXT NOT NULL,
        content INTEGER NOT NULL, obs TEXT NOT NULL
    );
    ALTER TABLE docs ADD COLUMN snap INTEGER NOT NULL DEFAULT 0;
"""
_V2_FINISH = """
    DROP TABLE snapshots;
    ALTER TABLE snapshots2 RENAME TO snapshots;
    CREATE INDEX snapshots_rid ON snapshots(rid, seen_at, id);  -- history order; ids known per listing
    CREATE INDEX snapshots_vendor ON snapshots(vendor_lc, seen_at);
    ALTER TABLE docs DROP COLUMN doc;
    INSERT INTO docs_fts(docs_fts, rank) VALUES ('rank', 'bm25(4.0, 1.0)');
"""


def content_of(doc: dict[str, Any]) -> tuple[bytes, str]:
    """(16-byte hash, JSON) of the content part of a document or snapshot."""
    body = content_body(doc)
    return content_hash(body), body


def content_body(doc: dict[str, Any]) -> str:
    """The JSON of the content part of a document or snapshot (what ``contents`` stores)."""
    return dumps({k: doc[k] for k in CONTENT_KEYS if k in doc})


def content_hash(body: str) -> bytes:
    return hashlib.sha256(body.encode()).digest()[:16]


def encode_snapshot(snap: dict[str, Any], rid: int, seq: int, content: int) -> tuple[Any, ...]:
    """The ``snapshots`` row for a planned snapshot dict whose content row is ``content``."""
    obs = {k: v for k, v in snap.items() if k not in _NOT_OBS}
    price = snap.get("price")
    ppg = snap.get("usd_per_gram")
    vendor = snap.get("vendor")
    return (seq, bytes.fromhex(snap["id"]), rid, snap["seen_at"],
            vendor.lower() if isinstance(vendor, str) and snap.get("type") == "listing" else None,
            None if price is None else str(price), snap.get("currency"), None if ppg is None else float(ppg),
            snap.get("capture_id") or "", content, dumps(obs))


class ContentWriter:
    """Assigns content ids, reusing a listing's current content row when it did not change
    (compared as JSON text: cheaper than hashing every new listing of a bulk load)."""

    def __init__(self, next_id: int):
        self.next_id = next_id  # the next free content id (the caller keeps count)
        self.current: dict[int, tuple[str, int]] = {}  # rid -> (body, content id)
        self.rows: list[tuple[int, str]] = []

    def known(self, rid: int, body: str, content: int) -> None:
        self.current[rid] = (body, content)

    def id_for(self, rid: int, doc: dict[str, Any], body: str | None = None) -> int:
        """The content id for ``doc`` (``body``: its ``content_body`` if built already)."""
        if body is None:
            body = content_body(doc)
        cur = self.current.get(rid)
        if cur is not None and (cur[0] == body or "\\u" in cur[0] and _same_json(cur[0], body)):
            return cur[1]
        cid, self.next_id = self.next_id, self.next_id + 1
        self.rows.append((cid, body))
        self.current[rid] = (body, cid)
        return cid


def _same_json(a: str, b: str) -> bool:
    """Two content bodies that differ as text but not as JSON (a store written by an older
    ``dumps`` escaped non-ASCII text as ``\\uXXXX``; the current one writes UTF-8)."""
    return bool(json.loads(a) == json.loads(b))


def decode_snapshot(sid: bytes, seen_at: str, price: str | None, currency: str | None, capture_id: str,
                    body: str, obs: str) -> dict[str, Any]:
    """The snapshot dict as planned (``changes.plan``), from its row and content."""
    d: dict[str, Any] = json.loads(body)
    d.update(json.loads(obs))
    d.update(id=sid.hex(), seen_at=seen_at, price=price, currency=currency, capture_id=capture_id)
    return d


def _v2(db: sqlite3.Connection) -> None:
    """v1 -> v2: snapshots become (content, observation) rows; docs point at theirs."""
    for stmt in split_sql(_V2_TABLES):
        db.execute(stmt)
    rid_of = dict(db.execute("SELECT key, rid FROM docs"))
    seq = 0
    snap_of: dict[str, int] = {}
    contents = ContentWriter(1)  # ``contents`` was created empty just above
    rows = db.execute("SELECT doc FROM snapshots ORDER BY key, seen_at, id")
    while batch := rows.fetchmany(2000):
        out = []
        for (doc,) in batch:
            s = json.loads(doc)
            rid = rid_of.get(s.get("key"))
            if rid is None:  # a snapshot whose listing is gone cannot be reached by any read
                continue
            seq += 1
            out.append(encode_snapshot(s, rid, seq, contents.id_for(rid, s)))
            snap_of[s["id"]] = seq
        db.executemany("INSERT INTO contents (id, body) VALUES (?,?)", contents.rows)
        contents.rows.clear()
        db.executemany("INSERT INTO snapshots2 VALUES (?,?,?,?,?,?,?,?,?,?,?)", out)
    for rid, doc in db.execute("SELECT rid, doc FROM docs").fetchall():
        d = json.loads(doc)
        sid = d.get("snapshot_id")
        if sid not in snap_of:  # never written by v1, but a doc must point at a snapshot: make it one
            seq += 1
            sid = sid or f"{rid:032x}"
            row = encode_snapshot({**d, "id": sid, "snapshot_id": sid}, rid, seq, contents.id_for(rid, d))
            db.executemany("INSERT INTO contents (id, body) VALUES (?,?)", contents.rows)
            contents.rows.clear()
            db.execute("INSERT INTO snapshots2 VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
            snap_of[sid] = seq
        db.execute("UPDATE docs SET snap = ? WHERE rid = ?", (snap_of[sid], rid))
    for stmt in split_sql(_V2_FINISH):
        db.execute(stmt)


_V3 = """
    DROP INDEX IF EXISTS docs_price;
    DROP INDEX IF EXISTS docs_ppg;
    DROP INDEX IF EXISTS docs_first;
"""

_V4 = """
    CREATE TABLE changelog (seq INTEGER PRIMARY KEY, rid INTEGER NOT NULL);
"""

_V5 = """
    CREATE TABLE bulk_load (id INTEGER PRIMARY KEY CHECK (id = 1), fts_from INTEGER NOT NULL, indexes TEXT NOT NULL,
                            started_at TEXT NOT NULL);
"""
#: Secondary indexes a bulk load drops and recreates at its end: ingest's lookups never read
#: them, and each is a B-tree insert at a random position per new listing.
BULK_DEFERRED = ("docs_key_lc", "docs_vendor", "docs_last", "snapshots_vendor", "events_at", "events_key",
                 "identifiers_vendor")

Migration = str | Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = [_V1, _v2, _V3, _V4, _V5]
SCHEMA_VERSION = len(MIGRATIONS)


def apply(db: sqlite3.Connection, migration: Migration) -> None:
    if callable(migration):
        migration(db)
        return
    for stmt in split_sql(migration):
        db.execute(stmt)


def split_sql(script: str) -> list[str]:
    """Split a migration on statement ends, keeping trigger bodies (BEGIN ... END;) whole."""
    out, buf = [], []  # type: ignore[var-annotated]
    for part in script.split(";"):
        buf.append(part)
        stmt = ";".join(buf).strip()
        if not stmt:
            buf = []
            continue
        if sqlite3.complete_statement(stmt + ";"):
            out.append(stmt)
            buf = []
    return out
