"""Analyst decisions on links: confirm or split a pair of accounts. They persist in
``identity.sqlite`` in the data directory and win over any automatic link."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["Decision", "DecisionStore"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS decisions (
    a TEXT NOT NULL, b TEXT NOT NULL, verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'split')),
    analyst TEXT NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (a, b))"""


@dataclass(frozen=True)
class Decision:
    a: str
    b: str
    verdict: str  # confirmed | split
    analyst: str
    note: str
    at: str


class DecisionStore:
    """One row per account pair (ordered); the latest decision on a pair replaces the earlier one."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute(_SCHEMA)

    def decide(self, a: str, b: str, verdict: str, analyst: str = "", note: str = "",
               at: datetime | None = None) -> Decision:
        if verdict not in ("confirmed", "split"):
            raise ValueError(f"verdict must be 'confirmed' or 'split', not {verdict!r}")
        if a == b:
            raise ValueError("a decision links two different accounts")
        a, b = min(a, b), max(a, b)
        when = (at or datetime.now(UTC)).isoformat()
        self._db.execute("INSERT OR REPLACE INTO decisions VALUES (?,?,?,?,?,?)", (a, b, verdict, analyst, note, when))
        return Decision(a, b, verdict, analyst, note, when)

    def forget(self, a: str, b: str) -> bool:
        a, b = min(a, b), max(a, b)
        return self._db.execute("DELETE FROM decisions WHERE a = ? AND b = ?", (a, b)).rowcount > 0

    def all(self) -> list[Decision]:
        return [Decision(*r) for r in self._db.execute("SELECT a, b, verdict, analyst, note, at FROM decisions ORDER BY a, b")]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "DecisionStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
