"""The spool: a durable, append-only queue between crawling and ingest.

Why SQLite in WAL mode: a committed ``put`` survives ``kill -9`` of the writer, a reader
never blocks the writer, and both sides can be separate processes. Exactly-once is
built from two halves: producers dedupe on an idempotency key (a resumed crawl that
re-yields an item inserts nothing), and consumers keep a committed offset and ingest
idempotently, so replaying the items after the last acknowledged one is harmless.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from narcwatch.crawler.sqlitetx import immediate

__all__ = ["Spool", "SpoolEntry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    key     TEXT NOT NULL UNIQUE,     -- idempotency key chosen by the producer
    kind    TEXT NOT NULL,            -- listing | post | vendor | crawl_end | ...
    source  TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,            -- JSON
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS offsets (
    consumer TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class SpoolEntry:
    seq: int
    key: str
    kind: str
    source: str
    payload: dict[str, Any]


class Spool:
    def __init__(self, path: str | Path, timeout: float = 30.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # producer side -------------------------------------------------------------------
    def put(self, key: str, kind: str, payload: dict[str, Any], source: str = "") -> bool:
        """Append one item; ``False`` if an item with this key is already spooled."""
        return self.put_many([(key, kind, payload, source)]) == 1

    def put_many(self, rows: Iterable[tuple[str, str, dict[str, Any], str]]) -> int:
        """Append items in one transaction; returns how many were new."""
        now = time.time()
        data = [(k, kind, src, json.dumps(p, default=str, ensure_ascii=False), now) for k, kind, p, src in rows]
        with immediate(self._db):
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO items(key, kind, source, payload, created) VALUES (?,?,?,?,?)", data
            )
            return self._db.total_changes - before

    # consumer side -------------------------------------------------------------------
    def offset(self, consumer: str) -> int:
        row = self._db.execute("SELECT seq FROM offsets WHERE consumer=?", (consumer,)).fetchone()
        return row[0] if row else 0

    def read(self, consumer: str, limit: int = 500) -> list[SpoolEntry]:
        rows = self._db.execute(
            "SELECT seq, key, kind, source, payload FROM items WHERE seq > ? ORDER BY seq LIMIT ?",
            (self.offset(consumer), limit),
        ).fetchall()
        return [SpoolEntry(s, k, kind, src, json.loads(p)) for s, k, kind, src, p in rows]

    def ack(self, consumer: str, seq: int) -> None:
        """Commit the consumer's offset: everything up to ``seq`` is durably processed."""
        with immediate(self._db):
            self._db.execute(
                "INSERT INTO offsets(consumer, seq) VALUES (?, ?) "
                "ON CONFLICT(consumer) DO UPDATE SET seq = max(seq, excluded.seq)",
                (consumer, seq),
            )

    def pending(self, consumer: str) -> int:
        return self._db.execute("SELECT count(*) FROM items WHERE seq > ?", (self.offset(consumer),)).fetchone()[0]

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM items").fetchone()[0]

    def oldest_pending_age(self, consumer: str) -> float | None:
        """Seconds since the oldest unprocessed item was spooled (ingest lag)."""
        row = self._db.execute(
            "SELECT min(created) FROM items WHERE seq > ?", (self.offset(consumer),)
        ).fetchone()
        return None if row[0] is None else time.time() - row[0]

    def iter_all(self, kind: str | None = None) -> Iterator[SpoolEntry]:
        sql = "SELECT seq, key, kind, source, payload FROM items"
        args: tuple[Any, ...] = ()
        if kind:
            sql += " WHERE kind = ?"
            args = (kind,)
        for s, k, knd, src, p in self._db.execute(sql + " ORDER BY seq", args):
            yield SpoolEntry(s, k, knd, src, json.loads(p))
