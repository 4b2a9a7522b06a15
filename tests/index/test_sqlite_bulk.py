"""Bulk load (``SqliteStore.bulk_load`` / ``ingest_many(bulk=True)``): the deferred indexes
and full text come back at its end, after a crash (on the next open), and when another
writer ingests during the load. ``test_sqlite_batching`` checks a bulk load reads the same
as one item per call; these are the states in between.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from narcwatch.index.sqlite import SqliteStore
from narcwatch.index.sqlite_schema import BULK_DEFERRED

from .conftest import corpus, extraction, listing, week


def _indexes(s: SqliteStore) -> set[str]:
    return {r[0] for r in s._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def _item(site: str, title: str, *, crawl: str = "c1", at: int = 0) -> tuple[Any, Any]:
    return (listing("alpha", site, title, crawl=crawl, at=week(at)),
            extraction("etonitazene", "nitazene", grams="5", usd="200"))


def _check_fts(s: SqliteStore) -> None:
    s._db.execute("INSERT INTO docs_fts(docs_fts) VALUES ('integrity-check')")
    # every docs row is in FTS5 exactly once: a row's own words find it
    for rid, title in s._db.execute("SELECT rid, title FROM docs").fetchall():
        word = title.split()[-1]
        n = s._db.execute("SELECT count(*) FROM docs_fts WHERE docs_fts MATCH ? AND rowid = ?", (f'"{word}"', rid))
        assert n.fetchone()[0] == 1, (rid, title)


def test_bulk_load_drops_the_deferred_indexes_and_restores_them(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.sqlite")
    before = _indexes(s)
    assert set(BULK_DEFERRED) <= before
    with s.bulk_load():
        assert not set(BULK_DEFERRED) & _indexes(s)
        s.ingest(corpus())
        assert s.search("etonitazene").total == 0  # full text waits for the end of the load
    assert _indexes(s) == before
    assert s.search("etonitazene").total >= 1
    assert s._db.execute("SELECT count(*) FROM bulk_load").fetchone()[0] == 0
    _check_fts(s)
    assert s.ingest_seconds["rebuild"] > 0


def test_a_crash_mid_load_is_finished_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    s = SqliteStore(path)
    s.ingest([_item("1", "Etonitazene old stock")])
    before = _indexes(s)
    s._start_bulk()  # the load begins ...
    s.ingest([_item("2", "Etonitazene fresh batch")])
    s.ingest([_item("1", "Etonitazene relabelled", crawl="c2", at=1)])  # a row indexed before the load changes
    s._db.close()  # ... and the process dies before the end: no finish_bulk
    s = SqliteStore(path)
    assert _indexes(s) == before
    assert [h.key for h in s.search("fresh").hits] == ["alpha:2"]
    assert [h.key for h in s.search("relabelled").hits] == ["alpha:1"]
    assert s.search("old").total == 0
    assert s._db.execute("SELECT count(*) FROM bulk_load").fetchone()[0] == 0
    _check_fts(s)
    s.close()


def test_another_writer_during_a_load_defers_its_full_text_too(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    loader, other = SqliteStore(path), SqliteStore(path)
    with loader.bulk_load():
        loader.ingest([_item("1", "Etonitazene first")])
        other.ingest([_item("2", "Etonitazene second")])  # opened before the load: it reads the record
        loader.ingest([_item("3", "Etonitazene third")])
    _check_fts(loader)
    assert sorted(h.key for h in other.search("etonitazene").hits) == ["alpha:1", "alpha:2", "alpha:3"]
    loader.close()
    other.close()


def test_opening_the_store_during_a_load_finishes_it_and_the_loader_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    loader = SqliteStore(path)
    with loader.bulk_load():
        loader.ingest([_item("1", "Etonitazene first")])
        reader = SqliteStore(path)  # cannot tell a running load from a crashed one: finishes it
        assert set(BULK_DEFERRED) <= _indexes(reader)
        loader.ingest([_item("2", "Etonitazene second")])  # no record any more: indexed at once
    _check_fts(loader)
    assert sorted(h.key for h in reader.search("etonitazene").hits) == ["alpha:1", "alpha:2"]
    loader.close()
    reader.close()


def test_ingest_many_yields_each_group_after_its_commit(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    s = SqliteStore(path)
    batches = [[_item(str(i), f"Etonitazene lot{i}")] for i in range(5)]
    other = SqliteStore(path)
    groups = []
    for events in s.ingest_many(batches, group=2):
        # committed: another connection sees every listing of the groups yielded so far
        groups.append(sum(e.type.value == "NEW" for e in events))
        assert other.counts()["listings"] == sum(groups)
    assert groups == [2, 2, 1]
    s.close()
    other.close()


def test_opening_a_store_takes_no_write_lock_when_no_load_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    writer = SqliteStore(path)
    writer._db.execute("BEGIN IMMEDIATE")  # another process mid-write
    try:
        reader = SqliteStore(path)  # would fail with 'database is locked' if opening wrote
        assert reader.counts()["listings"] == 0
        reader.close()
    finally:
        writer._db.execute("ROLLBACK")
        writer.close()


def test_a_pipelined_load_indexes_each_group_in_its_own_transaction(tmp_path: Path) -> None:
    # One listing per group: the writer indexes a group's full text before its COMMIT (and
    # moves ``bulk_load.fts_from`` on), so a later group that changes an earlier listing's
    # text must re-index it, not leave the old words findable or index a row twice.
    s = SqliteStore(tmp_path / "s.sqlite")
    batches = [[_item(str(i), f"Etonitazene lot{i}")] for i in range(3)]
    batches.append([_item("0", "Relabelled tablets", crawl="c2", at=1)])
    committed = []
    for _ in s.ingest_many(batches, group=1, bulk=True):
        committed.append(s._db.execute("SELECT fts_from FROM bulk_load").fetchone())
    assert committed[0] is not None and committed[0][0] >= 2  # the first group's text is in already
    assert s.search("lot0").total == 0 and [h.key for h in s.search("relabelled").hits] == ["alpha:0"]
    assert sorted(h.key for h in s.search("etonitazene").hits) == ["alpha:1", "alpha:2"]
    _check_fts(s)  # each row's own words find it exactly once
    s.close()
