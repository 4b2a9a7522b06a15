"""The column snapshot answers exactly as SQL does: same totals, same pages, same facets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from narcwatch.index.sqlite import SqliteStore

from .conftest import T0, corpus, extraction, listing, week


def world() -> list[Any]:
    """The contract corpus plus rows that stress ties, nulls, empty values and a second week."""
    extra = [(listing("delta", str(i), f"Bulk crystal lot {i}", price=None if i % 4 == 0 else str(10 * (i % 5)),
                      vendor=None if i % 7 == 0 else f"Vend{i % 3}", at=week(i % 3), crawl=f"c{i % 3}",
                      currency="EUR" if i % 2 else "USD", category="" if i % 5 == 0 else "Stims"),
              extraction("cocaine" if i % 2 else "ketamine", "stimulant" if i % 2 else "dissociative",
                         grams=None if i % 3 == 0 else "2", usd=str(5 + i), ships_from=("NL", "EU") if i % 2 else ()))
             for i in range(40)]
    return corpus() + extra


@pytest.fixture(scope="module", params=["default", "narrowing"])
def stores(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqliteStore, SqliteStore]]:
    """``narrowing``: the page is always cut down by a numpy partition and ordered in chunks
    (what a million-row store does), here on a world small enough to compare row by row."""
    d: Path = tmp_path_factory.mktemp("cols")
    fast, plain = SqliteStore(d / "fast.sqlite"), SqliteStore(d / "plain.sqlite", columns=False)
    if request.param == "narrowing":
        fast._narrow_after, fast._order_chunk = -1000, 7
    for s in (fast, plain):
        s.ingest(world())
        s.end_crawl("gamma", "c9", True, week(5))
        s.end_crawl("gamma", "c10", True, week(6))  # gamma:7 is removed
    assert fast.warm()
    yield fast, plain
    fast.close()
    plain.close()


class Q(NamedTuple):
    query: str
    sort: str | None = None
    facets: tuple[str, ...] = ()
    limit: int = 100
    offset: int = 0


_QUERIES = [
    Q("*"), Q("*", limit=5), Q("*", limit=5, offset=7), Q("*", sort="-price", limit=7), Q("*", sort="price", limit=9),
    Q("*", sort="usd_per_gram", limit=3), Q("*", sort="-first_seen", limit=6), Q("*", sort="key", limit=4),
    Q("class:nitazene", facets=("market", "ships_from", "vendor", "class")),
    Q("class:stimulant AND ships_from:EU", facets=("currency", "category", "substance")),
    Q("vendor:vend* OR vendor:drgreen", facets=("vendor",)), Q("vendor:*"), Q("category:*"), Q("-category:*"),
    Q("price:[10 TO 30]"), Q("price:{10 TO 30}"), Q("usd_per_gram:<3"), Q("price:*"), Q("NOT price:*"),
    Q("first_seen:>=2026-11-09", facets=("market",)), Q("last_seen:[2026-11-02 TO 2026-11-09]"),
    Q("available:false"), Q("removed:true"), Q("novel:true"), Q("type:post"), Q("currency:eur AND -ships_from:eu"),
    Q("substance:coc?ine"), Q("ships_to:ww"), Q("event:NEW"), Q("market:delta", facets=("type", "source")),
    Q("crystal", facets=("market", "class")), Q("crystal AND price:<30", facets=("vendor",)),
    Q("crystal AND price:<30", sort="-price"), Q("wallet:*", facets=("wallet",)), Q("key:alpha\\:1"),
    # several required text terms: one FTS5 MATCH for their conjunction, then the filters
    Q("crystal lot", facets=("vendor", "class")), Q("bulk crystal AND price:<30"),
    Q('"bulk crystal" lot AND -currency:eur', facets=("market",)), Q("crystal lot AND NOT vendor:vend1", sort="-price"),
]


@pytest.mark.parametrize("q", _QUERIES, ids=[f"{q.query}|{q.sort}|{q.limit}+{q.offset}" for q in _QUERIES])
def test_columns_answer_like_sql(stores: tuple[SqliteStore, SqliteStore], q: Q) -> None:
    fast, plain = stores
    a = fast.search(q.query, sort=q.sort, facets=q.facets, limit=q.limit, offset=q.offset)
    b = plain.search(q.query, sort=q.sort, facets=q.facets, limit=q.limit, offset=q.offset)
    assert (a.total, a.keys, a.facets) == (b.total, b.keys, b.facets)
    assert [h.doc for h in a.hits] == [h.doc for h in b.hits]


def test_own_writes_keep_the_snapshot_current_and_other_writers_are_caught_up(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.sqlite")
    s.ingest(corpus())
    assert s.warm() and s._fresh_columns() is not None
    s.ingest([(listing("omega", "1", "Etonitazene 1g", crawl="c2", at=week(1)), extraction("etonitazene", "nitazene"))])
    assert s._fresh_columns() is not None  # the ingest laid its rows over the snapshot
    assert s.search("class:nitazene", facets=("market",)).facets["market"][-1].value == "omega"
    other = SqliteStore(tmp_path / "s.sqlite", columns=False)  # another connection writes
    other.ingest([(listing("omega", "2", "Etonitazene 2g", crawl="c2", at=week(1)), extraction("etonitazene", "nitazene"))])
    assert s._cols is not None and s._cols.stamp != s._stamp()  # behind ...
    assert s._fresh_columns() is s._cols  # ... and caught up from the changelog, not dropped
    assert s.search("market:omega", facets=("market",)).facets["market"][0].count == 2
    other.close()
    s.close()


def test_a_write_without_a_delta_is_caught_up_from_the_log(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.sqlite")
    s.ingest(corpus())
    assert s.warm()
    doc = next(s.iter_documents())
    before = s.search("class:stimulant").total
    s.update_extractions([{**doc, "classes": ["stimulant"]}])  # re-extraction: no delta, but logged
    assert s._cols is not None and s._cols.stamp != s._stamp()
    assert s._fresh_columns() is s._cols
    assert s.search("class:stimulant", facets=("class",)).total == before + 1
    s.close()


def _same_snapshot(a: Any, b: Any) -> None:
    """``a`` (kept up to date) answers like ``b`` (rebuilt): same arrays over b's rids, nothing alive past them."""
    n = b.size
    assert not a.alive[n:].any()
    assert (a.alive[:n] == b.alive).all()
    for name in b.codes:  # codes may be numbered differently: compare the values they stand for
        va = [a.values[name][c] if c >= 0 else None for c in a.codes[name][:n][b.alive]]
        vb = [b.values[name][c] if c >= 0 else None for c in b.codes[name][b.alive]]
        assert va == vb, name
    for group in ("floats", "dates", "flags"):
        for name, col in getattr(b, group).items():
            assert getattr(a, group)[name][:n][b.alive].tolist() == pytest.approx(col[b.alive].tolist(), nan_ok=True), name
    for name, post in b.postings.items():
        assert {v: sorted(r.tolist()) for v, r in a.postings[name].items()} == {v: sorted(r.tolist()) for v, r in post.items()}, name


