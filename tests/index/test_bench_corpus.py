"""The index benchmark's sandbox corpus: deterministic, realistic, and ingestible as is."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from narcwatch.index.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """``ops.bench.bench_index`` (ops/ is a folder of the checkout, not an installed package)."""
    sys.path.insert(0, str(ROOT))
    try:
        yield importlib.import_module("ops.bench.bench_index")
    finally:
        sys.path.remove(str(ROOT))


def test_the_corpus_is_the_sandbox_world_and_deterministic(bench: ModuleType) -> None:
    a = [x for b in bench.sandbox_batches(300, size=100) for x in b]
    b = [x for b in bench.sandbox_batches(300, size=100) for x in b]
    assert len(a) == 300 and [i.model_dump() for i, _ in a] == [i.model_dump() for i, _ in b]
    assert {i.source for i, _ in a} == {"velvet-market", "nebula-market", "taiga-market"}
    assert {i.price.currency for i, _ in a if i.price} == {"USD", "EUR", "RUB"}
    assert len({i.key for i, _ in a}) == 300 and len({i.vendor for i, _ in a}) > 10
    for item, ext in a:  # the extraction is the truth of the text it comes with
        assert ext.substances and ext.offers and ext.ships_from
        assert all(o.price is not None and str(o.price) in item.description for o in ext.offers)


def test_a_recrawl_sees_the_same_listings_later(bench: ModuleType, tmp_path: Path) -> None:
    first = [x for b in bench.sandbox_batches(200) for x in b]
    again = [x for b in bench.sandbox_batches(200, recrawl_after=300.0) for x in b]
    assert [i.key for i, _ in first] == [i.key for i, _ in again]
    assert all(j.seen_at > i.seen_at and j.crawl_id != i.crawl_id for (i, _), (j, _) in zip(first, again))
    store = SqliteStore(tmp_path / "s.sqlite")
    new = store.ingest(first)
    assert sum(e.type.value == "NEW" for e in new) == 200
    changed = store.ingest(again)
    assert {e.type.value for e in changed} >= {"PRICE_CHANGED"} and not any(e.type.value == "NEW" for e in changed)
    vendor = bench.sandbox_vendors(200, count=1)[0]
    totals = {str(q["query"]): store.search(q["query"], limit=5).total for _, q in bench.sandbox_mix(vendor)}
    assert totals["*"] == 200 and totals["class:nitazene"] > 0
    store.close()


def test_a_recrawl_of_part_of_a_store_comes_from_the_store_s_world(bench: ModuleType) -> None:
    """The world depends on its size: the first 100 listings of a 100-listing world are other
    listings (vendors, titles) than the first 100 of a 2,000-listing world under the same keys.
    The bench's recrawl of a tenth of its store is taken from the store's world."""
    loaded = {i.key: i for b in bench.sandbox_batches(2000) for i, _ in b}
    part = [i for b in bench.sandbox_batches(100, recrawl_after=300.0, world_size=2000) for i, _ in b]
    assert len(part) == 100 and all(i.key in loaded for i in part)
    assert [(i.vendor, i.title) for i in part] == [(loaded[i.key].vendor, loaded[i.key].title) for i in part]
    own = [i for b in bench.sandbox_batches(100, recrawl_after=300.0) for i, _ in b]
    assert [(i.vendor, i.title) for i in own] != [(i.vendor, i.title) for i in part]  # why world_size exists
