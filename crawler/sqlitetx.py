"""One write transaction on an autocommit SQLite connection, and a read-only connection.

``BEGIN IMMEDIATE`` takes the write lock up front, so a second writer waits on
``busy_timeout`` instead of failing half-way with SQLITE_BUSY on lock upgrade.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


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


def read_only(path: Path, **kwargs: Any) -> sqlite3.Connection:
    """A read-only connection to the database at ``path``. It is opened by URI (``mode=ro``),
    so the path is written as a proper file URI: a ``?``, ``#`` or ``%`` in a directory name
    would otherwise start a query or fragment and open another file."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, **kwargs)
