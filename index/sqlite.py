"""The embedded SQLite backend: one file, WAL, FTS5 with bm25, versioned schema.

Tables: ``docs`` (current listing/post; lower-cased filter columns + the full document
as JSON), ``terms`` (multi-valued keyword fields), ``docs_fts`` (external-content FTS5 over
docs.title/docs.text, kept in step by triggers), ``snapshots`` (every observed version),
``vendors`` (per source + handle), ``identifiers`` (kind/value sightings per listing),
``events``, ``alerts``, ``crawls``. Every fact row carries capture_id + capture_sha256.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from narcwatch.index.changes import Known, Plan, plan, removal_event
from narcwatch.index.documents import dumps, iso
from narcwatch.index.models import Alert, ChangeEvent
from narcwatch.index.query import And, ParsedQuery, Text, parse
from narcwatch.index.results import (
    HL_END, HL_START, FacetCount, ListingHistory, SearchHit, SearchResult, Trends, VendorReport, parse_sort,
)
from narcwatch.index.sql_compiler import KEYWORD_COLUMNS, MULTI_FIELDS, NUMBER_COLUMNS, compile_sql, fts_expression
from narcwatch.index.store import IngestItem

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

_MIGRATIONS: list[str] = [
    # v1
    """
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
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)
_CHUNK = 400  # bound parameters per IN (...) list


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _lc(v: str | None) -> str | None:
    return v.lower() if isinstance(v, str) else None


