"""Ingest passes each source's kind to extraction: a bare @name in a Telegram message is a handle."""

from __future__ import annotations

import json
import random
import string
from decimal import Decimal
from pathlib import Path

from narcwatch.crawler.models import Listing, Money, Post
from narcwatch.crawler.spool import Spool
from narcwatch.extract.pipeline import build_pipeline
from narcwatch.index.sqlite import SqliteStore
from narcwatch.ingest import IngestStats, Ingestor, recycle_pipeline_if_grown


def test_source_kind_reaches_extraction(tmp_path):
    post = Post(source="chan", url="http://t.example/s/chan/5", site_id="5", text="restock tonight, dm @fict_drops",
                crawl_id="c1", capture_id="cap1", capture_sha256="ab" * 32)
    seen: dict[str, list[str]] = {}
    for kind in ("telegram", "forum"):
        spool = Spool(tmp_path / f"{kind}.spool")
        spool.put(f"c1:post:{post.key}", "post", post.model_dump(mode="json"), post.source)
        store = SqliteStore(tmp_path / f"{kind}.sqlite")
        Ingestor(spool, store, source_kinds={"chan": kind}).drain()
        seen[kind] = [v for (v,) in store._db.execute("SELECT value FROM identifiers")]
        store.close()
        spool.close()
    assert seen["telegram"] == ["@fict_drops"]
    assert seen["forum"] == []  # without the cue a bare @name is not claimed as a Telegram handle


# -- pipeline recycling (the daemon's memory stays flat) ---------------------------------------

def _listings(n: int) -> list[Listing]:
    """Listings whose text brings new token strings every time, as scraped text does."""
    rng = random.Random(8)
    out = []
    for i in range(n):
        words = " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(7)) for _ in range(12))
        out.append(Listing(source="mkt", url=f"http://mkt.example/l/{i}", site_id=str(i), vendor=f"v{i % 7}",
                           title=f"{i % 5 + 1}g MDMA crystal lot {rng.randrange(10**8)}",
                           description=f"{words} wallet-free, ships {rng.choice(['NL', 'DE', 'UK'])} "
                                       f"order {rng.randrange(10**9)} {i % 9 + 1}0 USD",
                           price=Money(amount=Decimal(f"{i % 90 + 10}.{i % 100:02d}"), currency="USD"),
                           crawl_id="c1", capture_id=f"cap{i}", capture_sha256="ab" * 32))
    return out


def _ingest(tmp_path: Path, name: str, items: list[Listing], recycle: int) -> tuple[IngestStats, dict, list]:
    spool = Spool(tmp_path / f"{name}.spool")
    spool.put_many([(f"c1:listing:{it.key}", "listing", it.model_dump(mode="json"), it.source) for it in items])
    store = SqliteStore(tmp_path / f"{name}.sqlite")
    try:
        # one batch per read: the pipeline is recycled between reads
        stats = Ingestor(spool, store, batch_size=40, group_batches=1, recycle_strings=recycle).drain()
        docs = sorted((d["key"], json.dumps(d, sort_keys=True, default=str)) for d in store.iter_documents())
        return stats, store.counts(), [docs, [e.model_dump(exclude={"id", "at"}) for e in store.events(limit=10**6)]]
    finally:
        store.close()
        spool.close()


def test_recycling_the_pipeline_loses_and_duplicates_nothing(tmp_path):
    items = _listings(160)
    build_pipeline.cache_clear()
    stats, counts, facts = _ingest(tmp_path, "recycled", items, recycle=300)
    assert stats.pipeline_recycles >= 3  # the vocabulary passed 300 strings several times
    assert stats.items == 160 and stats.rejected == 0
    assert counts["listings"] == 160 and counts["snapshots"] == 160  # every listing once, one snapshot each
    assert all('"MDMA"' in doc for _, doc in facts[0])  # extraction ran on every one
    build_pipeline.cache_clear()
    plain_stats, plain_counts, plain_facts = _ingest(tmp_path, "plain", items, recycle=10**9)
    assert plain_stats.pipeline_recycles == 0
    assert (counts, facts) == (plain_counts, plain_facts)  # a fresh pipeline extracts exactly the same facts


def test_recycle_only_past_the_limit():
    build_pipeline.cache_clear()
    assert recycle_pipeline_if_grown(10) is False  # nothing built yet: nothing to drop
    nlp = build_pipeline()
    nlp.make_doc(" ".join(f"tok{i}" for i in range(50)))
    assert recycle_pipeline_if_grown(10**6) is False and build_pipeline() is nlp
    assert recycle_pipeline_if_grown(10) is True
    fresh = build_pipeline()
    assert fresh is not nlp and len(fresh.vocab.strings) < len(nlp.vocab.strings)


def test_a_backlog_is_read_several_batches_at_a_time_and_written_in_one_transaction(tmp_path):
    items = _listings(160)
    results = {}
    for group in (1, 4):
        spool = Spool(tmp_path / f"g{group}.spool")
        spool.put_many([(f"c1:listing:{it.key}", "listing", it.model_dump(mode="json"), it.source) for it in items])
        store = SqliteStore(tmp_path / f"g{group}.sqlite")
        try:
            ingestor = Ingestor(spool, store, batch_size=40, group_batches=group)
            writes = store._gen
            assert ingestor.run_once() == 40 * group
            writes = store._gen - writes  # write transactions of that read
            ingestor.drain()
            docs = sorted((d["key"], json.dumps(d, sort_keys=True, default=str)) for d in store.iter_documents())
            results[group] = (writes, store.counts(), docs, [e.model_dump() for e in store.events(limit=10**6)])
        finally:
            store.close()
            spool.close()
    assert results[1][0] == 1 and results[4][0] == 1  # four batches, one commit
    assert results[1][1:] == results[4][1:]


def test_the_ingest_command_backfills_in_bulk_and_leaves_a_complete_store(tmp_path, monkeypatch):
    from narcwatch.crawler.paths import DataDir
    from narcwatch.index.sqlite_schema import BULK_DEFERRED
    from narcwatch.ingest import main

    finished = []
    real_finish = SqliteStore.finish_bulk
    monkeypatch.setattr(SqliteStore, "finish_bulk", lambda self: finished.append(real_finish(self)) or finished[-1])
    data = DataDir.at(tmp_path / "data")
    items = _listings(30)
    with Spool(data.spool) as spool:
        spool.put_many([(f"c1:listing:{it.key}", "listing", it.model_dump(mode="json"), it.source) for it in items])
    assert main(["--data-dir", str(data.root), "--idle", "0.2", "--bulk"]) == 0
    assert True in finished  # the command's store finished a load it had started
    store = SqliteStore(data.store)
    try:
        names = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert set(BULK_DEFERRED) <= names
        assert store._db.execute("SELECT count(*) FROM bulk_load").fetchone()[0] == 0
        assert store.counts()["listings"] == 30 and store.search("crystal").total == 30  # full text of every one
    finally:
        store.close()
