"""The evidence manifest: capture id -> WARC file, offset, sha256 (SQLite, WAL).

SQLite rather than JSONL because ``evidence show`` looks one capture up among millions
and because several crawl processes append at once; WAL keeps a committed row through
``kill -9``. A crawl adds rows with ``buffered=True`` and commits them in batches
(``flush``), before the items that cite them reach the spool.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from narcwatch.crawler.models import Capture
from narcwatch.crawler.sqlitetx import immediate

__all__ = ["Manifest"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    id           TEXT PRIMARY KEY,
    source       TEXT NOT NULL,
    crawl_id     TEXT NOT NULL DEFAULT '',
    url          TEXT NOT NULL,
    status       INTEGER NOT NULL,
    fetched_at   TEXT NOT NULL,       -- ISO 8601, UTC
    sha256       TEXT NOT NULL,       -- of the response payload (body as received, decoded transfer)
    content_type TEXT NOT NULL DEFAULT '',
    length       INTEGER NOT NULL,
    warc_file    TEXT NOT NULL,       -- relative to the evidence folder
    warc_offset  INTEGER NOT NULL,    -- of the response record
    rendered     INTEGER NOT NULL DEFAULT 0,
    screenshot   TEXT
);
CREATE INDEX IF NOT EXISTS captures_url ON captures(url);
CREATE INDEX IF NOT EXISTS captures_file ON captures(warc_file);
"""

_COLS = ("id", "source", "crawl_id", "url", "status", "fetched_at", "sha256", "content_type", "length",
         "warc_file", "warc_offset", "rendered", "screenshot")


_INSERT = f"INSERT OR REPLACE INTO captures({','.join(_COLS)}) VALUES ({','.join('?' * len(_COLS))})"


class Manifest:
    def __init__(self, path: str | Path, *, buffered: bool = False):
        self.path = Path(path)
        self.buffered = buffered
        self._rows: list[list[object]] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self.flush()
        self._db.close()

    def add(self, capture: Capture) -> None:
        row = capture.model_dump()
        row["fetched_at"] = capture.fetched_at.isoformat()
        row["rendered"] = int(capture.rendered)
        self._rows.append([row[c] for c in _COLS])
        if not self.buffered:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows in one transaction."""
        if not self._rows:
            return
        with immediate(self._db):
            self._db.executemany(_INSERT, self._rows)
        self._rows.clear()

    def get(self, capture_id: str) -> Capture | None:
        row = self._db.execute(f"SELECT {','.join(_COLS)} FROM captures WHERE id = ?", (capture_id,)).fetchone()
        return None if row is None else self._capture(row)

    def find(self, prefix: str, limit: int = 10) -> list[Capture]:
        """Captures whose id starts with ``prefix`` (for ids typed by hand)."""
        like = prefix.replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
        rows = self._db.execute(f"SELECT {','.join(_COLS)} FROM captures WHERE id LIKE ? ESCAPE '\\' LIMIT ?",
                                (like, limit)).fetchall()
        return [self._capture(r) for r in rows]

    def __iter__(self) -> Iterator[Capture]:
        for row in self._db.execute(f"SELECT {','.join(_COLS)} FROM captures ORDER BY warc_file, warc_offset"):
            yield self._capture(row)

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM captures").fetchone()[0]

    @staticmethod
    def _capture(row: tuple[object, ...]) -> Capture:
        data = dict(zip(_COLS, row))
        data["fetched_at"] = datetime.fromisoformat(str(data["fetched_at"]))
        data["rendered"] = bool(data["rendered"])
        return Capture(**data)
