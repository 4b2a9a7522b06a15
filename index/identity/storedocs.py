"""Current documents read from a SQLite store file without taking the writer's lock.

The document is rebuilt by the store's own row decoder (``_DOC_COLUMNS``/``_DOC_FROM``/
``_doc`` in ``index.sqlite``), so identity resolution follows the store's schema instead
of duplicating it: when the layout of ``docs``/``snapshots``/``contents`` changes, only
``index.sqlite`` changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from narcwatch.index.sqlite import _DOC_COLUMNS, _DOC_FROM, _doc

__all__ = ["iter_current_documents"]


def iter_current_documents(db: sqlite3.Connection, *, with_vendor: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(type, document)`` of every current listing and post, in key order.

    ``db`` is a (read-only) connection to the store file; ``with_vendor`` keeps only
    documents that name a vendor/author. A row whose stored content does not decode is
    skipped: one corrupt row must not hide every account.
    """
    where = "WHERE d.vendor_lc IS NOT NULL AND d.vendor_lc != '' " if with_vendor else ""
    cur = db.execute(f"SELECT d.type, {_DOC_COLUMNS} FROM {_DOC_FROM} {where}ORDER BY d.key")
    while rows := cur.fetchmany(500):
        for dtype, *row in rows:
            try:
                doc = _doc(row)
            except (ValueError, TypeError, AttributeError):
                continue
            yield str(dtype), doc
