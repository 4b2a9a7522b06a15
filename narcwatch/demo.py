"""The demo: the whole product on the bundled sandbox, end to end, on 127.0.0.1.

sandbox (fictional world, onion sources behind a local SOCKS proxy) -> one crawl per
source (subprocess, evidence on, items to the spool) -> ingest (extraction + SQLite
store, change events) -> alert rules -> summary. Everything lands in one data directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import CrawlResult, crawl_source
from narcwatch.crawler.spool import Spool
from narcwatch.index import open_store
from narcwatch.ingest import Ingestor
from narcwatch.sandbox import SandboxServer, World

__all__ = ["DemoSummary", "run_demo"]

Progress = Callable[[str], None]


@dataclass
class DemoSummary:
    data_dir: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    crawls: list[CrawlResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    alerts: int = 0
    alerts_by_rule: dict[str, int] = field(default_factory=dict)
    ingest_rejected: int = 0
    dashboard_url: str | None = None

    @property
    def pages(self) -> int:
        return sum(c.pages for c in self.crawls)


def demo_config(server: SandboxServer, data: DataDir) -> Config:
    """The config a user would write for these sources: onion ones through the SOCKS proxy."""
    return Config(
        data_dir=data.root,
        tor=TorConfig(socks_url=server.socks_url, control=None),
        sources=[s.as_source() for s in server.sources],
    )


def run_demo(data: DataDir, *, seed: int = 1, size: str | int = "demo", progress: Progress = lambda _: None,
             world: World | None = None, server: SandboxServer | None = None) -> DemoSummary:
    summary = DemoSummary(data_dir=str(data.root))
    own_server = server is None
    server = server or SandboxServer(world or World(seed=seed, size=size))
    if own_server:
        server.start()
    try:
        config = demo_config(server, data)
        for source in config.sources:
            progress(f"crawling {source.id} ({source.network.value}) ...")
            result = crawl_source(source, config, data, proxy_url=server.socks_url)
            summary.crawls.append(result)
            summary.sources.append({"id": source.id, "kind": source.kind.value, "network": source.network.value,
                                    "url": source.start_urls[0], "pages": result.pages, "items": result.items,
                                    "complete": result.complete, "errors": result.errors, "health": result.health})
    finally:
        if own_server:
            server.stop()
    progress("extracting and indexing ...")
    store = open_store(config.store, data)
    with Spool(data.spool) as spool:
        ingestor = Ingestor(spool, store)
        stats = ingestor.drain()
    summary.ingest_rejected = stats.rejected
    summary.counts = store.counts()
    store.close()
    return summary
