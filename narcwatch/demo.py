"""The demo: the whole product on the bundled sandbox, end to end, on 127.0.0.1.

sandbox (fictional world, onion sources behind a local SOCKS proxy) -> one crawl per
source (subprocess, evidence on, items to the spool) -> ingest (extraction + SQLite
store, change events) -> alert rules -> summary. Everything lands in one data directory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import time
from datetime import datetime, timezone

from narcwatch.crawler.config import Config, NotifierConfig, TorConfig
from narcwatch.crawler.models import Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import CrawlResult, crawl_source
from narcwatch.crawler.spool import Spool
from narcwatch.extract.rates import load_rates
from narcwatch.index import open_store
from narcwatch.index.alerts.documents import StoreDocuments
from narcwatch.index.alerts.service import AlertService
from narcwatch.ingest import Ingestor
from narcwatch.sandbox import SandboxServer, World
from narcwatch.sandbox.rates import write_rates_csv
from narcwatch.spiders.profile import ProfileRegistry

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
    pending_deliveries: int = 0
    rates_file: str | None = None  # the sandbox's fictional rates, published for ingest
    usd_missing: dict[str, int] = field(default_factory=dict)  # reason -> prices left without USD
    usd_unknown_currencies: dict[str, int] = field(default_factory=dict)  # currency the rates lack -> prices
    dashboard_url: str | None = None

    @property
    def pages(self) -> int:
        return sum(c.pages for c in self.crawls)


def _fast(source: Source) -> Source:
    if source.render_js:  # browser pages: the Playwright engineer's concurrency, not ours
        return source
    return source.model_copy(update={"concurrency": 16, "delay": 0.0, "autothrottle": False})


def demo_config(server: SandboxServer, data: DataDir) -> Config:
    """The config a user would write for these sources: onion ones through the SOCKS proxy."""
    return Config(
        data_dir=data.root,
        tor=TorConfig(socks_url=server.socks_url, control=None),
        # The sandbox is ours to load: fast politeness is set per source, explicitly (a real
        # onion market keeps the conservative defaults of crawler/settings.py).
        sources=[_fast(s.as_source()) for s in server.sources],
        # The shipped default rules deliver to a JSONL file in the data dir: an audit
        # trail of what would have gone to a webhook or mail desk.
        notifiers=[NotifierConfig(id="demo-jsonl", type="jsonl", path="alerts.jsonl")],
    )


def run_demo(data: DataDir, *, seed: int = 1, size: str | int = "demo", progress: Progress = lambda _: None,
             world: World | None = None, server: SandboxServer | None = None,
             only: Sequence[str] | None = None) -> DemoSummary:
    """Run the demo; ``only`` narrows it to some source ids (tests, a trainer's exercise)."""
    summary = DemoSummary(data_dir=str(data.root))
    own_server = server is None
    server = server or SandboxServer(world or World(seed=seed, size=size))
    if own_server:
        server.start()
    try:
        config = demo_config(server, data)
        # The sandbox publishes its fictional rates like a rates feed would: a dated file in
        # <data>/rates/, which ingest picks up as any deployment's rates files.
        today = datetime.now(timezone.utc).date()
        summary.rates_file = str(write_rates_csv(data.root / "rates" / "sandbox.csv", server.world,
                                                 server.clock.hours, today))
        rates = load_rates(config.rates_files, data.root)  # a bad file in <data>/rates: stop before crawling
        profiles = ProfileRegistry(config.profiles_dirs)
        for source in config.sources:
            if only is not None and source.id not in only:
                continue
            if source.profile not in profiles:
                summary.sources.append({"id": source.id, "kind": source.kind.value, "network": source.network.value,
                                        "url": source.start_urls[0], "pages": 0, "items": 0, "complete": False,
                                        "errors": {"no_profile": 1},
                                        "health": [f"no site profile {source.profile!r} yet; not crawled"]})
                continue
            progress(f"crawling {source.id} ({source.network.value}) ...")
            result = crawl_source(source, config, data, proxy_url=server.socks_url)
            summary.crawls.append(result)
            summary.sources.append({"id": source.id, "kind": source.kind.value, "network": source.network.value,
                                    "url": source.start_urls[0], "pages": result.pages, "items": result.items,
                                    "complete": result.complete, "errors": result.errors, "health": result.health})
    finally:
        if own_server:
            server.stop()
    progress("extracting, indexing and evaluating alert rules ...")
    store = open_store(config.store, data)
    alerts = AlertService.from_config(config, data, lookup=StoreDocuments(store), store=store).start()
    try:
        with Spool(data.spool) as spool:
            stats = Ingestor(spool, store, on_events=alerts.on_events,
                             source_kinds={s.id: s.kind.value for s in config.sources}, rates=rates).drain()
        alerts.engine.flush()  # close digest windows: the demo ends now, not in an hour
        _wait_delivered(alerts, timeout=30.0)
        summary.alerts_by_rule = _alerts_by_rule(alerts)
        summary.alerts = sum(summary.alerts_by_rule.values())
        summary.pending_deliveries = sum(n for (_, state), n in alerts.db.delivery_counts().items()
                                         if state != "delivered")
    finally:
        alerts.stop()
    summary.ingest_rejected = stats.rejected
    summary.usd_missing = dict(stats.rates_missing)
    summary.usd_unknown_currencies = dict(stats.rates_unknown_currencies)
    summary.counts = store.counts()
    store.close()
    return summary


def _wait_delivered(alerts: AlertService, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(state in ("pending", "leased") for (_, state) in alerts.db.delivery_counts()):
            return
        time.sleep(0.05)


def _alerts_by_rule(alerts: AlertService) -> dict[str, int]:
    out: dict[str, int] = {}
    after = 0
    while batch := alerts.db.alerts(after_seq=after, limit=1000, newest_first=False):
        for seq, alert in batch:
            out[alert.rule_id] = out.get(alert.rule_id, 0) + 1
            after = seq
    return out
