"""The crawl frontier on disk: kill -9 safe resume and the state incremental recrawls need.

Scrapy's JOBDIR buffers its seen-set and queue pointers in memory and writes them at a
clean shutdown, so ``kill -9`` loses in-flight requests (marked seen, never parsed). Here
every discovered request is committed as *pending* before its parent page counts as
*done*, and a page is done only after its items are in the spool. A resumed crawl
(same crawl id) re-issues every pending request and skips done ones: items are never
lost, and the spool's idempotency key absorbs the pages parsed twice.

The same file keeps, per source, what incremental recrawls compare: the fingerprint of
each listing's index entry and the validators (ETag, Last-Modified) of its page.
"""

from __future__ import annotations

import pickle
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from narcwatch.crawler.sqlitetx import immediate

__all__ = ["CrawlRecord", "EntryState", "Frontier"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    crawl_id TEXT NOT NULL,
    fp       TEXT NOT NULL,
    state    INTEGER NOT NULL,        -- 0 pending, 1 done, 2 failed
    request  BLOB,                    -- pickled Request.to_dict()
    PRIMARY KEY (crawl_id, fp)
);
CREATE TABLE IF NOT EXISTS crawls (
    crawl_id TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL,
    started  REAL NOT NULL,
    finished REAL,
    complete INTEGER NOT NULL DEFAULT 0,
    full     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS entries (
    url        TEXT PRIMARY KEY,      -- normalised item URL
    entry_fp   TEXT NOT NULL,         -- hash of the index entry that links to it
    etag       TEXT,
    modified   TEXT,
    crawl_id   TEXT NOT NULL          -- crawl that last fetched the page
);
"""

PENDING, DONE, FAILED = 0, 1, 2


@dataclass(frozen=True)
class EntryState:
    entry_fp: str
    etag: str | None
    modified: str | None


@dataclass(frozen=True)
class CrawlRecord:
    crawl_id: str
    seq: int
    complete: bool
    full: bool
    resumed: bool


class Frontier:
    """The frontier file of one source, seen from one crawl.

    With ``buffered=True`` (what a crawl uses) writes collect in memory and reach the file
    in one transaction at ``commit()``; reads see the buffer. The crawl context commits
    the spool first and the frontier after it, so a page is never done on disk before its
    items and discovered requests are: one fsync per batch instead of one per page.
    """

    def __init__(self, path: str | Path, crawl_id: str, *, buffered: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.crawl_id = crawl_id
        self.buffered = buffered
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a killed process
        self._db.executescript(_SCHEMA)
        self._pending: dict[str, bytes] = {}
        self._marks: dict[str, int] = {}
        self._entries: dict[str, tuple[str, str | None, str | None]] = {}

    def close(self) -> None:
        self.commit()
        self._db.close()

    @property
    def dirty(self) -> bool:
        return bool(self._pending or self._marks or self._entries)

    def commit(self) -> None:
        """Write every buffered change in one transaction (pending rows before the marks)."""
        if not self.dirty:
            return
        pending = [(self.crawl_id, fp, PENDING, blob) for fp, blob in self._pending.items()]
        marks = [(self.crawl_id, fp, state) for fp, state in self._marks.items()]
        entries = [(url, *e, self.crawl_id) for url, e in self._entries.items()]
        with immediate(self._db):
            if pending:
                self._db.executemany(_INSERT_PENDING, pending)
            if marks:
                self._db.executemany(_MARK, marks)
            if entries:
                self._db.executemany(_SAVE_ENTRY, entries)
        self._pending.clear()
        self._marks.clear()
        self._entries.clear()

    # crawls ---------------------------------------------------------------------------------
    def begin(self, full_refresh_every: int) -> CrawlRecord:
        """Register (or resume) this crawl; every ``full_refresh_every``-th crawl refetches everything."""
        row = self._db.execute("SELECT seq, complete, full FROM crawls WHERE crawl_id=?", (self.crawl_id,)).fetchone()
        if row:
            return CrawlRecord(self.crawl_id, row[0], bool(row[1]), bool(row[2]), resumed=True)
        seq = (self._db.execute("SELECT max(seq) FROM crawls").fetchone()[0] or 0) + 1
        has_entries = self._db.execute("SELECT 1 FROM entries LIMIT 1").fetchone() is not None
        full = not has_entries or (full_refresh_every > 0 and seq % full_refresh_every == 0)
        self._db.execute("INSERT INTO crawls(crawl_id, seq, started, full) VALUES (?,?,?,?)",
                         (self.crawl_id, seq, time.time(), int(full)))
        return CrawlRecord(self.crawl_id, seq, False, full, resumed=False)

    def finish(self, complete: bool) -> None:
        self.commit()
        self._db.execute("UPDATE crawls SET finished=?, complete=? WHERE crawl_id=?",
                         (time.time(), int(complete), self.crawl_id))

    # requests -------------------------------------------------------------------------------
    def add_pending(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> None:
        for fp, req in rows:
            if fp not in self._pending and fp not in self._marks:
                self._pending[fp] = pickle.dumps(req, protocol=5)
        if not self.buffered:
            self.commit()

    def mark(self, fp: str, state: int) -> None:
        """Done wins over failed, failed over pending; a page done once stays done (a page
        that failed and then succeeded on resume is done, or the crawl never completes)."""
        if _RANK[state] > _RANK[self._marks.get(fp, PENDING)]:
            self._marks[fp] = state
        if not self.buffered:
            self.commit()

    def is_done(self, fp: str) -> bool:
        if self._marks.get(fp) == DONE:
            return True
        row = self._db.execute("SELECT state FROM requests WHERE crawl_id=? AND fp=?", (self.crawl_id, fp)).fetchone()
        return bool(row and row[0] == DONE)

    def pending(self) -> Iterator[dict[str, Any]]:
        """Requests discovered and not finished (read at resume, before any buffering)."""
        cur = self._db.execute("SELECT request FROM requests WHERE crawl_id=? AND state=? AND request IS NOT NULL",
                               (self.crawl_id, PENDING))
        while rows := cur.fetchmany(1000):  # bounded memory on a 100k-page frontier
            for (blob,) in rows:
                try:
                    yield pickle.loads(blob)  # noqa: S301 - written by this process family, in our data dir
                except Exception:
                    continue

    def counts(self) -> dict[str, int]:
        self.commit()
        out = {"pending": 0, "done": 0, "failed": 0}
        names = {PENDING: "pending", DONE: "done", FAILED: "failed"}
        for state, n in self._db.execute("SELECT state, count(*) FROM requests WHERE crawl_id=? GROUP BY state",
                                         (self.crawl_id,)):
            out[names.get(state, "pending")] = n
        return out

    # incremental state ----------------------------------------------------------------------
    def entry(self, url: str) -> EntryState | None:
        if url in self._entries:
            return EntryState(*self._entries[url])
        row = self._db.execute("SELECT entry_fp, etag, modified FROM entries WHERE url=?", (url,)).fetchone()
        return EntryState(*row) if row else None

    def save_entry(self, url: str, entry_fp: str, etag: str | None, modified: str | None) -> None:
        self._entries[url] = (entry_fp, etag, modified)
        if not self.buffered:
            self.commit()


_INSERT_PENDING = "INSERT OR IGNORE INTO requests(crawl_id, fp, state, request) VALUES (?,?,?,?)"
_RANK = {PENDING: 0, FAILED: 1, DONE: 2}
_MARK = ("INSERT INTO requests(crawl_id, fp, state) VALUES (?,?,?) "
         "ON CONFLICT(crawl_id, fp) DO UPDATE SET state=CASE WHEN state = 1 OR excluded.state = 1 THEN 1 "
         "ELSE max(state, excluded.state) END, request=NULL "
         "WHERE excluded.state > 0")
_SAVE_ENTRY = "INSERT OR REPLACE INTO entries(url, entry_fp, etag, modified, crawl_id) VALUES (?,?,?,?,?)"
