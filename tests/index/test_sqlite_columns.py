"""The column snapshot answers exactly as SQL does: same totals, same pages, same facets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from narcwatch.index.sqlite import SqliteStore

from .conftest import corpus, extraction, listing, week


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
]


@pytest.mark.parametrize("q", _QUERIES, ids=[f"{q.query}|{q.sort}|{q.limit}+{q.offset}" for q in _QUERIES])
def test_columns_answer_like_sql(stores: tuple[SqliteStore, SqliteStore], q: Q) -> None:
    fast, plain = stores
    a = fast.search(q.query, sort=q.sort, facets=q.facets, limit=q.limit, offset=q.offset)
    b = plain.search(q.query, sort=q.sort, facets=q.facets, limit=q.limit, offset=q.offset)
    assert (a.total, a.keys, a.facets) == (b.total, b.keys, b.facets)
    assert [h.doc for h in a.hits] == [h.doc for h in b.hits]


def test_a_write_retires_the_snapshot_until_rebuilt(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.sqlite")
    s.ingest(corpus())
    assert s.warm() and s._fresh_columns() is not None
    s.ingest([(listing("omega", "1", "Etonitazene 1g", crawl="c2", at=week(1)), extraction("etonitazene", "nitazene"))])
    assert s._cols is not None and s._cols.stamp != s._stamp()  # stale: searches use SQL meanwhile
    assert s.search("class:nitazene", facets=("market",)).facets["market"][-1].value == "omega"
    other = SqliteStore(tmp_path / "s.sqlite", columns=False)  # another connection writes
    assert s.warm()
    other.ingest([(listing("omega", "2", "Etonitazene 2g", crawl="c2", at=week(1)), extraction("etonitazene", "nitazene"))])
    assert s._fresh_columns() is None
    assert s.search("market:omega").total == 2
    other.close()
    s.close()


_ORACLE = ["crystal", "crystal lot", '"bulk crystal" lot', "title:bulk AND text:stealth", "lot AND NOT crystal",
           "etonitazene OR class:stimulant", "crystal AND vendor:vend1", "-crystal", "crystal AND price:<30 AND -eur"]


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
