"""The embedded SQLite backend: one file, WAL, FTS5 with bm25, versioned schema.

Tables (see ``narcwatch.index.sqlite_schema`` for the layout and why): ``docs`` (current
listing/post: lower-cased filter columns, title/text, the seq of its snapshot), ``terms``
(multi-valued keyword fields), ``docs_fts`` (external-content FTS5 over docs.title/text),
``snapshots`` (every observed version, compact) and ``contents`` (deduplicated text and
facts), ``vendors``, ``identifiers``, ``events``, ``alerts``, ``crawls``. Every fact row
carries capture_id + capture_sha256.

Durability: ``synchronous=NORMAL`` under WAL. A power cut can lose the last commits but
never corrupts the file; the spool is the durable log and ingest is idempotent per
(listing, crawl), so replaying the spool from the consumer offset restores them.

Ingest paths: ``ingest`` (one batch, one transaction); ``ingest_many`` (several batches
per transaction, the next group's documents built by a helper thread during COMMIT);
``ingest_many(bulk=True)`` / ``bulk_load`` for a backfill (secondary indexes and the new
rows' full text built once at the end; recorded in ``bulk_load`` so a crash is finished
on the next open). All three plan every batch against everything written before it, so
their results are the same (``tests/index/test_sqlite_batching.py``).
"""

from __future__ import annotations

import gc
import json
import sqlite3
import statistics
import threading
import time
import warnings
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from narcwatch.crawler.sqlitetx import read_only
from narcwatch.index.changes import Known, Plan, merge_vendor, plan, removal_event, snapshot_id
from narcwatch.index.documents import dumps, iso, item_document
from narcwatch.index.gcpause import gc_paused
from narcwatch.index.models import Alert, ChangeEvent
from narcwatch.index.query import And, ParsedQuery, Text, parse
from narcwatch.index.results import (
    HL_END, HL_START, FacetCount, ListingHistory, SearchHit, SearchResult, Trends, VendorReport, parse_sort,
)
from narcwatch.index.sql_compiler import KEYWORD_COLUMNS, MULTI_FIELDS, NUMBER_COLUMNS, compile_sql, fts_expression
from narcwatch.index.sqlite_columns import DELTA_COLUMNS, POSTED, ColumnSnapshot, Unsupported
from narcwatch.index.sqlite_columns import load as load_columns
from narcwatch.index.sqlite_writer import BulkWriter
from narcwatch.index.sqlite_schema import (
    BULK_DEFERRED, MIGRATIONS, SCHEMA_VERSION, ContentWriter, apply, content_body, decode_snapshot, encode_snapshot,
)
from narcwatch.index.store import IngestItem

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

_CHUNK = 400  # bound parameters per IN (...) list
_POSTED_MARKS = ",".join("?" * len(POSTED))  # the terms the column snapshot keeps
#: The current document: its snapshot and content with the live state of ``docs`` laid over.
_DOC_COLUMNS = ("d.rid, d.key, d.available, d.removed, d.missed, d.first_seen, d.last_seen, "
                "s.id, s.seen_at, s.price, s.currency, s.capture_id, c.body, s.obs")
_DOC_FROM = "docs d JOIN snapshots s ON s.seq = d.snap JOIN contents c ON c.id = s.content"


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _lc(v: str | None) -> str | None:
    return v.lower() if isinstance(v, str) else None


def _doc(row: Sequence[Any]) -> dict[str, Any]:
    """A ``_DOC_COLUMNS`` row -> the flat document (as planned, with live state)."""
    _rid, _key, available, removed, missed, first, last, sid, seen, price, cur, cap, body, obs = row
    d = decode_snapshot(sid, seen, price, cur, cap, body, obs)
    del d["id"]
    d.update(available=bool(available), removed=bool(removed), missed=missed, first_seen=first, last_seen=last)
    return d


class _Old(NamedTuple):
    """A stored listing as ingest needs it: its ids, what FTS indexed, the document, content,
    and whether its current snapshot is a re-extraction row (see ``update_extractions``)."""

    rid: int
    title: str
    text: str
    doc: dict[str, Any]
    body: str
    content: int
    derived: bool = False


FLOAT_SORTS = ("price", "price_usd", "usd_per_gram", "usd_per_unit")
#: observation keys re-extraction may recompute (derived from the observed price, not observed)
_REDERIVED = ("price_usd", "usd_per_gram", "usd_per_unit", "offers")


def _order(field: str, desc: bool) -> str:
    """ORDER BY for a non-relevance sort (relevance without text: newest first); ties by key."""
    if field == "relevance":
        return "ORDER BY d.last_seen DESC, d.key"
    col = "key" if field == "key" else NUMBER_COLUMNS[field]
    return f"ORDER BY d.{col} IS NULL, d.{col} {'DESC' if desc else 'ASC'}, d.key"


