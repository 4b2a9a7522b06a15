"""Prometheus metrics read from the data directory at scrape time.

The numbers are born in three processes (crawl children, the ``run`` daemon, the API
server) and must survive restarts, so nothing is counted in memory here: a custom
collector reads the durable state every stage already writes and turns it into metric
families when Prometheus scrapes:

* ``<data>/jobs/<source>.status.json`` (``crawler.health``): pages, items and errors by
  reason per source as cumulative counters, crawls by outcome, health, CAPTCHA waits;
* ``<data>/jobs/daemon.status.json`` (``narcwatch.daemon``): ingest throughput
  (items and busy seconds: extraction + store), scheduler events per source;
* ``<data>/spool.sqlite``: ingest lag (age of the oldest unconsumed item) and backlog;
* ``<data>/outbox.sqlite``: alerts, delivery latency (alert created -> delivered) and
  outbox depth per notifier and state.

Every read is read-only and total: a missing or locked file drops its families, never
the scrape. ``registry(data_root)`` gives a ``CollectorRegistry`` for ``generate_latest``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from narcwatch.crawler import health

__all__ = ["DataDirCollector", "DAEMON_STATUS", "registry"]

DAEMON_STATUS = "daemon.status.json"
INGEST_CONSUMER = "ingest"


def _ro(path: Path) -> sqlite3.Connection | None:
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        db.execute("PRAGMA query_only=1")
        return db
    except sqlite3.Error:
        return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


class DataDirCollector(Collector):
    def __init__(self, data_root: Path, sources: list[str] | None = None):
        self.root = Path(data_root)
        self.sources = sources  # None: every status file present

    def _source_ids(self) -> list[str]:
        if self.sources is not None:
            return list(self.sources)
        return sorted(p.name[: -len(".status.json")] for p in (self.root / "jobs").glob("*.status.json"))

    def collect(self) -> Iterator[Metric]:
        for part in (self._sources, self._daemon, self._spool, self._outbox):
            try:
                yield from part()
            except (sqlite3.Error, OSError, ValueError, TypeError):
                continue  # one unreadable part must not fail the whole scrape

    def _sources(self) -> Iterator[Metric]:
        pages = CounterMetricFamily("narcwatch_crawl_pages", "Pages crawled, per source", labels=["source"])
        items = CounterMetricFamily("narcwatch_crawl_items", "Items spooled by crawls, per source", labels=["source"])
        errors = CounterMetricFamily("narcwatch_crawl_errors", "Failed pages per source and reason",
                                     labels=["source", "reason"])
        crawls = CounterMetricFamily("narcwatch_crawls", "Finished crawls per source and outcome",
                                     labels=["source", "outcome"])
        healthy = GaugeMetricFamily("narcwatch_source_healthy", "1 when the source has no operator-visible error",
                                    labels=["source"])
        problems = GaugeMetricFamily("narcwatch_source_problems", "Operator-visible problems of the source",
                                     labels=["source"])
        last_ok = GaugeMetricFamily("narcwatch_source_last_success_timestamp_seconds",
                                    "When the last complete crawl ended", labels=["source"])
        last_items = GaugeMetricFamily("narcwatch_source_last_crawl_items", "Items of the last crawl", labels=["source"])
        captcha = GaugeMetricFamily("narcwatch_source_captcha_waiting", "CAPTCHAs waiting for a human",
                                    labels=["source"])
        running = GaugeMetricFamily("narcwatch_source_crawl_in_flight", "1 while a crawl runs or waits to resume",
                                    labels=["source"])
        for sid in self._source_ids():
            h = health.load(self.root / "jobs", sid)
            pages.add_metric([sid], h.total_pages)
            items.add_metric([sid], h.total_items)
            for reason, n in sorted(h.total_errors.items()):
                errors.add_metric([sid, reason], n)
            crawls.add_metric([sid, "complete"], h.successes)
            crawls.add_metric([sid, "incomplete"], h.crawls - h.successes)
            healthy.add_metric([sid], 0 if h.errors else 1)
            problems.add_metric([sid], len(h.errors))
            ts = health._ts(h.last_success_at)
            if ts is not None:
                last_ok.add_metric([sid], ts)
            last_items.add_metric([sid], h.items)
            captcha.add_metric([sid], h.captcha_waiting)
            running.add_metric([sid], 1 if h.in_flight else 0)
        yield from (pages, items, errors, crawls, healthy, problems, last_ok, last_items, captcha, running)

    def _daemon(self) -> Iterator[Metric]:
        d = _read_json(self.root / "jobs" / DAEMON_STATUS)
        if not d:
            return
        beat = d.get("heartbeat")
        if isinstance(beat, (int, float)):
            yield GaugeMetricFamily("narcwatch_daemon_heartbeat_timestamp_seconds",
                                    "Last heartbeat of `narcwatch run`", value=float(beat))
        mem = d.get("memory_kb") if isinstance(d.get("memory_kb"), dict) else {}
        if isinstance(mem.get("VmRSS"), int):
            fam = GaugeMetricFamily("narcwatch_daemon_memory_bytes", "Resident memory of `narcwatch run` "
                                    "(rss; anon: its own heap, the part a leak grows)", labels=["kind"])
            fam.add_metric(["rss"], mem["VmRSS"] * 1024.0)
            if isinstance(mem.get("RssAnon"), int):
                fam.add_metric(["anon"], mem["RssAnon"] * 1024.0)
            yield fam
        ingest = d.get("ingest") if isinstance(d.get("ingest"), dict) else {}
        for key, help_text in (("items", "Crawled items extracted and stored by ingest"),
                               ("events", "Change events produced by ingest"),
                               ("rejected", "Spool entries rejected by ingest"),
                               ("store_errors", "Ingest batches the index refused (locked, down); kept in the spool"),
                               ("pipeline_recycles", "spaCy pipelines rebuilt to bound the vocabulary's memory"),
                               ("busy_seconds", "Seconds ingest spent extracting and storing (throughput = "
                                                "rate(items) / rate(busy_seconds))")):
            value = ingest.get(key)
            if isinstance(value, (int, float)):
                yield CounterMetricFamily(f"narcwatch_ingest_{key}", help_text, value=float(value))
        sched = d.get("scheduler") if isinstance(d.get("scheduler"), dict) else {}
        fam = CounterMetricFamily("narcwatch_scheduler_events", "Scheduler events per source (submitted, executed, "
                                  "missed, skipped_running, error)", labels=["source", "event"])
        for sid, counts in sorted(sched.items()):
            if isinstance(counts, dict):
                for event, n in sorted(counts.items()):
                    if isinstance(n, int):
                        fam.add_metric([str(sid), str(event)], n)
        yield fam

    def _spool(self) -> Iterator[Metric]:
        # The daemon's spool and every scale-out worker's (<data>/spools/*.sqlite, narcwatch.fanin).
        paths = [self.root / "spool.sqlite", *sorted((self.root / "spools").glob("*.sqlite"))]
        pending_total, oldest_all, seen = 0, None, False
        for path in paths:
            db = _ro(path)
            if db is None:
                continue
            try:
                row = db.execute("SELECT seq FROM offsets WHERE consumer=?", (INGEST_CONSUMER,)).fetchone()
                offset = row[0] if row else 0
                pending, oldest = db.execute("SELECT count(*), min(created) FROM items WHERE seq > ?",
                                             (offset,)).fetchone()
            except sqlite3.Error:
                continue  # a worker spool being created: counted on the next scrape
            finally:
                db.close()
            seen = True
            pending_total += pending
            if oldest is not None:
                oldest_all = oldest if oldest_all is None else min(oldest_all, oldest)
        if not seen:
            return
        yield GaugeMetricFamily("narcwatch_ingest_lag_seconds", "Age of the oldest spooled item not yet ingested",
                                value=0.0 if oldest_all is None else max(0.0, time.time() - float(oldest_all)))
        yield GaugeMetricFamily("narcwatch_ingest_pending_items", "Spooled items not yet ingested",
                                value=pending_total)

    def _outbox(self) -> Iterator[Metric]:
        db = _ro(self.root / "outbox.sqlite")
        if db is None:
            return
        try:
            alerts = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
            n, total = db.execute("SELECT count(*), coalesce(sum(delivered_at - created_at), 0) FROM deliveries "
                                  "WHERE delivered_at IS NOT NULL").fetchone()
            depth = db.execute("SELECT notifier, state, count(*) FROM deliveries WHERE state != 'delivered' "
                               "GROUP BY notifier, state").fetchall()
        finally:
            db.close()
        yield CounterMetricFamily("narcwatch_alerts", "Alerts raised", value=alerts)
        yield SummaryMetricFamily("narcwatch_alert_delivery_latency_seconds",
                                  "From alert creation to delivery by a notifier", count_value=n,
                                  sum_value=max(0.0, float(total)))
        fam = GaugeMetricFamily("narcwatch_outbox_depth", "Deliveries not yet delivered, per notifier and state",
                                labels=["notifier", "state"])
        for notifier, state, count in depth:
            fam.add_metric([str(notifier), str(state)], count)
        yield fam


def registry(data_root: Path, sources: list[str] | None = None) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DataDirCollector(data_root, sources))
    return reg