def _bulk(n: int, crawl: str = "c5", at: int = 5) -> list[Any]:
    return [(listing("zeta", f"b{i}", f"Bulk lot {i}", crawl=crawl, at=week(at), vendor=f"Bulk{i % 7}", price=str(10 + i)),
             extraction("cocaine", "stimulant", grams="1", usd=str(10 + i), ships_from=("DE",))) for i in range(n)]


class Step(NamedTuple):
    name: str
    run: Any  # (store) -> None


_STEPS = [
    Step("new listings", lambda s: s.ingest(corpus())),
    Step("price change", lambda s: s.ingest([(listing("alpha", "2", "Protonitazene 1g", price="70", vendor="NitroLab",
                                                      crawl="c2", at=week(1)),
                                              extraction("protonitazene", "nitazene", grams="1", usd="70"))])),
    Step("text and terms change", lambda s: s.ingest([(listing("alpha", "3", "Cocaine 2g flake", price="80",
                                                               vendor="SnowWhite", crawl="c2", at=week(1)),
                                                       extraction("ketamine", "dissociative", ships_to=("EU",)))])),
    Step("one value of several changes", lambda s: s.ingest([(listing("alpha", "3", "Cocaine 2g flake", price="80",
                                                                      vendor="SnowWhite", crawl="c3", at=week(2)),
                                                              extraction("ketamine", "dissociative", ships_to=("EU", "US")))])),
    Step("new vendor value", lambda s: s.ingest([(listing("alpha", "4", "Mephedrone 5g", vendor="NewGuy", currency="GBP",
                                                          category="Cathinones", crawl="c2", at=week(1)),
                                                  extraction("mephedrone", "cathinone"))])),
    Step("removal", lambda s: (s.end_crawl("gamma", "c9", True, week(5)), s.end_crawl("gamma", "c10", True, week(6)))),
    Step("reappearance", lambda s: s.ingest([(listing("gamma", "7", "Alprazolam 2mg x100", price="150", vendor="BenzoBarn",
                                                      crawl="c11", at=week(7)), extraction("alprazolam", "benzodiazepine"))])),
    Step("seen unchanged", lambda s: s.mark_seen([("alpha:1", "c12", week(8)), ("beta:9", "c12", week(8))])),
    Step("growth past the capacity", lambda s: s.ingest(_bulk(1500))),
    Step("late replay of an older crawl", lambda s: s.ingest([(listing("alpha", "2", "Protonitazene 1g", price="95",
                                                                       vendor="NitroLab", crawl="c0", at=T0 - timedelta(days=1)),
                                                               extraction("protonitazene", "nitazene"))])),
    Step("replayed batch", lambda s: s.ingest(corpus())),
]


