"""Ingest passes each source's kind to extraction: a bare @name in a Telegram message is a handle."""

from __future__ import annotations

from narcwatch.crawler.models import Post
from narcwatch.crawler.spool import Spool
from narcwatch.index.sqlite import SqliteStore
from narcwatch.ingest import Ingestor


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
