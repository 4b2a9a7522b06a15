"""Identity reads current documents through the store's own decoder (schema v2), read-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from narcwatch.index.identity import load_accounts
from narcwatch.index.identity.storedocs import iter_current_documents
from narcwatch.index.sqlite import SqliteStore

from ..conftest import corpus


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"
    store = SqliteStore(path)
    store.ingest(corpus())
    store.close()
    return path


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


@pytest.mark.parametrize("with_vendor", [False, True])
def test_documents_equal_the_stores_current_document(store_file: Path, with_vendor: bool) -> None:
    db = _ro(store_file)
    try:
        got = list(iter_current_documents(db, with_vendor=with_vendor))
    finally:
        db.close()
    store = SqliteStore(store_file)
    try:
        for dtype, doc in got:
            hist = store.listing(doc["key"])
            assert hist is not None and hist.current == doc and doc["type"] == dtype
    finally:
        store.close()
    keys = [d["key"] for _, d in got]
    assert keys == sorted(keys) and len(keys) == len(set(keys))
    db = _ro(store_file)
    try:
        where = " WHERE vendor_lc IS NOT NULL AND vendor_lc != ''" if with_vendor else ""
        (n,) = db.execute(f"SELECT count(*) FROM docs{where}").fetchone()
    finally:
        db.close()
    assert len(keys) == n > 0
    assert all(d.get("vendor") for _, d in got) or not with_vendor


def test_corrupt_content_row_is_skipped_not_fatal(store_file: Path) -> None:
    db = sqlite3.connect(store_file)
    (bad,) = db.execute("SELECT s.content FROM docs d JOIN snapshots s ON s.seq = d.snap WHERE d.key = 'alpha:2'").fetchone()
    db.execute("UPDATE contents SET body = '{not json' WHERE id = ?", (bad,))
    db.commit()
    db.close()
    db = _ro(store_file)
    try:
        keys = [d["key"] for _, d in iter_current_documents(db)]
    finally:
        db.close()
    assert "alpha:2" not in keys and "alpha:1" in keys


def test_accounts_from_a_v2_store(store_file: Path) -> None:
    accounts = load_accounts(store_file)
    nitro = accounts["alpha/nitrolab"]
    assert nitro.listings == 1 and nitro.substances == {"protonitazene": 1}
    assert nitro.first_seen and nitro.capture_id
