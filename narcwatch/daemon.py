"""``narcwatch run``: the unattended daemon, assembled from the stages.

Threads in one process, crawls in child processes::

    main thread   waits for SIGTERM/SIGINT, then shuts down in order (below)
    scheduler     APScheduler (crawler.scheduler): one crawl job per source, persistent
    crawl jobs    one supervisor thread per running crawl, each watching its child process
    ingest        FanInIngestor: the daemon's spool and every Redis worker's spool (<data>/spools/)
                  -> extraction -> store -> AlertService.on_events; a committed offset per spool
    alerts        AlertService: delivery workers and the digest/saved-search ticker
    health        every ``health_every`` s: CAPTCHA waits, Tor probe, overdue sources -> status
                  files; heartbeat, ingest and scheduler counters -> jobs/daemon.status.json

Shutdown (SIGTERM, as systemd and docker send it): stop firing new crawls; SIGTERM each
crawl child (Scrapy's graceful stop; the crawl id is kept, the next run resumes it); wait
for them (``grace`` s, then SIGKILL); stop ingest after its current batch; stop alert
delivery (undelivered alerts stay in the outbox); exit 0.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from narcwatch import memory
from narcwatch.crawler import health
from narcwatch.crawler.config import Config
from narcwatch.crawler.metrics import DAEMON_STATUS
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.scheduler import CrawlScheduler, CrawlSupervisor, parse_schedule
from narcwatch.crawler.spool import Spool

__all__ = ["Daemon", "DaemonOptions"]

log = logging.getLogger("narcwatch.daemon")


@dataclass
class DaemonOptions:
    max_parallel: int = 4  # crawl children at once (each is a Scrapy process)
    grace: float = 120.0  # seconds a crawl child gets to stop after SIGTERM
    health_every: float = 30.0
    proxy_url: str | None = None  # overrides config.tor (the sandbox's SOCKS proxy in tests)
    extra_settings: dict[str, Any] = field(default_factory=dict)
    run_new_now: bool = True  # a source without a stored job crawls at once
    # SQLite page cache and memory map of the daemon's store connection: it writes and looks
    # documents up by key, it serves no searches (``narcwatch serve`` does, with 128 MiB and
    # a 1 GiB map). Mapped pages count in RSS and grow with the file: the soak's 30 s curve
    # went 203 -> 230 MB while anonymous memory stayed flat at 155 MB after 6 min.
    store_cache_mib: int = 16
    store_mmap_mib: int = 0
    # Scale-out: sources whose spider can be split are crawled by Redis workers; the daemon
    # feeds their rounds and ingests every worker's spool under <data>/spools/.
    redis_url: str | None = None


class _TimedIngestor:
    """Counts the seconds ingest spends on non-empty batches (extraction throughput)."""

    def __init__(self, ingestor: Any):
        self.inner = ingestor
        self.busy_seconds = 0.0

    def run_forever(self, stop: threading.Event, poll: float = 0.5) -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                n = self.inner.try_once()  # None: the index is unavailable (counted in stats.health)
            except Exception:  # a store outage must not end ingest for the daemon's lifetime
                log.exception("ingest batch failed; retrying in 5 s (the spool keeps the items)")
                n = None
            if n is None:
                stop.wait(5.0)
                continue
            if n:
                self.busy_seconds += time.perf_counter() - t0
            else:
                stop.wait(poll)


class Daemon:
    def __init__(self, config: Config, data: DataDir, options: DaemonOptions | None = None):
        self.config, self.data = config, data
        self.options = options or DaemonOptions()
        self.stop_requested = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ingest_stop = threading.Event()
        self._health_stop = threading.Event()
        self.supervisor = CrawlSupervisor(config, data, proxy_url=self.options.proxy_url,
                                          extra_settings=self.options.extra_settings, grace=self.options.grace,
                                          redis_url=self.options.redis_url)
        self.scheduler: CrawlScheduler | None = None
        self.store: Any = None
        self.alerts: Any = None
        self.spool: Spool | None = None
        self.ingest: _TimedIngestor | None = None
        self.started_at = time.time()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "Daemon":
        from narcwatch.index import open_store
        from narcwatch.index.alerts.documents import StoreDocuments
        from narcwatch.index.alerts.service import AlertService
        from narcwatch.crawler.distributed import WORKER_SPOOLS
        from narcwatch.fanin import FanInIngestor

        for s in self.config.sources:  # fail before anything starts
            parse_schedule(s.schedule)
        from narcwatch.extract.rates import load_rates

        rates = load_rates(self.config.rates_files, self.data.root)  # a bad rates file: RatesFileError now
        memory.cap_arenas()  # before the worker threads start: they share two malloc arenas
        self.store = open_store(self.config.store, self.data, cache_mib=self.options.store_cache_mib,
                                mmap_mib=self.options.store_mmap_mib)
        self.alerts = AlertService.from_config(self.config, self.data, lookup=StoreDocuments(self.store),
                                               store=self.store).start()
        self.spool = Spool(self.data.spool)
        self.ingest = _TimedIngestor(FanInIngestor(self.spool, self.data.root / WORKER_SPOOLS, self.store,
                                                   on_events=self.alerts.on_events,
                                                   source_kinds={s.id: s.kind.value for s in self.config.sources},
                                                   rates=rates))
        self._spawn("ingest", lambda: self.ingest.run_forever(self._ingest_stop))  # type: ignore[union-attr]
        self.scheduler = CrawlScheduler(self.supervisor, self.data.jobs / "jobs.sqlite",
                                        max_parallel=self.options.max_parallel,
                                        run_new_now=self.options.run_new_now).start()
        self._spawn("health", self._health_loop)
        log.info("narcwatch run started: %d source(s), pid %d", len(self.config.sources), os.getpid(),
                 extra={"next_runs": json.dumps(self.scheduler.next_runs())})
        return self

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=f"narcwatch-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        log.info("shutting down: no new crawls; asking running crawls to stop at a safe point")
        if self.scheduler is not None:
            self.scheduler.pause()
        self.supervisor.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown()  # waits for the crawl threads, which wait for their children
        self._ingest_stop.set()
        self._health_stop.set()
        for t in self._threads:
            t.join(timeout=60)
        self.write_status()
        if self.alerts is not None:
            self.alerts.stop()
        if self.ingest is not None:
            self.ingest.inner.close()
        if self.spool is not None:
            self.spool.close()
        if self.store is not None:
            self.store.close()
        log.info("narcwatch run stopped cleanly")

    def run_forever(self, on_ready: Callable[["Daemon"], None] | None = None) -> int:
        """Start, wait for SIGTERM/SIGINT, stop. Returns the exit code (0 on a clean stop)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            if on_ready:
                on_ready(self)
            while not self.stop_requested.wait(1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.stop_requested.set()

    # -- health and status ----------------------------------------------------------------
    def _health_loop(self) -> None:
        while True:
            self.refresh_health()
            memory.trim()  # hand the heap pages freed by ingest batches and crawl threads back
            self.write_status()
            if self._health_stop.wait(self.options.health_every):
                return

    def refresh_health(self) -> None:
        socks = self.options.proxy_url or self.config.tor.socks_url
        for source in self.config.sources:
            try:
                interval = parse_schedule(source.schedule).seconds
                h = health.evaluate(self.data.jobs, self.data.root, source, socks_url=socks, interval=interval,
                                    probe=True, save_result=True)
                for message in h.errors:
                    log.debug("source %s: %s", source.id, message, extra={"source": source.id})
            except Exception:  # health must never take the daemon down
                log.exception("health check of %s failed", source.id, extra={"source": source.id})

    def write_status(self) -> None:
        sched: dict[str, dict[str, int]] = {}
        if self.scheduler is not None:
            for (sid, event), n in list(self.scheduler.events.items()):
                sched.setdefault(sid, {})[event] = n
        stats = self.ingest.inner.stats if self.ingest is not None else None
        status = {
            "pid": os.getpid(), "started_at": self.started_at, "heartbeat": time.time(),
            "memory_kb": memory.rss_kb(),
            "stopping": self.stop_requested.is_set(),
            "running_crawls": self.supervisor.running(),
            "crawls": dict(self.supervisor.counts),
            "scheduler": sched,
            "next_runs": self.scheduler.next_runs() if self.scheduler and self.scheduler.scheduler.running else {},
            "ingest": {"items": stats.items, "events": stats.events, "rejected": stats.rejected,
                       "crawls_ended": stats.crawls_ended, "store_errors": stats.store_errors,
                       "health": list(stats.health), "pipeline_recycles": stats.pipeline_recycles,
                       "worker_ends": stats.worker_ends, "spools": self.ingest.inner.open_spools(),
                       "busy_seconds": round(self.ingest.busy_seconds, 3)} if stats and self.ingest else {},
        }
        path = self.data.jobs / DAEMON_STATUS
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(status, default=str), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            log.exception("cannot write %s", path)


def read_daemon_status(data_root: Path) -> dict[str, Any]:
    try:
        raw = json.loads((data_root / "jobs" / DAEMON_STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}