def _multi(d: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted({(f, v.lower()) for f in MULTI_FIELDS for v in d.get(f) or () if isinstance(v, str)})


class SqliteStore:
    """``Store`` over one SQLite file. Thread-safe by a lock (one writer at a time anyway)."""

    backend = "sqlite"

    def __init__(self, path: str | Path, *, removed_after: int = 2, rank_window: int = 2_000,
                 cache_mib: int = 128, mmap_mib: int = 1024, columns: bool = True, bulk_writer: bool = True):
        self.path = Path(path)
        self.removed_after = removed_after
        #: Past this many matches relevance ranks the newest ones only (see _newest_cut);
        #: the total is always exact.
        self.rank_window = max(1, rank_window)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self.columns = columns  # keep an in-memory column snapshot for filters and facets
        self._gen = 0  # bumped by every own write: a column snapshot is valid for one (gen, data_version)
        #: set inside ``_writing`` by a write that can update the column snapshot in place
        self._delta: list[Callable[[ColumnSnapshot], None]] | None = None
        #: rids whose ``docs``/``terms`` rows the current write changed (logged to ``changelog``)
        self._log: list[int] = []
        #: called inside ``_writing`` right before COMMIT (``ingest_many`` starts its helper there)
        self._at_commit: Callable[[], None] | None = None
        self._cols: ColumnSnapshot | None = None
        self._loading: threading.Thread | None = None
        self._narrow_after, self._order_chunk = 1000, 30_000  # page from columns: see _page_from_mask
        #: a text node's rowids are read into the column snapshot's mask up to this many matches
        #: (past it facets and filters fall back to SQL, which is slower still: keep it high)
        self.text_rids_cap = 1_000_000
        #: seconds without writes before a stale snapshot is rebuilt (a store under steady
        #: ingest answers from SQL rather than reloading a million rows after every batch)
        self.columns_settle = 2.0
        #: a snapshot behind by more logged changes than this is rebuilt instead of caught up
        self.catch_up_max = 250_000
        #: ``changelog`` entries kept (pruned at the end of each crawl); above ``catch_up_max``
        self.changelog_keep = 500_000
        self._rank_mask: np.ndarray | None = None
        self._mmap_mib = mmap_mib
        self._reader: sqlite3.Connection | None = None  # see _reader_db
        self._counter: ThreadPoolExecutor | None = None  # see _count_beside
        self._db.create_function("nw_in_mask", 1, self._in_mask)
        self._hl_rids: set[int] = set()
        self._db.create_function("nw_in_set", 1, self._hl_rids_has)
        self._changed_at, self._seen_dv = 0.0, -1
        #: wall seconds spent per ingest phase since the store was opened, and items ingested
        #: (the benchmark's per-phase figure; cheap enough to keep always on)
        #: (``source``: time spent drawing batches from an ``ingest_many`` caller's iterator, not a phase)
        self.ingest_seconds: dict[str, float] = dict.fromkeys(("lookup", "plan", "write", "commit", "columns", "rebuild",
                                                              "source", "items"), 0.0)
        self._bulk_depth = 0  # nested ``bulk_load`` blocks of this store
        #: what every connection that writes sets (``sqlite_writer`` too)
        self._pragmas = ["journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", f"cache_size=-{cache_mib * 1024}",
                         "temp_store=MEMORY", "wal_autocheckpoint=10000"]
        for pragma in (*self._pragmas, f"mmap_size={mmap_mib * 2**20}"):
            self._db.execute(f"PRAGMA {pragma}")
        #: a bulk ``ingest_many`` writes through a ``BulkWriter`` process (False: in this one)
        self.bulk_writer = bulk_writer
        self._pipelining = False  # a pipelined bulk load is running (see ``_pipelined``)
        self._writer: BulkWriter | None = None  # its writer process
        self._migrate()
        self.finish_bulk()  # a bulk load that a crash interrupted: indexes and full text first

    # --- schema ----------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the store lock. Every rid the write lists in
        ``self._log`` goes to ``changelog`` in the same transaction (how other processes'
        snapshots catch up). A write that describes its change to ``docs``/``terms`` in
        ``self._delta`` keeps a current column snapshot current (the delta is laid over it
        after COMMIT); any other write leaves it to catch up from the log on the next read,
        and a rollback changes nothing."""
        with self._lock:
            cols = self._cols
            self._delta, self._log = None, []
            self._db.execute("BEGIN IMMEDIATE")
            try:
                # under the write lock, what other connections committed is read consistently
                fresh = cols is not None and (cols.stamp == self._stamp() or self._catch_up(cols))
                yield self._db
                log_seq = self._append_log()
                if self._at_commit is not None:
                    self._at_commit()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._at_commit = None
                self._gen += 1
                self._changed_at = time.monotonic()
            delta, self._delta = self._delta, None
            if fresh and delta is not None and cols is not None:
                t = time.perf_counter()
                try:
                    for step in delta:
                        step(cols)
                except Exception as e:  # the data is committed; only the accelerator is off
                    warnings.warn(f"column snapshot left stale after a write: {e!r}", RuntimeWarning, stacklevel=3)
                    cols.stamp = None  # and the log cannot repair a half-applied delta: rebuild
                    cols.log_seq = -1
                else:
                    cols.stamp = self._stamp()
                    cols.log_seq = log_seq
                self.ingest_seconds["columns"] += time.perf_counter() - t

    def _append_log(self) -> int:
        """Log this write's changed rids; the newest ``changelog`` seq after it."""
        if self._log:
            self._db.executemany(*_changelog_rows(self._log))
        return _log_seq(self._db)

    def _catch_up(self, cols: ColumnSnapshot) -> bool:
        """Lay the rows logged since ``cols`` was current over it (writes another process or
        connection made). False when it cannot (log pruned past it, too far behind): rebuild."""
        if cols.log_seq < 0:  # a delta failed half-way: the log cannot repair it
            return False
        db = self._db
        own = not db.in_transaction
        if own:
            db.execute("BEGIN")  # one consistent read of the log and the rows it names
        try:
            # two subqueries: each is one B-tree descent (``min(seq), max(seq)`` together scans the table)
            low, high = db.execute("SELECT (SELECT min(seq) FROM changelog), (SELECT max(seq) FROM changelog)").fetchone()
            if high is None or high <= cols.log_seq:
                return True
            if low > cols.log_seq + 1 or high - cols.log_seq > self.catch_up_max:
                return False
            body = db.execute("SELECT json_group_array(DISTINCT rid) FROM changelog WHERE seq > ?",
                              (cols.log_seq,)).fetchone()[0]
            rids = sorted(json.loads(body))
            rows: list[Any] = []
            terms: list[Any] = []
            for chunk in _chunks(rids):
                marks = ",".join("?" * len(chunk))
                rows += db.execute(f"SELECT {', '.join(DELTA_COLUMNS)} FROM docs WHERE rid IN ({marks})", chunk)
                terms += db.execute(f"SELECT f, v, rid FROM terms WHERE rid IN ({marks}) AND f IN ({_POSTED_MARKS})",
                                    [*chunk, *POSTED])
        finally:
            if own:
                db.execute("COMMIT")
        cols.replace(rids, rows, terms)
        cols.log_seq = int(high)
        return True

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema v{version}, newer than this narcwatch (v{SCHEMA_VERSION})")
            for i in range(version, SCHEMA_VERSION):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    apply(self._db, MIGRATIONS[i])
                    self._db.execute(f"PRAGMA user_version={i + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def optimize(self) -> None:
        """After a bulk load: merge the FTS5 segments and refresh the planner's statistics."""
        with self._lock:
            self._db.execute("INSERT INTO docs_fts(docs_fts) VALUES ('optimize')")
            self._db.execute("PRAGMA optimize")
            self._db.execute("ANALYZE")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- ingest ----------------------------------------------------------------------

    def _known(self, batch: Sequence[IngestItem], overlay: _Overlay | None = None) -> tuple[Known, dict[str, _Old]]:
        """What the store knows about ``batch``, and per stored key its current row
        (``overlay``: with what a pipelined load has planned but not seen committed laid over)."""
        known = Known()
        olds: dict[str, _Old] = {}
        keys, handles, values = set(), set(), set()
        for item, ext in batch:
            keys.add(item.key)
            h = getattr(item, "vendor", None) or getattr(item, "handle", None)
            if h:
                handles.add(h.strip().lower())
            if ext is not None:
                values.update(w.address.strip() for w in ext.wallets)
                values.update(i.value.replace(" ", "").upper() if i.kind.value == "pgp_fingerprint" else i.value.strip()
                              for i in ext.identifiers)
        db = self._db
        if overlay is not None:
            for key in keys & overlay.listings.keys():
                o = overlay.listings[key][1]
                known.current[key] = o.doc
                olds[key] = o
            keys -= olds.keys()
        for chunk in _chunks(sorted(keys)):
            q = (f"SELECT {_DOC_COLUMNS}, d.title, d.text, s.content, s.rid < 0 FROM {_DOC_FROM} "
                 f"WHERE d.key IN ({','.join('?' * len(chunk))})")
            for row in db.execute(q, chunk):
                d = _doc(row[:-4])
                known.current[row[1]] = d
                olds[row[1]] = _Old(row[0], row[-4], row[-3], d, row[12], row[-2], bool(row[-1]))
        # snapshot ids exist only for stored listings: ask the (rid, seen_at, id) index, no global id index
        for chunk in _chunks(sorted(o.rid for o in olds.values())):
            q = f"SELECT id FROM snapshots WHERE rid IN ({','.join('?' * len(chunk))})"
            known.snapshots.update(r[0].hex() for r in db.execute(q, chunk))
        if overlay is not None:
            for key in olds.keys() | keys:
                if (sids := overlay.snapshots.get(key)) is not None:
                    known.snapshots.update(sids[1])
        for chunk in _chunks(sorted(handles)):
            q = f"SELECT handle_lc, source FROM vendors WHERE handle_lc IN ({','.join('?' * len(chunk))})"
            for lc, src in db.execute(q, chunk):
                known.vendor_sources.setdefault(lc, set()).add(src)
        for chunk in _chunks(sorted(values)):
            q = f"SELECT DISTINCT kind, value FROM identifiers WHERE value IN ({','.join('?' * len(chunk))})"
            known.identifiers.update((k, v) for k, v in db.execute(q, chunk))
        if overlay is not None:
            for lc in handles:
                if (sources := overlay.vendors.get(lc)) is not None:
                    known.vendor_sources.setdefault(lc, set()).update(sources)
            for v in values:
                if (facts := overlay.identifiers.get(v)) is not None:
                    known.identifiers.update(facts)
        return known, olds

    def ingest(self, batch: Sequence[IngestItem]) -> list[ChangeEvent]:
        """One transaction per batch: plan against what is stored, then write everything."""
        if not batch:
            return []
        with gc_paused(), self._timed_commit():
            events = self._ingest_batch(batch)
        return events

    def ingest_many(self, batches: Iterable[Sequence[IngestItem]], *, group: int | None = None,
                    bulk: bool = False) -> Iterator[list[ChangeEvent]]:
        """Ingest several batches, committing once per ``group`` items (at least one batch per
        transaction; default 10,000, 50,000 in bulk); yields the change events of each
        committed group, after its COMMIT.

        Each batch is planned against everything written before it, the uncommitted batches
        of its own group included, so the result equals ``ingest`` called per batch (tested);
        a crash loses at most the uncommitted group, which the spool replays. Fewer commits
        write each dirty index page once per group instead of once per batch.

        ``bulk=True`` is for a large backfill: the store's secondary indexes and the full-text
        index of new listings are built once at the end (see ``bulk_load``); the time that
        takes is part of this call. Pass batches that are ready (lists): the write lock is
        held while the next one is drawn from ``batches``.

        With ``bulk_writer`` (the default) a bulk load's SQL runs in a writer process while
        this one plans the next batches (``_pipelined``); the store's writes belong to the
        load until it ends (another writer meanwhile makes it fail, committed groups kept)."""
        it = iter(batches)
        group = group or (50_000 if bulk else 10_000)
        if bulk and self.bulk_writer:
            with self.bulk_load():
                yield from self._pipelined(it, group)
            return
        # One helper thread builds the next group's documents (``item_document``: pure Python,
        # no store access) while this one is inside SQLite's COMMIT, which releases the GIL.
        # It runs only then and while this thread waits for it: a helper busy while this thread
        # steps through an executemany would take the GIL back after every row.
        prep = ThreadPoolExecutor(1, thread_name_prefix="narcwatch-ingest-prep")
        try:
            with self.bulk_load() if bulk else nullcontext():
                t = time.perf_counter()
                pending = _take(it, group)
                self.ingest_seconds["source"] += time.perf_counter() - t
                t = time.perf_counter()
                with gc_paused():
                    docs = _documents_many(pending)  # the first group's, built here (nothing to overlap yet)
                self.ingest_seconds["plan"] += time.perf_counter() - t
                while pending:
                    events: list[ChangeEvent] = []
                    ahead: list[Sequence[IngestItem]] = []
                    built: list[Future[list[_Prepared]]] = []

                    def start_next() -> None:
                        t = time.perf_counter()
                        ahead.extend(_take(it, group))
                        self.ingest_seconds["source"] += time.perf_counter() - t
                        if ahead:  # (the thread starts with the first group that has a next one)
                            built.append(prep.submit(_documents_many, ahead))

                    with gc_paused(), self._timed_commit():  # (never paused across the yield: the caller runs there)
                        for batch, prepared in zip(pending, docs):
                            events += self._ingest_batch(batch, prepared)
                        self._at_commit = start_next
                    yield events
                    t = time.perf_counter()
                    with gc_paused():
                        pending, docs = ahead, built[0].result() if built else []
                    self.ingest_seconds["plan"] += time.perf_counter() - t  # what the helper has left to do
        finally:
            prep.shutdown(wait=True, cancel_futures=True)

    def _pipelined(self, it: Iterator[Sequence[IngestItem]], group: int) -> Iterator[list[ChangeEvent]]:
        """A bulk load's groups planned here and written by a ``BulkWriter`` process, one
        group ahead: group g+1 is planned (documents, change detection, rows: Python) while
        the writer runs group g's SQL (SQLite) on the other core. Lookups read the store and
        the ``_Overlay`` of what was sent but not yet answered, ids are counted here, so the
        result equals ``ingest`` per batch (tested). The column snapshot is detached for the
        load (searches meanwhile answer from SQL), each group's delta laid over it once the
        writer has committed that group, and it is attached again at the end. Each group's
        new listings get their full text in the group's own transaction (the writer has time
        to spare), so the end of the load only rebuilds the deferred indexes."""
        ph = self.ingest_seconds
        clock = time.perf_counter
        with self._lock:
            cols = self._cols
            if cols is not None and not (cols.stamp == self._stamp() or self._catch_up(cols)):
                cols = None  # stale already: the first read after the load rebuilds it
            self._cols, self._pipelining = None, True
        writer: BulkWriter | None = None
        queued: deque[tuple[int, list[ChangeEvent], list[Callable[[ColumnSnapshot], None]]]] = deque()
        log_seq, failed = -1, True
        try:
            writer = self._writer = BulkWriter(self.path, self._pragmas)  # opened (watching for other writers) before any read
            with self._lock:
                ids, fts_from, log_seq = _Ids.read(self._db), _fts_deferred_from(self._db), _log_seq(self._db)
            overlay, upserts = _Overlay(), _Upserts()

            def answered() -> list[ChangeEvent]:
                nonlocal log_seq
                assert writer is not None
                t = clock()
                token, log_seq = writer.answer()
                ph["commit"] += clock() - t  # waiting for the writer's COMMIT
                g, events, deltas = queued.popleft()
                assert token == g, (token, g)
                with self._lock, gc_paused(freeze=True):
                    overlay.committed(g)
                    t = clock()
                    if cols is not None:
                        for step in deltas:
                            step(cols)
                    ph["columns"] += clock() - t
                return events

            g = 0
            while True:
                t = clock()
                pending = _take(it, group)
                ph["source"] += clock() - t
                if not pending:
                    break
                g += 1
                overlay.group = g
                events: list[ChangeEvent] = []
                deltas: list[Callable[[ColumnSnapshot], None]] = []
                with self._lock, gc_paused(freeze=True):
                    for batch in pending:
                        if not batch:
                            continue
                        t0 = clock()
                        known, olds = self._known(batch, overlay)
                        t1 = clock()
                        p = plan(batch, known)
                        t2 = clock()
                        self._delta, self._log = [], []
                        ops = self._rows(p, olds, {}, ids, fts_from, overlay, upserts)
                        if self._log:
                            ops.append(_changelog_rows(self._log))
                        deltas += self._delta
                        t3 = clock()
                        writer.ops(ops)  # waits while the writer is still busy with the batch before
                        ph["lookup"] += t1 - t0
                        ph["plan"] += t2 - t1
                        ph["write"] += t3 - t2
                        ph["commit"] += clock() - t3  # handing the rows over (waiting for the writer)
                        ph["items"] += len(batch)
                        events += p.events
                    self._delta, self._log = None, []
                    writer.ops(upserts.ops())
                    if fts_from is not None and ids.rid > fts_from:
                        # the group's new listings get their full text in its own transaction: the
                        # writer has time to spare while the next group is planned, and the end
                        # of the load is left with the indexes only (``bulk_load`` follows along)
                        writer.ops([("INSERT INTO docs_fts(rowid, title, text) SELECT rid, title, text FROM docs "
                                     "WHERE rid >= ? AND rid < ? ORDER BY rid", [(fts_from, ids.rid)]),
                                    ("UPDATE bulk_load SET fts_from = ?", [(ids.rid,)])])
                        fts_from = ids.rid  # from here on, an earlier group's listing is indexed: changes re-index it
                writer.commit(g)
                queued.append((g, events, deltas))
                while writer.pending > 1:  # one group in the writer while the next is planned
                    yield answered()
            while writer.pending:
                yield answered()
            failed = False
        finally:
            if writer is not None:
                writer.close()
            gc.unfreeze()  # what the groups froze (see gc_paused) is the collector's again
            with self._lock:
                self._pipelining, self._writer = False, None
                self._gen += 1
                self._changed_at = time.monotonic()
                if cols is not None and self._cols is None and log_seq >= 0:
                    # holds exactly what the writer committed; after a failure another writer's
                    # changes may follow in the log: caught up from there on the next read
                    cols.stamp = None if failed else self._stamp()
                    cols.log_seq = log_seq
                    self._cols = cols

    @contextmanager
    def _timed_commit(self) -> Iterator[None]:
        """A write transaction whose COMMIT is timed as the ingest phase ``commit``."""
        ph = self.ingest_seconds
        columns, source = ph["columns"], ph["source"]
        t = time.perf_counter()
        with self._writing():
            ph["lookup"] += time.perf_counter() - t  # BEGIN IMMEDIATE, catching the column snapshot up
            yield
            t = time.perf_counter()
        # COMMIT: FTS5 flushes its segment, WAL write (the column delta laid after it, and the
        # caller's iterator drawn before it by ``ingest_many``, are timed apart)
        ph["commit"] += time.perf_counter() - t - (ph["columns"] - columns) - (ph["source"] - source)

    def _ingest_batch(self, batch: Sequence[IngestItem], prepared: _Prepared | None = None) -> list[ChangeEvent]:
        """Lookup, plan and write one batch inside the open write transaction (``prepared``:
        the batch's documents and contents if built already)."""
        if not batch:
            return []
        clock = time.perf_counter
        t0 = clock()
        known, olds = self._known(batch)
        t1 = clock()
        p = plan(batch, known, prepared.docs if prepared else None)
        t2 = clock()
        self._write(p, olds, prepared.bodies if prepared else None)
        t3 = clock()
        ph = self.ingest_seconds
        ph["lookup"] += t1 - t0
        ph["plan"] += t2 - t1
        ph["write"] += t3 - t2
        ph["items"] += len(batch)
        return p.events

    # --- bulk load ---------------------------------------------------------------------

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """A backfill: the secondary indexes ingest never reads (``BULK_DEFERRED``: each is a
        B-tree insert at a random position per listing, a dirty page per row at every commit
        of a large store) are dropped, and the full text of listings added meanwhile is left
        out of FTS5; at the end both are built in one pass each (``finish_bulk``, timed as
        the ingest phase ``rebuild``). Ingest's own lookups (keys, snapshot ids, vendors,
        identifiers, event ids) keep their indexes, so change detection is unchanged.

        The load is recorded in ``bulk_load`` in the transaction that drops the indexes, so
        a crash anywhere leaves a store whose next open finishes it before anything else;
        every writer reads the record and defers full text the same way. Reads during the
        load are answered without those indexes (slower) and do not find the new listings'
        text until it ends; opening the store in another process finishes the load early
        (the loader then goes on in the normal mode)."""
        if self._bulk_depth == 0:
            self._start_bulk()
        self._bulk_depth += 1
        try:
            yield
        finally:
            self._bulk_depth -= 1
            if self._bulk_depth == 0:
                self.finish_bulk()

    def _start_bulk(self) -> None:
        with self._writing() as db:
            self._delta = []  # docs and terms are untouched: the column snapshot stays current
            if _fts_deferred_from(db) is not None:
                return  # a load is recorded already (another writer's, or a crashed one): join it
            fts_from = int(db.execute("SELECT coalesce(max(rid), 0) FROM docs").fetchone()[0]) + 1
            marks = ",".join("?" * len(BULK_DEFERRED))
            indexes = dict(db.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN ({marks})",
                                      BULK_DEFERRED).fetchall())
            db.execute("INSERT INTO bulk_load (id, fts_from, indexes, started_at) VALUES (1, ?, ?, ?)",
                       (fts_from, json.dumps(indexes), iso(datetime.now(timezone.utc))))
            for name in indexes:
                db.execute(f"DROP INDEX {name}")

    def finish_bulk(self) -> bool:
        """Finish a recorded bulk load (this store's, or one a crash left): recreate the
        dropped indexes and index the deferred full text, in one transaction. True if there
        was one. Runs when the store opens, so no reader sees a half-loaded store for long."""
        if _fts_deferred_from(self._db) is None:  # the usual case, read without taking the write lock
            return False
        t = time.perf_counter()
        with self._writing() as db:
            self._delta = []
            row = db.execute("SELECT fts_from, indexes FROM bulk_load").fetchone()
            if row is None:
                return False
            have = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
            for name, sql in json.loads(row[1]).items():
                if name not in have:
                    db.execute(sql)
            db.execute("INSERT INTO docs_fts(rowid, title, text) SELECT rid, title, text FROM docs WHERE rid >= ? "
                       "ORDER BY rid", (row[0],))
            db.execute("DELETE FROM bulk_load")
        self.ingest_seconds["rebuild"] += time.perf_counter() - t
        return True

    # --- column snapshot ---------------------------------------------------------------

    def _stamp(self) -> tuple[int, int]:
        return self._gen, int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def warm(self) -> bool:
        """Build the column snapshot now (after a bulk load, before serving). True if built."""
        if not self.columns:
            return False
        with self._lock:
            stamp = self._stamp()
            self._db.execute("BEGIN")
            try:
                cols = load_columns(self._db)
                cols.log_seq = _log_seq(self._db)
            finally:
                self._db.execute("COMMIT")
            cols.stamp = stamp
            self._cols = cols
        return True

    def warm_in_background(self) -> None:
        """Start building the column snapshot without holding up anyone (``serve`` calls it
        at start-up: the first searches use SQL until it is ready, then it is caught up)."""
        with self._lock:
            if self.columns and self._fresh_columns() is None:
                self._start_loading(self._stamp())

    def _fresh_columns(self) -> ColumnSnapshot | None:
        """The snapshot if it is current or can be caught up from ``changelog`` (the usual
        case, also beside another process's ingest); else None, and rebuild it in the
        background from its own read connection, so searches never wait for it."""
        if not self.columns or self._pipelining:  # a pipelined load keeps its snapshot detached
            return None
        stamp = self._stamp()
        cols = self._cols
        if cols is not None and cols.stamp == stamp:
            return cols
        if cols is not None and self._catch_up(cols):
            cols.stamp = stamp  # (a write after ``stamp`` was read is caught up, again, next time)
            return cols
        if stamp[1] != self._seen_dv:  # another connection wrote
            self._seen_dv, self._changed_at = stamp[1], time.monotonic()
        if time.monotonic() - self._changed_at >= self.columns_settle:
            self._start_loading(stamp)
        return None

    def _start_loading(self, stamp: tuple[int, int]) -> None:
        if self._loading is None or not self._loading.is_alive():
            self._loading = threading.Thread(target=self._load_columns, args=(stamp,), daemon=True,
                                             name="narcwatch-columns")
            self._loading.start()

    def _load_columns(self, stamp: tuple[int, int]) -> None:
        try:
            db = read_only(self.path, check_same_thread=False)
            try:
                db.execute("BEGIN")
                cols = load_columns(db)
                cols.log_seq = _log_seq(db)
                db.execute("COMMIT")
            finally:
                db.close()
        except sqlite3.Error:
            return  # the store was closed or moved: searches keep using SQL
        with self._lock:
            try:
                # written while loading: the next read catches up from ``log_seq`` (stamp None)
                cols.stamp = stamp if self._stamp() == stamp else None
                self._cols = cols
            except sqlite3.ProgrammingError:
                return

    def _write(self, p: Plan, olds: dict[str, _Old], bodies: dict[str, str] | None = None) -> None:
        """Write a plan inside the open transaction (ids read from the store, under its write lock)."""
        db = self._db
        for sql, rows in self._rows(p, olds, bodies or {}, _Ids.read(db), _fts_deferred_from(db)):
            db.executemany(sql, rows)

    def _rows(self, p: Plan, olds: dict[str, _Old], bodies: dict[str, str], ids: _Ids, fts_from: int | None,
              overlay: _Overlay | None = None, upserts: _Upserts | None = None) -> list[tuple[str, list[Any]]]:
        """The statements and rows that write plan ``p`` (in order), assigning ids from ``ids``
        (advanced past them); the change is logged (``self._log``) and its column delta queued
        (``self._delta``). ``overlay``: what a pipelined load planned and has not seen
        committed yet gets this plan's listings (see ``_Overlay``). ``upserts``: the vendor
        and identifier rows go there, merged with the rest of the group's, not into the ops."""
        bodies = bodies or {}  # snapshot id -> content JSON, where built already
        # during a bulk load (any writer's) the full text of rows from ``fts_from`` on is indexed at its end
        contents = ContentWriter(ids.content)
        rid_of = {}
        for k, o in olds.items():
            rid_of[k] = o.rid
            if not o.derived:  # a derived row's content is never shared: it is dropped with the row below
                contents.known(o.rid, o.body, o.content)
        next_rid = ids.rid
        for key in p.docs:
            if key not in rid_of:
                rid_of[key], next_rid = next_rid, next_rid + 1
        ids.rid = next_rid
        snaps, seq_of = [], {}
        seq = ids.seq
        for s in p.snapshots:
            seq += 1
            rid = rid_of[s["key"]]
            snaps.append(encode_snapshot(s, rid, seq, contents.id_for(rid, s, bodies.get(s["id"]))))
            seq_of[s["id"]] = seq
        ids.seq, ids.content = seq, contents.next_id
        ops: list[tuple[str, list[Any]]] = [
            ("INSERT INTO contents (id, body) VALUES (?,?)", contents.rows),
            ("INSERT INTO snapshots (seq, id, rid, seen_at, vendor_lc, price, currency, usd_per_gram, "
             "capture_id, content, obs) VALUES (?,?,?,?,?,?,?,?,?,?,?)", snaps)]
        new_rows, upd_rows, live_rows, fts_add, fts_del, term_del, term_add = [], [], [], [], [], [], []
        delta_rows, delta_drop = [], []  # for the column snapshot (DELTA_COLUMNS order)
        for key, d in p.docs.items():
            rid = rid_of[key]
            cols = (d["key"].lower(), d["type"], d["source"].lower(), _lc(d["vendor"]), _lc(d["category"]),
                    _lc(d["currency"]), d["url"].lower(), _lc(d["capture_id"]), d["title"] or "", d["text"] or "",
                    _f(d["price"]), _f(d["price_usd"]), _f(d["usd_per_gram"]), _f(d["usd_per_unit"]),
                    int(d["available"]), int(d["novel"]), d["crawl_id"], d["first_seen"], d["last_seen"],
                    seq_of[d["snapshot_id"]])
            old = olds.get(key)
            terms = _multi(d)
            delta_rows.append((rid, *cols[1:6], *cols[10:14], cols[17], cols[18], cols[14], cols[15], 0))
            if overlay is not None:
                body, content = contents.current[rid]
                overlay.put_listing(key, _Old(rid, cols[8], cols[9], d, body, content))
            if old is None:
                new_rows.append((rid, key, *cols))
                if fts_from is None or rid < fts_from:
                    fts_add.append((rid, cols[8], cols[9]))
                term_add += [(f, v, rid) for f, v in terms]
                continue
            od = old.doc
            if not od.get("removed") and cols[0] == od["key"].lower() and cols[2] == od["source"].lower() and \
                    cols[3] == _lc(od.get("vendor")) and cols[17] == od.get("first_seen"):
                # what the docs indexes on key, source, vendor and first seen hold is unchanged: an
                # UPDATE naming those columns rewrites their entries anyway (a random page each)
                live_rows.append((cols[1], *cols[4:17], cols[18], cols[19], rid))
            else:
                upd_rows.append((*cols, rid))
            if (old.title, old.text) != (cols[8], cols[9]) and (fts_from is None or rid < fts_from):
                fts_del.append((rid, old.title, old.text))
                fts_add.append((rid, cols[8], cols[9]))
            old_terms = _multi(old.doc)
            if old_terms != terms:  # only what changed: a posting's rows move only when a value comes or goes
                was, now = set(old_terms), set(terms)
                gone = [(f, v, rid) for f, v in old_terms if (f, v) not in now]
                term_del += gone
                delta_drop += gone
                term_add += [(f, v, rid) for f, v in terms if (f, v) not in was]
        # a re-extraction row the new snapshot replaces as current is reachable from nothing now
        gone_derived = [(o.rid, o.content) for k, o in olds.items() if o.derived and k in p.docs]
        sightings = [(s["kind"], s["value"], s["source"], s["key"], _lc(s["vendor"]), s["seen_at"], s["seen_at"],
                      s["capture_id"], s["capture_sha256"], s["capture_id"], s["capture_sha256"], 1) for s in p.sightings]
        if upserts is not None:
            upserts.add(p.vendors.values(), sightings)
            vendors, sightings = [], []
        else:
            vendors = [_vendor_row(v) for v in p.vendors.values()]
        if overlay is not None:
            overlay.put_snapshots(p.snapshots)
            overlay.put_vendors(p.vendors)
            overlay.put_identifiers((s["kind"], s["value"]) for s in p.sightings)
        ops += [
            ("""INSERT INTO docs (rid, key, key_lc, type, source_lc, vendor_lc, category_lc, currency_lc, url_lc,
                   capture_lc, title, text, price, price_usd, usd_per_gram, usd_per_unit, available, novel, last_crawl,
                   first_seen, last_seen, snap) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", new_rows),
            ("""UPDATE docs SET key_lc=?, type=?, source_lc=?, vendor_lc=?, category_lc=?, currency_lc=?, url_lc=?,
                   capture_lc=?, title=?, text=?, price=?, price_usd=?, usd_per_gram=?, usd_per_unit=?, available=?,
                   novel=?, last_crawl=?, first_seen=?, last_seen=?, snap=?, removed=0, missed=0 WHERE rid=?""", upd_rows),
            ("""UPDATE docs SET type=?, category_lc=?, currency_lc=?, url_lc=?, capture_lc=?, title=?, text=?, price=?,
                   price_usd=?, usd_per_gram=?, usd_per_unit=?, available=?, novel=?, last_crawl=?, last_seen=?, snap=?,
                   missed=0 WHERE rid=?""", live_rows),
            ("DELETE FROM snapshots WHERE rid = -?", [(r,) for r, _ in gone_derived]),
            ("DELETE FROM contents WHERE id = ?", [(c,) for _, c in gone_derived]),
            ("INSERT INTO docs_fts(docs_fts, rowid, title, text) VALUES ('delete', ?, ?, ?)", fts_del),
            ("INSERT INTO docs_fts(rowid, title, text) VALUES (?,?,?)", fts_add),
            ("DELETE FROM terms WHERE f = ? AND v = ? AND rid = ?", term_del),
            ("INSERT OR IGNORE INTO terms (f, v, rid) VALUES (?,?,?)", term_add),
            (_VENDOR_UPSERT, vendors),
            (_IDENTIFIER_UPSERT, sightings),
            _event_rows(p.events)]
        self._log += [r[0] for r in delta_rows]
        if self._delta is None:  # several batches in one transaction (ingest_many) lay their deltas in order
            self._delta = []
        self._delta.append(lambda c: c.upsert(delta_rows, delta_drop, term_add))
        return [(sql, rows) for sql, rows in ops if rows]

    def _write_events(self, events: Sequence[ChangeEvent]) -> None:
        sql, rows = _event_rows(events)
        self._db.executemany(sql, rows)

    def end_crawl(self, source: str, crawl_id: str, complete: bool, at: datetime) -> list[ChangeEvent]:
        events: list[ChangeEvent] = []
        with self._writing() as db:
            self._delta = []
            if db.execute("SELECT 1 FROM crawls WHERE source=? AND crawl_id=?", (source, crawl_id)).fetchone():
                return []  # the same crawl ended twice: nothing new (the transaction commits empty)
            db.execute("INSERT INTO crawls VALUES (?,?,?,?)", (source, crawl_id, int(complete), iso(at)))
            if complete:
                src = source.lower()
                db.execute("""UPDATE docs SET missed = missed + 1 WHERE source_lc=? AND removed=0
                              AND type='listing' AND last_crawl != ?""", (src, crawl_id))
                gone = db.execute(f"""SELECT {_DOC_COLUMNS} FROM {_DOC_FROM} WHERE d.source_lc=? AND d.removed=0
                                      AND d.type='listing' AND d.missed >= ?""", (src, self.removed_after)).fetchall()
                for row in gone:
                    d = _doc(row)
                    d["available"], d["removed"] = False, True
                    events.append(removal_event(d, crawl_id, iso(at), d["missed"]))
                db.executemany("UPDATE docs SET removed=1, available=0 WHERE rid=?", [(r[0],) for r in gone])
                self._write_events(events)
                gone_rids = [r[0] for r in gone]
                self._log += gone_rids
                self._delta.append(lambda c: c.set_flags(gone_rids, removed=1, available=0))
            db.execute("DELETE FROM changelog WHERE seq <= (SELECT max(seq) FROM changelog) - ?",
                       (max(1, self.changelog_keep),))
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
            "snapshots": one("SELECT count(*) FROM snapshots WHERE rid > 0"),  # not derived rows
            "vendors": one("SELECT count(*) FROM vendors"),
            "identifiers": one("SELECT count(*) FROM (SELECT DISTINCT kind, value FROM identifiers)"),
            "events": one("SELECT count(*) FROM events"),
            "alerts": one("SELECT count(*) FROM alerts"),
        }

    def search(self, query: str | ParsedQuery, *, limit: int = 20, offset: int = 0, sort: str | None = None,
               facets: Sequence[str] = (), facet_size: int = 10) -> SearchResult:
        """Count, page and facets over ``docs``; only the page's rows are turned into documents.

        Relevance: bm25 (title weighted 4, text 1) over the positive text terms, ties by key.
        When the text terms are required, FTS5 drives the query; past ``rank_window``
        matches only those among the newest documents are scored (the total stays exact).
        """
        pq = query if isinstance(query, ParsedQuery) else parse(query)
        where, params = compile_sql(pq.root)
        texts = pq.text_nodes
        field, desc = parse_sort(sort, bool(texts))
        limit = max(0, min(int(limit), 10_000))
        offset = max(0, int(offset))
        rank_expr = " OR ".join(fts_expression(t) for t in texts)
        with self._lock:
            window, total = None, None
            cols = self._fresh_columns()
            mask = self._mask(cols, pq, facets) if cols is not None else None
            if mask is not None:
                total = int(np.count_nonzero(mask))
            if field == "relevance" and texts:
                page, total, window = self._ranked(pq, where, params, rank_expr, limit, offset, total, mask)
            elif mask is not None:
                page = [(rid, None) for rid in self._page_from_mask(cols, mask, where, params, field, desc,  # type: ignore[arg-type]
                                                                    total, limit, offset)]  # type: ignore[arg-type]
            else:
                page = [(r[0], None) for r in self._db.execute(
                    f"SELECT d.rid FROM docs d WHERE {where} {_order(field, desc)} LIMIT ? OFFSET ?",
                    [*params, limit, offset])]
                total = self._count(pq, where, params)
            docs = self._docs([rid for rid, _ in page])
            hl = self._highlights(rank_expr, [rid for rid, _ in page]) if texts and page else {}
            fc = {f: self._facet(f, where, params, facet_size, cols, mask) for f in facets}
        hits = [SearchHit(key=docs[rid]["key"], score=None if s is None else -float(s), doc=docs[rid],
                          highlights=hl.get(rid, {})) for rid, s in page if rid in docs]
        return SearchResult(query=pq.source, total=total, hits=hits, facets=fc, rank_window=window)

    def _mask(self, cols: ColumnSnapshot, pq: ParsedQuery, facets: Sequence[str]) -> np.ndarray | None:
        """The query's mask over the column snapshot, or None when SQL must answer. Text nodes
        read their rowids from FTS5 only when that is cheap (facets or a filter need them)."""
        items = pq.root.items if isinstance(pq.root, And) else (pq.root,)
        if not facets and all(isinstance(n, Text) for n in items):
            return None  # a pure text query counts and ranks on FTS5 directly
        db = self._db

        def fts_rids(expr: str) -> np.ndarray:
            # one FTS5 pass up to the cap (no separate count first), handed over as one JSON
            # array: a tuple per row costs twice the FTS5 work itself at 80,000 matches
            cap = self.text_rids_cap
            body = db.execute("SELECT json_group_array(rowid) FROM (SELECT rowid FROM docs_fts WHERE docs_fts "
                              "MATCH ? LIMIT ?)", [expr, cap + 1]).fetchone()[0]
            rids = np.array(json.loads(body), dtype=np.int64)
            if len(rids) > cap:
                raise Unsupported("text matches too many rows to fetch")
            return rids

        cols.text = lambda node: fts_rids(fts_expression(node))
        try:
            texts = [n for n in items if isinstance(n, Text)]
            if len(texts) < 2 or len(items) == 1:
                return cols.mask(pq.root)
            # required text terms (``top quality``) are intersected by FTS5 in one MATCH: each
            # alone may match most of the store, their conjunction far less
            out = np.zeros(cols.size, dtype=bool)
            out[fts_rids(" AND ".join(f"({fts_expression(t)})" for t in texts))] = True
            out &= cols.alive
            for n in items:
                if not isinstance(n, Text):
                    out &= cols.mask(n)
            return out
        except Unsupported:
            return None
        finally:
            cols.text = None

    def _page_from_mask(self, cols: ColumnSnapshot, mask: np.ndarray, where: str, params: list[Any], field: str,
                        desc: bool, total: int, limit: int, offset: int) -> list[int]:
        """The page's rids: numpy narrows to the rows that can be on it, SQL orders those exactly."""
        want = limit + offset
        if want == 0 or total == 0:
            return []
        cand = np.flatnonzero(mask)
        if total > 4 * want + self._narrow_after and field in ("relevance", "first_seen", "last_seen", *FLOAT_SORTS):
            name = "last_seen" if field == "relevance" else field
            desc = True if field == "relevance" else desc
            vals = (cols.dates if name in cols.dates else cols.floats)[name][cand]
            known = cand if name in cols.dates else cand[~np.isnan(vals)]
            if name not in cols.dates:
                vals = vals[~np.isnan(vals)]
            if len(known) >= want:  # the page holds only non-null values: keep those up to the cut, ties included
                kth = np.partition(vals, len(vals) - want if desc else want - 1)[len(vals) - want if desc else want - 1]
                cand = known[(vals >= kth) if desc else (vals <= kth)]
        if len(cand) > 200_000:  # no narrowing possible (key order, or nulls): let SQL order
            return [r[0] for r in self._db.execute(
                f"SELECT d.rid FROM docs d WHERE {where} {_order(field, desc)} LIMIT ? OFFSET ?", [*params, limit, offset])]
        rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(cand.tolist(), self._order_chunk):
            rows += self._db.execute(f"SELECT d.rid FROM docs d WHERE d.rid IN (SELECT value FROM json_each(?)) "
                                     f"{_order(field, desc)} LIMIT ?", [json.dumps(chunk), want]).fetchall()
        if len(cand) > self._order_chunk:  # merge the chunks' heads in SQL order
            rids = [r[0] for r in rows]
            rows = self._db.execute(f"SELECT d.rid FROM docs d WHERE d.rid IN (SELECT value FROM json_each(?)) "
                                    f"{_order(field, desc)} LIMIT ?", [json.dumps(rids), want]).fetchall()
        return [r[0] for r in rows][offset:offset + limit]

    def _count(self, pq: ParsedQuery, where: str, params: list[Any], reader: bool = False) -> int:
        db = self._reader_db() if reader else self._db
        items = pq.root.items if isinstance(pq.root, And) else (pq.root,)
        if all(isinstance(n, Text) for n in items):  # every FTS row is a doc: count the index, not the join
            match = " AND ".join(f"({fts_expression(n)})" for n in items)  # type: ignore[arg-type]
            return int(db.execute("SELECT count(*) FROM docs_fts WHERE docs_fts MATCH ?", [match]).fetchone()[0])
        return int(db.execute(f"SELECT count(*) FROM docs d WHERE {where}", params).fetchone()[0])

    def _ranked(self, pq: ParsedQuery, where: str, params: list[Any], rank_expr: str, limit: int, offset: int,
                total: int | None = None, mask: np.ndarray | None = None
                ) -> tuple[list[tuple[int, float | None]], int, int | None]:
        """(page of (rid, bm25), total, window if capped) for a relevance-sorted text query."""
        db = self._db
        root = pq.root
        items = root.items if isinstance(root, And) else (root,)
        required = [n for n in items if isinstance(n, Text)]
        if not required or len(required) != len(pq.text_nodes):
            # text is optional (OR) or nested: score the matches and left-join them onto the filter
            rows = db.execute(
                f"""SELECT d.rid, r.score FROM docs d LEFT JOIN
                       (SELECT rowid AS rrid, bm25(docs_fts, 4.0, 1.0) AS score FROM docs_fts WHERE docs_fts MATCH ?) r
                       ON r.rrid = d.rid WHERE {where} ORDER BY r.score IS NULL, r.score, d.key LIMIT ? OFFSET ?""",
                [rank_expr, *params, limit, offset]).fetchall()
            return rows, self._count(pq, where, params) if total is None else total, None  # type: ignore[return-value]
        # FTS drives: MATCH all required text nodes at once (the same phrases, so the same bm25)
        match = " AND ".join(f"({fts_expression(t)})" for t in required)
        rest = [n for n in items if not isinstance(n, Text)]
        rwhere, rparams = compile_sql(And(tuple(rest))) if rest else ("1", [])
        want = limit + offset
        # The exact total and the ranked page are two FTS5 passes that need nothing of each
        # other (bm25 alone is one more: its IDF counts every match of each phrase). The total
        # is counted on the store's reader connection while this one cuts and scores: SQLite
        # releases the GIL, so on two cores a text query takes the longer pass, not both.
        counting = self._count_beside(pq, where, params) if total is None else None
        try:
            floor, window = self._newest_cut(match, rwhere, rparams, mask)
            scored = self._scored(match, rest, rwhere, rparams, floor, mask) if want else []
        except BaseException:
            if counting is not None:
                counting.exception()  # the reader is idle again before the error leaves
            raise
        if counting is not None:
            total = counting.result()
        assert total is not None
        if want == 0 or total == 0:
            return [], total, window
        return self._top_by_score(scored, limit, offset), total, window

    def _scored(self, match: str, rest: list[Any], rwhere: str, rparams: list[Any], floor: int,
                mask: np.ndarray | None) -> list[tuple[int, float]]:
        """(rid, bm25) of the matches from ``floor`` on that pass the query's other clauses."""
        db = self._db
        if mask is not None:  # the matching rids are known: bm25 only for those (a per-row mask check)
            self._rank_mask = mask
            try:
                return db.execute("""SELECT rowid, bm25(docs_fts, 4.0, 1.0) FROM docs_fts WHERE docs_fts MATCH ?
                                     AND rowid >= ? AND nw_in_mask(rowid)""", [match, floor]).fetchall()
            finally:
                self._rank_mask = None
        if not rest:  # text only: every FTS match in the window is a result
            return db.execute("SELECT rowid, bm25(docs_fts, 4.0, 1.0) FROM docs_fts WHERE docs_fts MATCH ? "
                              "AND rowid >= ?", [match, floor]).fetchall()
        # text and filters, no column snapshot: the filter is checked on docs rows
        return db.execute(f"""SELECT r.rowid, bm25(docs_fts, 4.0, 1.0) FROM docs_fts r JOIN docs d
                              ON d.rid = r.rowid WHERE docs_fts MATCH ? AND r.rowid >= ? AND {rwhere}""",
                          [match, floor, *rparams]).fetchall()

    def _newest_cut(self, match: str, rwhere: str, rparams: list[Any], mask: np.ndarray | None
                    ) -> tuple[int, int | None]:
        """(lowest rid ranked, window or None): past ``rank_window`` matches relevance ranks
        exactly the newest ``rank_window`` of them; the cut is the rid of the last of those,
        read newest-first from FTS5 (a pass over the window, not over every match)."""
        window = self.rank_window
        if mask is not None:
            rids = np.flatnonzero(mask)
            return (int(rids[-window]), window) if len(rids) > window else (0, None)
        join = "" if rwhere == "1" else f" JOIN docs d ON d.rid = r.rowid AND {rwhere}"
        rows = self._db.execute(f"SELECT r.rowid FROM docs_fts r{join} WHERE docs_fts MATCH ? "
                                "ORDER BY r.rowid DESC LIMIT 2 OFFSET ?", [*rparams, match, window - 1]).fetchall()
        return (int(rows[0][0]), window) if len(rows) == 2 else (0, None)

    def _count_beside(self, pq: ParsedQuery, where: str, params: list[Any]) -> Future[int]:
        """``_count`` on the reader connection, in the store's counting thread."""
        if self._counter is None:
            self._counter = ThreadPoolExecutor(1, thread_name_prefix="narcwatch-count")
        return self._counter.submit(self._count, pq, where, params, True)

    def _reader_db(self) -> sqlite3.Connection:
        """A second, read-only connection (used by the counting thread only). It reads what
        this store committed; a search holds the store lock, so none of its own writes can
        fall between the two passes (another process's commit can, as between two searches)."""
        if self._reader is None:
            self._reader = read_only(self.path, check_same_thread=False)
            self._reader.execute(f"PRAGMA mmap_size={self._mmap_mib * 2**20}")
        return self._reader

    def _hl_rids_has(self, rid: int) -> bool:
        return rid in self._hl_rids

    def _in_mask(self, rid: int) -> bool:
        m = self._rank_mask
        return m is not None and 0 <= rid < len(m) and bool(m[rid])

    def _top_by_score(self, scored: list[tuple[int, float]], limit: int, offset: int) -> list[tuple[int, float]]:
        """Order by (bm25, key) without reading every candidate's key: only the rows that can
        reach the page (everything scoring at least as well as the page's last row) are keyed."""
        want = limit + offset
        if not scored:
            return []
        scored.sort(key=lambda r: r[1])
        edge = scored[min(want, len(scored)) - 1][1]
        head = [r for r in scored if r[1] <= edge]
        keys: dict[int, str] = {}
        for chunk in _chunks([r[0] for r in head]):
            keys.update(self._db.execute(f"SELECT rid, key FROM docs WHERE rid IN ({','.join('?' * len(chunk))})",
                                         chunk).fetchall())
        head.sort(key=lambda r: (r[1], keys.get(r[0], "")))
        return head[offset:offset + limit]

    def _docs(self, rids: Sequence[int]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(list(rids)):
            for row in self._db.execute(f"SELECT {_DOC_COLUMNS} FROM {_DOC_FROM} WHERE d.rid IN "
                                        f"({','.join('?' * len(chunk))})", chunk):
                out[row[0]] = _doc(row)
        return out

    def _highlights(self, expr: str, rids: list[int]) -> dict[int, dict[str, str]]:
        # Only a rowid range reaches FTS5 (the page lies in the newest slice when the rank window
        # is in force); ``rowid IN (...)`` would re-run the whole query once per rid, and a
        # prefix query re-merges every matching term's doclist each time.
        q = (f"SELECT rowid, highlight(docs_fts, 0, ?, ?), snippet(docs_fts, 1, ?, ?, '…', 16) FROM docs_fts "
             f"WHERE docs_fts MATCH ? AND rowid BETWEEN ? AND ? AND nw_in_set(rowid)")
        out: dict[int, dict[str, str]] = {}
        self._hl_rids = set(rids)
        try:
            rows = self._db.execute(q, [HL_START, HL_END, HL_START, HL_END, expr, min(rids), max(rids)]).fetchall()
        finally:
            self._hl_rids = set()
        for rid, title, text in rows:
            out[rid] = {k: v for k, v in (("title", title), ("text", text)) if v and HL_START in v}
        return out

    def _facet(self, name: str, where: str, params: list[Any], size: int, cols: ColumnSnapshot | None = None,
               mask: np.ndarray | None = None) -> list[FacetCount]:
        from narcwatch.index.fields import resolve_field

        spec = resolve_field(name)
        if spec is None or (spec.name not in MULTI_FIELDS and spec.name not in KEYWORD_COLUMNS):
            raise ValueError(f"cannot facet on {name!r}; facetable: {', '.join(sorted((*MULTI_FIELDS, *KEYWORD_COLUMNS)))}")
        if cols is not None and mask is not None:
            try:
                return [FacetCount(value=v, count=n) for v, n in cols.facet(spec.name, mask, size)]
            except Unsupported:
                pass
        if spec.name in MULTI_FIELDS:
            q = (f"SELECT t.v, count(*) AS n FROM docs d JOIN terms t ON t.rid = d.rid AND t.f = ? WHERE {where} "
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
        with self._lock:
            row = self._db.execute(f"SELECT {_DOC_COLUMNS} FROM {_DOC_FROM} WHERE d.key = ?", (key,)).fetchone()
            if row is None:
                return None
            snaps = [decode_snapshot(*r) for r in self._db.execute(
                """SELECT s.id, s.seen_at, s.price, s.currency, s.capture_id, c.body, s.obs FROM snapshots s
                   JOIN contents c ON c.id = s.content WHERE s.rid = ? ORDER BY s.seen_at, s.id""", (row[0],))]
        events = [e.model_dump(mode="json") for e in self.events(listing_key=key, limit=10_000)]
        return ListingHistory(key=key, current=_doc(row), snapshots=snaps, events=events)

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
        listings = [{"key": k, "source": src, "title": t, "first_seen": f, "last_seen": la, "price": p,
                     "currency": c, "usd_per_gram": g, "available": bool(a)}
                    for k, src, t, f, la, p, c, g, a in db.execute(
                        """SELECT d.key, json_extract(cb.body, '$.source'), d.title, d.first_seen, d.last_seen, s.price,
                                  s.currency, d.usd_per_gram, d.available
                           FROM docs d JOIN snapshots s ON s.seq = d.snap JOIN contents cb ON cb.id = s.content
                           WHERE d.vendor_lc = ? AND d.type = 'listing' ORDER BY d.first_seen, d.key""", (lc,))]
        weeks = [{"week": w, "listings": n} for w, n in db.execute(
            """SELECT date(seen_at, 'weekday 0', '-6 days') AS w, count(DISTINCT rid) FROM snapshots
               WHERE vendor_lc = ? GROUP BY w ORDER BY w""", (lc,))]
        prices = [{"seen_at": s, "key": k, "price": p, "currency": c, "usd_per_gram": g, "capture_id": cap}
                  for s, k, p, c, g, cap in db.execute(
                      """SELECT s.seen_at, d.key, s.price, s.currency, s.usd_per_gram, s.capture_id FROM snapshots s
                         JOIN docs d ON d.rid = s.rid WHERE s.vendor_lc = ? ORDER BY s.seen_at, d.key""", (lc,))]
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
            f"""SELECT date(s.seen_at, 'weekday 0', '-6 days') AS w, count(DISTINCT s.rid) FROM snapshots s
                JOIN docs d ON d.rid = s.rid WHERE {where} GROUP BY w ORDER BY w""", params)]
        series: dict[tuple[str, str], list[float]] = defaultdict(list)
        for w, sub, g in db.execute(
                f"""SELECT date(s.seen_at, 'weekday 0', '-6 days'), t.v, s.usd_per_gram FROM snapshots s
                    JOIN docs d ON d.rid = s.rid JOIN terms t ON t.rid = d.rid AND t.f = 'substances'
                    WHERE s.usd_per_gram IS NOT NULL AND {where}""", params):
            series[(w, sub)].append(g)
        return Trends(query=pq.source, listings_per_week=weeks, price_per_gram=price_quartiles(series),
                      facets=self.facets(pq, facets))

    def mark_seen(self, seen: Sequence[tuple[str, str, datetime]]) -> int:
        """Record listings an incremental recrawl saw unchanged and did not refetch:
        ``(listing key, crawl id, seen at)``. They count as present for removal; no
        snapshot is written because nothing changed. Idempotent on replay."""
        # the document's last_seen is the docs column (laid over its snapshot on read)
        rows = [(crawl_id, iso(at), key, iso(at)) for key, crawl_id, at in seen]
        with self._writing() as db:
            before = db.total_changes
            db.executemany("""UPDATE docs SET last_crawl=?, missed=0, last_seen=max(last_seen, ?)
                              WHERE key=? AND removed=0 AND last_seen <= ?""", rows)
            changed = db.total_changes - before
            keys = sorted({r[2] for r in rows})
            now: list[tuple[int, str]] = []
            for chunk in _chunks(keys):
                now += db.execute(f"SELECT rid, last_seen FROM docs WHERE key IN ({','.join('?' * len(chunk))})",
                                  chunk).fetchall()
            self._log += [rid for rid, _ in now]
            self._delta = [lambda c: c.set_dates("last_seen", now)]
        return changed

    # re-extraction (narcwatch.reextract) ----------------------------------------------
    def iter_documents(self, batch: int = 500) -> Iterator[dict[str, Any]]:
        """Every current document (listings and posts), in key order, read in pages so a
        long replay holds no cursor open across the writes it makes."""
        last = ""
        while True:
            with self._lock:
                rows = self._db.execute(f"SELECT {_DOC_COLUMNS} FROM {_DOC_FROM} WHERE d.key > ? ORDER BY d.key "
                                        "LIMIT ?", (last, max(1, batch))).fetchall()
            if not rows:
                return
            for row in rows:
                yield _doc(row)
            last = rows[-1][1]

    def update_extractions(self, docs: Sequence[dict[str, Any]], events: Sequence[ChangeEvent] = ()) -> int:
        """Replace the extracted fields of current documents (same keys) and record ``events``;
        the observation history (snapshots, first/last seen) is left as it was captured.

        How, in schema v2 (where the current document is ``docs.snap``'s snapshot + content):
        rewriting the current snapshot's content would make history claim an extraction
        that was not made when the page was seen, and a new snapshot would invent an
        observation. So the re-extracted content goes into a *derived* snapshot row: a copy
        of the current snapshot's observation columns (same id, seen_at, price, capture,
        obs) pointing at a new ``contents`` row, stored under ``rid = -rid`` with no vendor
        or price-per-gram, so it lies outside every listing's history (``listing``,
        ``vendor``, ``trends`` and ingest's known snapshot ids all look snapshots up by a
        listing's rid or vendor); ``docs.snap`` points at it. A second re-extraction
        rewrites that row's content in place (derived content is never shared: ingest does
        not reuse it), and the next ingest of the listing deletes both when its new
        snapshot becomes current. The content keeps every document key that the snapshot
        row and the live state do not provide (so ``retroactive_substances`` and the like
        survive); price fields stay as observed. ``terms`` and the numeric columns are
        written from the resulting document, FTS is untouched (the text is the captured
        one), and the changed rids are logged so column snapshots catch up."""
        if not docs and not events:
            return 0
        live = {"available", "removed", "missed", "first_seen", "last_seen"}
        with self._writing() as db:
            n = 0
            seq = int(db.execute("SELECT coalesce(max(seq), 0) FROM snapshots").fetchone()[0])
            next_content = int(db.execute("SELECT coalesce(max(id), 0) FROM contents").fetchone()[0]) + 1
            for d in docs:
                key = d.get("key")
                if not isinstance(key, str):
                    continue
                row = db.execute(f"SELECT {_DOC_COLUMNS}, s.rid, s.content FROM {_DOC_FROM} "
                                 "WHERE d.key = ?", (key,)).fetchone()
                if row is None:
                    continue
                rid, (sid, seen, price, cur, cap, obs) = row[0], row[7:12] + (row[13],)
                observed = json.loads(obs)
                skip = live | set(observed) | {"id", "seen_at", "price", "currency", "capture_id"}
                body = dumps({k: v for k, v in d.items() if k not in skip})
                # What is derived from the observed price (offers, USD at the capture day's rate)
                # is re-derived too: the derived row's own observation columns carry it.
                rederived = {k: d[k] for k in _REDERIVED if k in d and k in observed}
                if rederived:
                    obs = dumps({**observed, **rederived})
                new = _doc((*row[:12], body, obs))
                if row[14] < 0:  # already derived: its content is its own
                    db.execute("UPDATE contents SET body = ? WHERE id = ?", (body, row[15]))
                    db.execute("UPDATE snapshots SET obs = ? WHERE seq = (SELECT snap FROM docs WHERE rid = ?)",
                               (obs, rid))
                else:
                    seq += 1
                    db.execute("INSERT INTO contents (id, body) VALUES (?,?)", (next_content, body))
                    db.execute("INSERT INTO snapshots (seq, id, rid, seen_at, vendor_lc, price, currency, "
                               "usd_per_gram, capture_id, content, obs) VALUES (?,?,?,?,NULL,?,?,NULL,?,?,?)",
                               (seq, sid, -rid, seen, price, cur, cap, next_content, obs))
                    db.execute("UPDATE docs SET snap = ? WHERE rid = ?", (seq, rid))
                    next_content += 1
                db.execute("UPDATE docs SET price_usd=?, usd_per_gram=?, usd_per_unit=?, novel=? WHERE rid=?",
                           (_f(new.get("price_usd")), _f(new.get("usd_per_gram")), _f(new.get("usd_per_unit")),
                            int(bool(new.get("novel"))), rid))
                db.execute("DELETE FROM terms WHERE rid = ?", (rid,))
                db.executemany("INSERT OR IGNORE INTO terms (f, v, rid) VALUES (?,?,?)",
                               [(f, v, rid) for f, v in _multi(new)])
                self._log.append(rid)
                n += 1
            self._write_events(events)
        return n

    def close(self) -> None:
        with self._lock:
            if self._counter is not None:
                self._counter.shutdown(wait=True)
                self._counter = None
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            self._db.close()


class _Prepared(NamedTuple):
    """What ``ingest_many``'s helper builds for a batch: the documents, and the content JSON
    of each by the snapshot id it will have (both depend on the item alone)."""

    docs: list[dict[str, Any]]
    bodies: dict[str, str]


def _documents_many(batches: Sequence[Sequence[IngestItem]]) -> list[_Prepared]:
    out = []
    for batch in batches:
        docs = [item_document(item, ext) for item, ext in batch]
        bodies: dict[str, str] = {}
        for d in docs:  # the first of two items with one snapshot id is the one planned
            bodies.setdefault(snapshot_id(d["key"], d["crawl_id"], d["seen_at"]), content_body(d))
        out.append(_Prepared(docs, bodies))
    return out


_VENDOR_UPSERT = """INSERT INTO vendors (source, handle_lc, handle, first_seen, last_seen, capture_id, capture_sha256,
                          profile) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(handle_lc, source) DO UPDATE SET
                          first_seen=min(first_seen, excluded.first_seen), last_seen=max(last_seen, excluded.last_seen),
                          profile=coalesce(excluded.profile, profile)"""
_IDENTIFIER_UPSERT = """INSERT INTO identifiers (kind, value, source, key, vendor_lc, first_seen, last_seen,
                            first_capture_id, first_capture_sha256, last_capture_id, last_capture_sha256, sightings)
                            VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(value, kind, source, key) DO UPDATE SET
                            sightings=sightings+excluded.sightings,
                            first_seen=min(first_seen, excluded.first_seen), last_seen=max(last_seen, excluded.last_seen),
                            last_capture_id=excluded.last_capture_id, last_capture_sha256=excluded.last_capture_sha256"""


class _Upserts:
    """A pipelined group's vendor and identifier upserts, merged into one row per vendor
    (per identifier sighting key) as the upserts batch after batch would leave it: the
    earliest first and latest last seen, the last profile given, the first row's other
    columns, the last capture, sightings summed. A vendor is in most batches of a bulk
    load (sandbox corpus, first 50,000 listings: 43,849 vendor upserts, 2,045 vendors)."""

    def __init__(self) -> None:
        self.vendors: dict[tuple[str, str], dict[str, Any]] = {}
        self.sightings: dict[tuple[str, str, str, str], list[Any]] = {}

    def add(self, vendors: Iterable[dict[str, Any]], sightings: list[tuple[Any, ...]]) -> None:
        for v in vendors:  # a plan's vendor rows (``Plan.vendors``), merged as ``plan`` merges a batch's
            m = self.vendors.get((v["source"], v["handle_lc"]))
            if m is None:
                self.vendors[(v["source"], v["handle_lc"])] = dict(v)
            else:
                merge_vendor(m, v["first_seen"], v["last_seen"], v["profile"])
        for r in sightings:  # (kind, value, source, key, vendor_lc, first, last, first cap, sha, last cap, sha, n)
            s = self.sightings.get(r[:4])
            if s is None:
                self.sightings[r[:4]] = list(r)
                continue
            if r[5] < s[5]:
                s[5] = r[5]
            if r[6] > s[6]:
                s[6] = r[6]
            s[9], s[10], s[11] = r[9], r[10], s[11] + r[11]

    def ops(self) -> list[tuple[str, list[Any]]]:
        """The merged rows' statements (then empty for the next group)."""
        out = [(sql, rows) for sql, rows in ((_VENDOR_UPSERT, [_vendor_row(v) for v in self.vendors.values()]),
                                             (_IDENTIFIER_UPSERT, list(self.sightings.values()))) if rows]
        self.vendors, self.sightings = {}, {}
        return out


def _vendor_row(v: dict[str, Any]) -> tuple[Any, ...]:
    """A plan's vendor row as ``_VENDOR_UPSERT``'s parameters."""
    return (v["source"], v["handle_lc"], v["handle"], v["first_seen"], v["last_seen"], v["capture_id"],
            v["capture_sha256"], json.dumps(v["profile"]) if v["profile"] else None)


def _changelog_rows(rids: Iterable[int]) -> tuple[str, list[Any]]:
    """The ``changelog`` rows that log a write's changed rids (once each, in order)."""
    return "INSERT INTO changelog (rid) VALUES (?)", [(r,) for r in sorted(set(rids))]


def _event_rows(events: Sequence[ChangeEvent]) -> tuple[str, list[Any]]:
    return ("""INSERT OR IGNORE INTO events (id, type, at, source, listing_key, vendor, capture_id, capture_sha256,
                   details) VALUES (?,?,?,?,?,?,?,?,?)""",
            [(e.id, e.type.value, iso(e.at), e.source, e.listing_key, e.vendor, e.capture_id, e.capture_sha256,
              dumps(e.details)) for e in events])


class _Ids:
    """The next ids a write assigns: listing rid, snapshot seq, content id."""

    __slots__ = ("content", "rid", "seq")

    def __init__(self, rid: int, seq: int, content: int):
        self.rid, self.seq, self.content = rid, seq, content

    @classmethod
    def read(cls, db: sqlite3.Connection) -> _Ids:
        """From the store (inside a write transaction, so nobody else assigns them meanwhile)."""
        rid, seq, content = db.execute("SELECT (SELECT coalesce(max(rid), 0) FROM docs), "
                                       "(SELECT coalesce(max(seq), 0) FROM snapshots), "
                                       "(SELECT coalesce(max(id), 0) FROM contents)").fetchone()
        return cls(int(rid) + 1, int(seq), int(content) + 1)


class _Overlay:
    """What a pipelined bulk load planned and has not yet seen committed by its writer
    process: lookups for later batches read the store and then this, so each batch is
    planned against everything before it, as if written (``SqliteStore._known``). Entries
    carry the group that wrote them and leave once that group's commit is answered."""

    def __init__(self) -> None:
        self.group = 0
        self.listings: dict[str, tuple[int, _Old]] = {}  # key -> (group, its state as written)
        self.snapshots: dict[str, tuple[int, list[str]]] = {}  # key -> (group, snapshot ids written)
        self.vendors: dict[str, dict[str, int]] = {}  # handle (lower) -> source -> group
        self.identifiers: dict[str, dict[tuple[str, str], int]] = {}  # value -> (kind, value) -> group

    def put_listing(self, key: str, old: _Old) -> None:
        self.listings[key] = (self.group, old)

    def put_snapshots(self, snapshots: list[dict[str, Any]]) -> None:
        for s in snapshots:
            prev = self.snapshots.get(s["key"])
            sids = prev[1] if prev else []
            sids.append(s["id"])
            self.snapshots[s["key"]] = (self.group, sids)

    def put_vendors(self, vendors: dict[tuple[str, str], dict[str, Any]]) -> None:
        for source, lc in vendors:
            self.vendors.setdefault(lc, {})[source] = self.group

    def put_identifiers(self, facts: Iterable[tuple[str, str]]) -> None:
        for kind, value in facts:
            self.identifiers.setdefault(value, {})[(kind, value)] = self.group

    def committed(self, group: int) -> None:
        """Forget what groups up to ``group`` wrote: the store answers for it now."""
        self.listings = {k: v for k, v in self.listings.items() if v[0] > group}
        self.snapshots = {k: v for k, v in self.snapshots.items() if v[0] > group}
        for table in (self.vendors, self.identifiers):
            for k in list(table):
                kept = {x: g for x, g in table[k].items() if g > group}  # type: ignore[attr-defined]
                if kept:
                    table[k] = kept  # type: ignore[assignment]
                else:
                    del table[k]


def _take(it: Iterator[Sequence[IngestItem]], group: int) -> list[Sequence[IngestItem]]:
    """The next batches from ``it`` up to ``group`` items (at least one batch)."""
    out: list[Sequence[IngestItem]] = []
    n = 0
    while n < group and (batch := next(it, None)) is not None:
        out.append(batch)
        n += len(batch)
    return out


def _fts_deferred_from(db: sqlite3.Connection) -> int | None:
    """The first rid whose full text a running (or crashed) bulk load indexes at its end."""
    row = db.execute("SELECT fts_from FROM bulk_load").fetchone()
    return None if row is None else int(row[0])


def _log_seq(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT coalesce(max(seq), 0) FROM changelog").fetchone()[0])


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
