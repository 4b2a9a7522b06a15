"""crawler.metrics: the families read from the data dir, and the /metrics access rule."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from narcwatch.crawler import health, metrics
from narcwatch.crawler.runner import CrawlResult
from narcwatch.crawler.spool import Spool
from narcwatch.index.alerts.outbox import AlertDB


def _samples(root: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry(root)).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_counters_from_status_files_are_cumulative(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    for i, items in enumerate((40, 0)):
        health.record_crawl(jobs, CrawlResult(source="velvet", crawl_id=f"c{i}", complete=True, pages=10, items=items,
                                              errors={"http_503": 2}, finish_reason="finished"))
    s = _samples(tmp_path)
    assert s[("narcwatch_crawl_pages_total", (("source", "velvet"),))] == 20
    assert s[("narcwatch_crawl_items_total", (("source", "velvet"),))] == 40
    assert s[("narcwatch_crawl_errors_total", (("reason", "http_503"), ("source", "velvet")))] == 4
    assert s[("narcwatch_source_healthy", (("source", "velvet"),))] == 0  # stopped producing items


def test_ingest_lag_and_outbox_depth(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.sqlite") as spool:
        spool.put("k1", "listing", {"x": 1}, "velvet")
        spool.put("k2", "listing", {"x": 2}, "velvet")
        first = spool.read("ingest", limit=1)
        spool.ack("ingest", first[0].seq)
    db = AlertDB(tmp_path / "outbox.sqlite")
    db.close()
    time.sleep(0.01)
    s = _samples(tmp_path)
    assert s[("narcwatch_ingest_pending_items", ())] == 1
    assert s[("narcwatch_ingest_lag_seconds", ())] > 0
    assert s[("narcwatch_alerts_total", ())] == 0
    assert s[("narcwatch_alert_delivery_latency_seconds_count", ())] == 0


@pytest.mark.parametrize("garbage", [b"{", b"[]", b'{"heartbeat": "x", "ingest": [1], "scheduler": {"a": 5}}'])
def test_garbage_files_never_fail_the_scrape(tmp_path: Path, garbage: bytes) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "daemon.status.json").write_bytes(garbage)
    (tmp_path / "jobs" / "x.status.json").write_bytes(garbage)
    (tmp_path / "spool.sqlite").write_bytes(b"not a database")
    assert _samples(tmp_path)[("narcwatch_crawl_pages_total", (("source", "x"),))] == 0


def test_metrics_route_needs_a_token_off_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from narcwatch.dashboards.app import create_app

    app = create_app(None, tmp_path)
    # TestClient's scope says server=("testserver", 80): not loopback, as behind a real NIC.
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 403
        monkeypatch.setenv("NARCWATCH_SECRET_METRICS_TOKEN", "m-token-123456")
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token"}).status_code == 403
        ok = client.get("/metrics", headers={"Authorization": "Bearer m-token-123456"})
        assert ok.status_code == 200 and "# TYPE narcwatch_crawl_pages_total counter" in ok.text


def test_ingest_lag_counts_every_worker_spool_and_daemon_memory(tmp_path: Path) -> None:
    import json

    with Spool(tmp_path / "spool.sqlite") as spool:
        spool.put("k1", "listing", {"x": 1}, "velvet")
        spool.ack("ingest", spool.read("ingest")[0].seq)
    for worker, n in (("w1", 2), ("w2", 3)):  # scale-out workers' spools (narcwatch.fanin ingests them)
        with Spool(tmp_path / "spools" / f"{worker}.sqlite") as spool:
            for i in range(n):
                spool.put(f"{worker}-{i}", "listing", {"x": i}, "velvet")
    (tmp_path / "spools" / "broken.sqlite").write_bytes(b"not a database")
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "daemon.status.json").write_text(json.dumps(
        {"heartbeat": time.time(), "memory_kb": {"VmRSS": 2048, "RssAnon": 1024},
         "ingest": {"items": 5, "pipeline_recycles": 2}}))
    s = _samples(tmp_path)
    assert s[("narcwatch_ingest_pending_items", ())] == 5
    assert s[("narcwatch_ingest_lag_seconds", ())] >= 0
    assert s[("narcwatch_daemon_memory_bytes", (("kind", "rss"),))] == 2048 * 1024
    assert s[("narcwatch_daemon_memory_bytes", (("kind", "anon"),))] == 1024 * 1024
    assert s[("narcwatch_ingest_pipeline_recycles_total", ())] == 2