def test_incremental_snapshot_equals_a_rebuilt_one_after_every_step(tmp_path: Path) -> None:
    """The snapshot kept current through a mixed sequence of writes equals ``load`` after each one."""
    from narcwatch.index.sqlite_columns import load

    s = SqliteStore(tmp_path / "s.sqlite")
    assert s.warm()  # an empty store's snapshot, grown from nothing
    for step in _STEPS:
        step.run(s)
        assert s._fresh_columns() is not None, step.name
        _same_snapshot(s._cols, load(s._db))
    s.close()


@pytest.mark.parametrize("writer_columns", [False, True], ids=["plain-writer", "writer-with-snapshot"])
def test_a_reader_catches_up_with_another_connections_writes_after_every_step(tmp_path: Path,
                                                                               writer_columns: bool) -> None:
    """``serve`` beside the daemon: the reader's snapshot follows the writer's commits
    through the changelog (no SQL fallback, no rebuild) and equals ``load`` after each."""
    from narcwatch.index.sqlite_columns import load

    writer = SqliteStore(tmp_path / "s.sqlite", columns=writer_columns)
    reader = SqliteStore(tmp_path / "s.sqlite")
    assert reader.warm() and (writer.warm() or not writer_columns)
    built = reader._cols
    for step in _STEPS:
        step.run(writer)
        assert reader._fresh_columns() is built, step.name  # the same snapshot, caught up
        _same_snapshot(built, load(reader._db))
        if writer_columns:
            assert writer._fresh_columns() is not None, step.name
            _same_snapshot(writer._cols, load(writer._db))
    assert reader._loading is None  # never rebuilt
    writer.close()
    reader.close()


def test_a_writer_catches_up_with_another_writer_before_laying_its_own_delta(tmp_path: Path) -> None:
    from narcwatch.index.sqlite_columns import load

    a, b = SqliteStore(tmp_path / "s.sqlite"), SqliteStore(tmp_path / "s.sqlite")
    assert a.warm() and b.warm()
    for i, step in enumerate(_STEPS):
        step.run(a if i % 2 else b)
        for s in (a, b):
            assert s._fresh_columns() is not None, step.name
            _same_snapshot(s._cols, load(s._db))
    a.close()
    b.close()


def test_a_reader_follows_a_writer_process(tmp_path: Path) -> None:
    """The same across processes: a writer subprocess ingests and ends a crawl; this
    process's snapshot catches up and answers like a rebuilt one."""
    import pickle
    import subprocess
    import sys

    from narcwatch.index.sqlite_columns import load

    path = tmp_path / "s.sqlite"
    reader = SqliteStore(path)
    reader.ingest(corpus())
    assert reader.warm()
    built = reader._cols
    (tmp_path / "batch.pickle").write_bytes(pickle.dumps(_bulk(300)))
    script = ("import pickle, sys; from narcwatch.index.sqlite import SqliteStore; from datetime import datetime, timezone\n"
              "s = SqliteStore(sys.argv[1], columns=False)\n"
              "s.ingest(pickle.loads(open(sys.argv[2], 'rb').read()))\n"
              "for c in ('c20', 'c21'): s.end_crawl('gamma', c, True, datetime(2027, 1, 1, tzinfo=timezone.utc))\n"
              "s.close()\n")
    subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "batch.pickle")], check=True, timeout=120)
    assert reader._fresh_columns() is built
    _same_snapshot(built, load(reader._db))
    assert reader.search("market:zeta", facets=("market",)).facets["market"][0].count == 300
    assert reader.search("market:gamma AND removed:true").total == reader.search("market:gamma").total > 0
    reader.close()