class SqliteStore:
    """``Store`` over one SQLite file. Thread-safe by a lock (one writer at a time anyway)."""

    backend = "sqlite"

    def __init__(self, path: str | Path, *, removed_after: int = 2):
        self.path = Path(path)
        self.removed_after = removed_after
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA cache_size=-65536")
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._migrate()

    # --- schema ----------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema v{version}, newer than this narcwatch (v{SCHEMA_VERSION})")
            for i in range(version, SCHEMA_VERSION):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for stmt in _split_sql(_MIGRATIONS[i]):
                        self._db.execute(stmt)
                    self._db.execute(f"PRAGMA user_version={i + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # --- ingest ----------------------------------------------------------------------

    def _known(self, batch: Sequence[IngestItem]) -> Known:
        from narcwatch.index.changes import snapshot_id

        known = Known()
        keys, sids, handles, values = set(), set(), set(), set()
        for item, ext in batch:
            keys.add(item.key)
            sids.add(snapshot_id(item.key, item.crawl_id, iso(item.seen_at)))
            h = getattr(item, "vendor", None) or getattr(item, "handle", None)
            if h:
                handles.add(h.strip().lower())
            if ext is not None:
                values.update(w.address.strip() for w in ext.wallets)
                values.update(i.value.replace(" ", "").upper() if i.kind.value == "pgp_fingerprint" else i.value.strip()
                              for i in ext.identifiers)
        db = self._db
        for chunk in _chunks(sorted(sids)):
            q = f"SELECT id FROM snapshots WHERE id IN ({','.join('?' * len(chunk))})"
            known.snapshots.update(r[0] for r in db.execute(q, chunk))
        for chunk in _chunks(sorted(keys)):
            q = f"SELECT doc, removed, missed FROM docs WHERE key IN ({','.join('?' * len(chunk))})"
            for doc, removed, missed in db.execute(q, chunk):
                d = json.loads(doc)
                d["removed"], d["missed"] = bool(removed), missed
                known.current[d["key"]] = d
        for chunk in _chunks(sorted(handles)):
            q = f"SELECT handle_lc, source FROM vendors WHERE handle_lc IN ({','.join('?' * len(chunk))})"
            for lc, src in db.execute(q, chunk):
                known.vendor_sources.setdefault(lc, set()).add(src)
        for chunk in _chunks(sorted(values)):
            q = f"SELECT DISTINCT kind, value FROM identifiers WHERE value IN ({','.join('?' * len(chunk))})"
            known.identifiers.update((k, v) for k, v in db.execute(q, chunk))
        return known

    def ingest(self, batch: Sequence[IngestItem]) -> list[ChangeEvent]:
        if not batch:
            return []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                p = plan(batch, self._known(batch))
                self._write(p)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return p.events

    def _write(self, p: Plan) -> None:
        db = self._db
        rows = []
        for d in p.docs.values():
            rows.append((d["key"], d["key"].lower(), d["type"], d["source"].lower(), _lc(d["vendor"]),
                         _lc(d["category"]), _lc(d["currency"]), d["url"].lower(), _lc(d["capture_id"]),
                         d["title"] or "", d["text"] or "", _f(d["price"]), _f(d["price_usd"]),
                         _f(d["usd_per_gram"]), _f(d["usd_per_unit"]), int(d["available"]), int(d["novel"]),
                         d["crawl_id"], d["first_seen"], d["last_seen"], dumps(d)))
        db.executemany(
            """INSERT INTO docs (key, key_lc, type, source_lc, vendor_lc, category_lc, currency_lc, url_lc, capture_lc,
                   title, text, price, price_usd, usd_per_gram, usd_per_unit, available, novel, removed, missed,
                   last_crawl, first_seen, last_seen, doc)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,0,?,?,?,?)
               ON CONFLICT(key) DO UPDATE SET type=excluded.type, source_lc=excluded.source_lc,
                   vendor_lc=excluded.vendor_lc, category_lc=excluded.category_lc, currency_lc=excluded.currency_lc,
                   url_lc=excluded.url_lc, capture_lc=excluded.capture_lc, title=excluded.title, text=excluded.text,
                   price=excluded.price, price_usd=excluded.price_usd, usd_per_gram=excluded.usd_per_gram,
                   usd_per_unit=excluded.usd_per_unit, available=excluded.available, novel=excluded.novel,
                   removed=0, missed=0, last_crawl=excluded.last_crawl, first_seen=excluded.first_seen,
                   last_seen=excluded.last_seen, doc=excluded.doc""", rows)
        if p.docs:
            rid_of: dict[str, int] = {}
            keys = list(p.docs)
            for chunk in _chunks(keys):
                q = f"SELECT key, rid FROM docs WHERE key IN ({','.join('?' * len(chunk))})"
                rid_of.update(db.execute(q, chunk))
            db.executemany("DELETE FROM terms WHERE rid = ?", [(rid_of[k],) for k in keys])
            db.executemany("INSERT OR IGNORE INTO terms (f, v, rid) VALUES (?,?,?)",
                           [(f, v.lower(), rid_of[k]) for k, d in p.docs.items() for f in MULTI_FIELDS
                            for v in d.get(f) or () if isinstance(v, str)])
        db.executemany(
            """INSERT OR IGNORE INTO snapshots (id, key, crawl_id, seen_at, price, currency, usd_per_gram,
                   usd_per_unit, available, vendor_lc, capture_id, capture_sha256, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            [(s["id"], s["key"], s["crawl_id"], s["seen_at"], None if s["price"] is None else str(s["price"]),
              s["currency"], _f(s["usd_per_gram"]), _f(s["usd_per_unit"]), int(s["available"]), _lc(s["vendor"]) if s["type"] == "listing" else None,
              s["capture_id"], s["capture_sha256"], dumps(s)) for s in p.snapshots])
        db.executemany(
            """INSERT INTO vendors (source, handle_lc, handle, first_seen, last_seen, capture_id, capture_sha256, profile)
               VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(handle_lc, source) DO UPDATE SET
                   first_seen=min(first_seen, excluded.first_seen), last_seen=max(last_seen, excluded.last_seen),
                   profile=coalesce(excluded.profile, profile)""",
            [(v["source"], v["handle_lc"], v["handle"], v["first_seen"], v["last_seen"], v["capture_id"],
              v["capture_sha256"], json.dumps(v["profile"]) if v["profile"] else None) for v in p.vendors.values()])
        db.executemany(
            """INSERT INTO identifiers (kind, value, source, key, vendor_lc, first_seen, last_seen, first_capture_id,
                   first_capture_sha256, last_capture_id, last_capture_sha256) VALUES (?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT(value, kind, source, key) DO UPDATE SET sightings=sightings+1,
                   first_seen=min(first_seen, excluded.first_seen), last_seen=max(last_seen, excluded.last_seen),
                   last_capture_id=excluded.last_capture_id, last_capture_sha256=excluded.last_capture_sha256""",
            [(s["kind"], s["value"], s["source"], s["key"], _lc(s["vendor"]), s["seen_at"], s["seen_at"],
              s["capture_id"], s["capture_sha256"], s["capture_id"], s["capture_sha256"]) for s in p.sightings])
        self._write_events(p.events)

    def _write_events(self, events: Sequence[ChangeEvent]) -> None:
        self._db.executemany(
            """INSERT OR IGNORE INTO events (id, type, at, source, listing_key, vendor, capture_id, capture_sha256, details)
               VALUES (?,?,?,?,?,?,?,?,?)""",
            [(e.id, e.type.value, iso(e.at), e.source, e.listing_key, e.vendor, e.capture_id, e.capture_sha256,
              dumps(e.details)) for e in events])

    def end_crawl(self, source: str, crawl_id: str, complete: bool, at: datetime) -> list[ChangeEvent]:
        events: list[ChangeEvent] = []
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM crawls WHERE source=? AND crawl_id=?", (source, crawl_id)).fetchone():
                    db.execute("COMMIT")
                    return []
                db.execute("INSERT INTO crawls VALUES (?,?,?,?)", (source, crawl_id, int(complete), iso(at)))
                if complete:
                    src = source.lower()
                    db.execute("""UPDATE docs SET missed = missed + 1 WHERE source_lc=? AND removed=0
                                  AND type='listing' AND last_crawl != ?""", (src, crawl_id))
                    gone = db.execute("""SELECT rid, doc, missed FROM docs WHERE source_lc=? AND removed=0
                                         AND type='listing' AND missed >= ?""", (src, self.removed_after)).fetchall()
                    for rid, doc, missed in gone:
                        d = json.loads(doc)
                        d["available"], d["removed"] = False, True
                        events.append(removal_event(d, crawl_id, iso(at), missed))
                        db.execute("UPDATE docs SET removed=1, available=0, doc=? WHERE rid=?", (json.dumps(d), rid))
                    self._write_events(events)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return events

    # --- reads -----------------------------------------------------------------------

    def events(self, since: datetime | None = None, types: Sequence[str] = (), limit: int = 1000,
               listing_key: str | None = None) -> list[ChangeEvent]:
        where, params = ["1"], []  # type: ignore[var-annotated]
        if since is not None:
            where.append("at >= ?")
            params.append(iso(since))
        if types:
            where.append(f"type IN ({','.join('?' * len(types))})")
            params += [str(t) for t in types]
        if listing_key is not None:
            where.append("listing_key = ?")
            params.append(listing_key)
        rows = self._db.execute(
            f"""SELECT id, type, at, source, listing_key, vendor, capture_id, capture_sha256, details FROM events
                WHERE {' AND '.join(where)} ORDER BY at, seq LIMIT ?""", [*params, limit]).fetchall()
        return [ChangeEvent(id=r[0], type=r[1], at=r[2], source=r[3], listing_key=r[4], vendor=r[5], capture_id=r[6],
                            capture_sha256=r[7], details=json.loads(r[8])) for r in rows]

    def save_alerts(self, alerts: Sequence[Alert]) -> int:
        with self._lock:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR REPLACE INTO alerts (id, rule_id, created_at, status, body) VALUES (?,?,?,?,?)",
                [(a.id, a.rule_id, iso(a.created_at), a.status.value, a.model_dump_json()) for a in alerts])
            return self._db.total_changes - before

    def alerts(self, limit: int = 1000) -> list[Alert]:
        rows = self._db.execute("SELECT body FROM alerts ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
        return [Alert.model_validate_json(r[0]) for r in rows]

    def counts(self) -> dict[str, int]:
        one = lambda q: int(self._db.execute(q).fetchone()[0])  # noqa: E731
        return {
            "listings": one("SELECT count(*) FROM docs WHERE type='listing'"),
            "posts": one("SELECT count(*) FROM docs WHERE type='post'"),
            "snapshots": one("SELECT count(*) FROM snapshots"),
            "vendors": one("SELECT count(*) FROM vendors"),
            "identifiers": one("SELECT count(*) FROM (SELECT DISTINCT kind, value FROM identifiers)"),
            "events": one("SELECT count(*) FROM events"),
            "alerts": one("SELECT count(*) FROM alerts"),
        }

    def search(self, query: str | ParsedQuery, *, limit: int = 20, offset: int = 0, sort: str | None = None,
               facets: Sequence[str] = (), facet_size: int = 10) -> SearchResult:
        pq = query if isinstance(query, ParsedQuery) else parse(query)
        where, params = compile_sql(pq.root)
        texts = pq.text_nodes
        field, desc = parse_sort(sort, bool(texts))
        db = self._db
        join, jparams, order = "", [], ""  # type: ignore[var-annotated]
        rank_expr = " OR ".join(fts_expression(t) for t in texts)
        base = "docs d"
        if field == "relevance" and texts:
            ranked = ("(SELECT rowid AS rrid, bm25(docs_fts, 4.0, 1.0) AS score FROM docs_fts "
                      "WHERE docs_fts MATCH ?) r")
            root = pq.root
            if isinstance(root, Text) or (isinstance(root, And) and any(isinstance(c, Text) for c in root.items)):
                base, join = f"{ranked} JOIN docs d ON d.rid = r.rrid", " "  # text is required: drive from FTS
            else:
                join = f"LEFT JOIN {ranked} ON r.rrid = d.rid"
            jparams = [rank_expr]
            order = "ORDER BY r.score IS NULL, r.score, d.key"
        elif field == "relevance":
            order = "ORDER BY d.last_seen DESC, d.key"
        else:
            col = "key" if field == "key" else NUMBER_COLUMNS[field]
            order = f"ORDER BY d.{col} IS NULL, d.{col} {'DESC' if desc else 'ASC'}, d.key"
        limit = max(0, min(int(limit), 10_000))
        with self._lock:
            rows = db.execute(f"SELECT d.rid, d.key, d.doc, {'r.score' if join else 'NULL'} FROM {base} {join} "
                              f"WHERE {where} {order} LIMIT ? OFFSET ?",
                              [*jparams, *params, limit, max(0, int(offset))]).fetchall()
            total = int(db.execute(f"SELECT count(*) FROM docs d WHERE {where}", params).fetchone()[0])
            hl = self._highlights(rank_expr, [r[0] for r in rows]) if texts and rows else {}
            fc = {f: self._facet(f, where, params, facet_size) for f in facets}
        hits = [SearchHit(key=k, score=None if s is None else -float(s), doc=json.loads(doc), highlights=hl.get(rid, {}))
                for rid, k, doc, s in rows]
        return SearchResult(query=pq.source, total=total, hits=hits, facets=fc)

    def _highlights(self, expr: str, rids: list[int]) -> dict[int, dict[str, str]]:
        q = (f"SELECT rowid, highlight(docs_fts, 0, ?, ?), snippet(docs_fts, 1, ?, ?, '…', 16) FROM docs_fts "
             f"WHERE docs_fts MATCH ? AND rowid IN ({','.join('?' * len(rids))})")
        out: dict[int, dict[str, str]] = {}
        for rid, title, text in self._db.execute(q, [HL_START, HL_END, HL_START, HL_END, expr, *rids]):
            out[rid] = {k: v for k, v in (("title", title), ("text", text)) if v and HL_START in v}
        return out

    def _facet(self, name: str, where: str, params: list[Any], size: int) -> list[FacetCount]:
        from narcwatch.index.fields import resolve_field

        spec = resolve_field(name)
        if spec is None or (spec.name not in MULTI_FIELDS and spec.name not in KEYWORD_COLUMNS):
            raise ValueError(f"cannot facet on {name!r}; facetable: {', '.join(sorted((*MULTI_FIELDS, *KEYWORD_COLUMNS)))}")
        if spec.name in MULTI_FIELDS:
            q = (f"SELECT t.v, count(*) AS n FROM terms t JOIN docs d ON d.rid = t.rid WHERE t.f = ? AND {where} "
                 "GROUP BY t.v ORDER BY n DESC, t.v LIMIT ?")
            rows = self._db.execute(q, [spec.name, *params, size]).fetchall()
        else:
            col = KEYWORD_COLUMNS[spec.name]
            q = (f"SELECT d.{col}, count(*) AS n FROM docs d WHERE {where} AND d.{col} IS NOT NULL "
                 f"GROUP BY d.{col} ORDER BY n DESC, d.{col} LIMIT ?")
            rows = self._db.execute(q, [*params, size]).fetchall()
        return [FacetCount(value=v, count=n) for v, n in rows]

    def facets(self, query: str | ParsedQuery, fields: Sequence[str], size: int = 10) -> dict[str, list[FacetCount]]:
        return self.search(query, limit=0, facets=fields, facet_size=size).facets

    def listing(self, key: str) -> ListingHistory | None:
        row = self._db.execute("SELECT doc, removed FROM docs WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        snaps = [json.loads(r[0]) for r in self._db.execute(
            "SELECT doc FROM snapshots WHERE key = ? ORDER BY seen_at, id", (key,))]
        events = [e.model_dump(mode="json") for e in self.events(listing_key=key, limit=10_000)]
        return ListingHistory(key=key, current=json.loads(row[0]), snapshots=snaps, events=events)

    def vendor(self, name: str) -> VendorReport | None:
        lc = name.strip().lower()
        db = self._db
        accounts = [{"source": s, "handle": h, "first_seen": f, "last_seen": la, "capture_id": c,
                     "capture_sha256": sha, "profile": json.loads(p) if p else None}
                    for s, h, f, la, c, sha, p in db.execute(
                        """SELECT source, handle, first_seen, last_seen, capture_id, capture_sha256, profile
                           FROM vendors WHERE handle_lc = ? ORDER BY first_seen, source""", (lc,))]
        if not accounts:
            return None
        listings = [{"key": k, "source": json.loads(d)["source"], "title": t, "first_seen": f, "last_seen": la,
                     "price": json.loads(d)["price"], "currency": json.loads(d)["currency"], "usd_per_gram": g,
                     "available": bool(a)}
                    for k, t, f, la, d, g, a in db.execute(
                        """SELECT key, title, first_seen, last_seen, doc, usd_per_gram, available FROM docs
                           WHERE vendor_lc = ? AND type = 'listing' ORDER BY first_seen, key""", (lc,))]
        weeks = [{"week": w, "listings": n} for w, n in db.execute(
            """SELECT date(seen_at, 'weekday 0', '-6 days') AS w, count(DISTINCT key) FROM snapshots
               WHERE vendor_lc = ? GROUP BY w ORDER BY w""", (lc,))]
        prices = [{"seen_at": s, "key": k, "price": p, "currency": c, "usd_per_gram": g, "capture_id": cap}
                  for s, k, p, c, g, cap in db.execute(
                      """SELECT seen_at, key, price, currency, usd_per_gram, capture_id FROM snapshots
                         WHERE vendor_lc = ? ORDER BY seen_at, key""", (lc,))]
        idents: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, value, src, key, f, la, cap, sha in db.execute(
                """SELECT kind, value, source, key, first_seen, last_seen, first_capture_id, first_capture_sha256
                   FROM identifiers WHERE vendor_lc = ? ORDER BY first_seen""", (lc,)):
            e = idents.setdefault((kind, value), {"kind": kind, "value": value, "sources": [], "first_seen": f,
                                                  "last_seen": la, "capture_id": cap, "capture_sha256": sha})
            if src not in e["sources"]:
                e["sources"].append(src)
            e["last_seen"] = max(e["last_seen"], la)
        return VendorReport(
            name=accounts[0]["handle"], accounts=accounts, markets=sorted({a["source"] for a in accounts}),
            listings=listings, listings_per_week=weeks, price_history=prices, identifiers=list(idents.values()),
            first_seen=min(a["first_seen"] for a in accounts), last_seen=max(a["last_seen"] for a in accounts))

    def trends(self, query: str | ParsedQuery = "", *, facets: Sequence[str] = ("classes", "source", "ships_from",
                                                                                   "vendor")) -> Trends:
        pq = query if isinstance(query, ParsedQuery) else parse(query)
        where, params = compile_sql(pq.root)
        db = self._db
        weeks = [{"week": w, "count": n} for w, n in db.execute(
            f"""SELECT date(s.seen_at, 'weekday 0', '-6 days') AS w, count(DISTINCT s.key) FROM snapshots s
                JOIN docs d ON d.key = s.key WHERE {where} GROUP BY w ORDER BY w""", params)]
        series: dict[tuple[str, str], list[float]] = defaultdict(list)
        for w, sub, g in db.execute(
                f"""SELECT date(s.seen_at, 'weekday 0', '-6 days'), t.v, s.usd_per_gram FROM snapshots s
                    JOIN docs d ON d.key = s.key JOIN terms t ON t.rid = d.rid AND t.f = 'substances'
                    WHERE s.usd_per_gram IS NOT NULL AND {where}""", params):
            series[(w, sub)].append(g)
        return Trends(query=pq.source, listings_per_week=weeks, price_per_gram=price_quartiles(series),
                      facets=self.facets(pq, facets))

    def mark_seen(self, seen: Sequence[tuple[str, str, datetime]]) -> int:
        """Record listings an incremental recrawl saw unchanged and did not refetch:
        ``(listing key, crawl id, seen at)``. They count as present for removal; no
        snapshot is written because nothing changed. Idempotent on replay."""
        rows = [(crawl_id, iso(at), iso(at), key, iso(at)) for key, crawl_id, at in seen]
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                before = db.total_changes
                db.executemany("""UPDATE docs SET last_crawl=?, missed=0,
                                  last_seen=max(last_seen, ?), doc=json_set(doc, '$.last_seen', max(last_seen, ?))
                                  WHERE key=? AND removed=0 AND last_seen <= ?""",
                               rows)
                changed = db.total_changes - before
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return changed

    # re-extraction (narcwatch.reextract) ----------------------------------------------
    def iter_documents(self, batch: int = 500) -> Iterator[dict[str, Any]]:
        """Every current document (listings and posts), in key order, read in pages so a
        long replay holds no cursor open across the writes it makes."""
        last = ""
        while True:
            with self._lock:
                rows = self._db.execute("SELECT key, doc FROM docs WHERE key > ? ORDER BY key LIMIT ?",
                                        (last, batch)).fetchall()
            if not rows:
                return
            for key, doc in rows:
                yield json.loads(doc)
            last = rows[-1][0]

    def update_extractions(self, docs: Sequence[dict[str, Any]], events: Sequence[ChangeEvent] = ()) -> int:
        """Replace the extracted fields of current documents (same keys) and record ``events``;
        the observation history (snapshots, first/last seen) is left as it was captured."""
        if not docs and not events:
            return 0
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                n = 0
                for d in docs:
                    cur = db.execute(
                        """UPDATE docs SET usd_per_gram=?, usd_per_unit=?, novel=?, doc=? WHERE key=?""",
                        (_f(d.get("usd_per_gram")), _f(d.get("usd_per_unit")), int(bool(d.get("novel"))),
                         dumps(d), d["key"]))
                    if not cur.rowcount:
                        continue
                    rid = db.execute("SELECT rid FROM docs WHERE key = ?", (d["key"],)).fetchone()[0]
                    db.execute("DELETE FROM terms WHERE rid = ?", (rid,))
                    db.executemany("INSERT OR IGNORE INTO terms (f, v, rid) VALUES (?,?,?)",
                                   [(f, v.lower(), rid) for f in MULTI_FIELDS for v in d.get(f) or ()
                                    if isinstance(v, str)])
                    n += 1
                self._write_events(events)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return n

    def close(self) -> None:
        with self._lock:
            self._db.close()


def price_quartiles(series: dict[tuple[str, str], list[float]]) -> list[dict[str, Any]]:
    """Median and quartiles per (week, substance); inclusive method, so one value is its own quartiles."""
    out = []
    for (week, sub), values in sorted(series.items()):
        values.sort()
        q1, med, q3 = (statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1
                       else (values[0], values[0], values[0]))
        out.append({"week": week, "substance": sub, "n": len(values), "q1": round(q1, 4),
                    "median": round(med, 4), "q3": round(q3, 4)})
    return out


def _split_sql(script: str) -> list[str]:
    """Split a migration on statement ends, keeping trigger bodies (BEGIN ... END;) whole."""
    out, buf = [], []
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
