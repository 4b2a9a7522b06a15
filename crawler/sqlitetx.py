"""One write transaction on an autocommit SQLite connection.

``BEGIN IMMEDIATE`` takes the write lock up front, so a second writer waits on
``busy_timeout`` instead of failing half-way with SQLITE_BUSY on lock upgrade.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """COMMIT on success, ROLLBACK on any exception (KeyboardInterrupt included)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