@pytest.mark.parametrize("limit", ["pruned", "too_far"])
def test_a_reader_too_far_behind_rebuilds_instead(tmp_path: Path, limit: str) -> None:
    writer, reader = SqliteStore(tmp_path / "s.sqlite", columns=False), SqliteStore(tmp_path / "s.sqlite")
    writer.ingest(corpus())
    assert reader.warm()
    reader.columns_settle = 0.0
    writer.changelog_keep = 5
    if limit == "too_far":
        writer.changelog_keep, reader.catch_up_max = 10_000, 10
    writer.ingest(_bulk(40))
    writer.end_crawl("zeta", "c5", True, week(6))  # prunes the log to its newest entries
    logged = writer._db.execute("SELECT count(*) FROM changelog").fetchone()[0]
    assert logged == 5 if limit == "pruned" else logged > reader.catch_up_max
    assert reader._fresh_columns() is None and reader._loading is not None  # SQL now, rebuilt in the background
    reader._loading.join(timeout=60)
    assert reader._fresh_columns() is not None
    assert reader.search("market:zeta", facets=("market",)).facets["market"][0].count == 40
    writer.close()
    reader.close()


_ORACLE = ["crystal", "crystal lot", '"bulk crystal" lot', "title:bulk AND text:stealth", "lot AND NOT crystal",
           "etonitazene OR class:stimulant", "crystal AND vendor:vend1", "-crystal", "crystal AND price:<30 AND -eur",
           # NOT over a field some documents lack: those documents match it
           '"bulk crystal" lot AND -currency:eur', "-vendor:vend1", "NOT category:stims"]


@pytest.mark.parametrize("query", _ORACLE)
def test_totals_and_keys_match_the_in_memory_evaluator(stores: tuple[SqliteStore, SqliteStore], query: str) -> None:
    """An independent oracle: ``matches`` over every stored document decides what should match."""
    from narcwatch.index.query import matches

    fast, plain = stores
    every = fast.search("*", limit=10_000).hits
    expected = {h.key for h in every if matches(query, h.doc)}
    for s in (fast, plain):
        r = s.search(query, limit=10_000)
        assert (r.total, set(r.keys)) == (len(expected), expected)


def test_the_snapshot_is_rebuilt_in_the_background_once_writes_settle(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.sqlite")
    s.ingest(corpus())
    s.columns_settle = 3600.0
    assert s._fresh_columns() is None and s._loading is None  # writes just happened: no reload yet
    s.columns_settle = 0.0
    assert s._fresh_columns() is None and s._loading is not None
    s._loading.join(timeout=60)
    cols = s._fresh_columns()
    assert cols is not None and s.search("class:nitazene").total == 4
    s.close()


def test_serve_starts_the_snapshot_in_the_background(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.sqlite")
    s.ingest(corpus())
    s._cols = None  # as a freshly opened store
    s.warm_in_background()
    assert s._loading is not None
    s._loading.join(timeout=60)
    assert s._fresh_columns() is not None
    s.close()


def test_appended_postings_reuse_their_buffer_and_leave_earlier_views_intact() -> None:
    """New rows append in place (no copy of a whole posting per batch), a reader's earlier
    view of a posting never changes, and an insert in the middle or a drop still works."""
    import numpy as np

    from narcwatch.index.sqlite_columns import _add, _drop

    post: dict[str, np.ndarray] = {}
    spare: dict[str, np.ndarray] = {}
    views, buffers = [], set()
    for start in range(0, 5000, 100):
        _add(post, "NL", np.arange(start, start + 100, dtype=np.int64), spare)
        views.append(post["NL"])
        buffers.add(id(spare.get("NL")))
    assert post["NL"].tolist() == list(range(5000))
    assert all(v.tolist() == list(range(len(v))) for v in views)  # what readers held is unchanged
    assert post["NL"].base is spare["NL"]  # a view of the buffer, not a copy
    assert 1 < len(buffers) < 20  # grown by a quarter when full: a few buffers, not one per batch
    _drop(post, "NL", np.array([10, 4999], dtype=np.int64))
    _add(post, "NL", np.array([10, 6000], dtype=np.int64), spare)  # a middle row back, a new row past the end
    assert post["NL"].tolist() == [*range(4999), 6000]
    _add(post, "NL", np.array([6001], dtype=np.int64), spare)
    assert post["NL"].tolist() == [*range(4999), 6000, 6001]
    assert views[0].tolist() == list(range(100))
