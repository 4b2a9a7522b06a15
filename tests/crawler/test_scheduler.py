"""crawler.scheduler: schedule parsing, and the persistent job store across restarts.

The real ``narcwatch run`` subprocess (crawls on schedule, SIGTERM, resume) is in
tests/narcwatch/test_daemon.py; here the job store is exercised in-process with a
supervisor whose config has no crawlable sources, so nothing is spawned.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from narcwatch.crawler.config import Config
from narcwatch.crawler.models import Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.scheduler import CrawlScheduler, CrawlSupervisor, parse_duration, parse_schedule

NOW = datetime(2026, 1, 5, 10, 7, tzinfo=timezone.utc)


@pytest.mark.parametrize(("spec", "seconds", "kind"), [
    pytest.param("interval:6h", 21600, "interval", id="hours"),
    pytest.param("interval:5s", 5, "interval", id="seconds-for-tests"),
    pytest.param("interval:1h30m", 5400, "interval", id="compound"),
    pytest.param("interval: 90", 90, "interval", id="bare-seconds"),
    pytest.param("cron:0 */4 * * *", 4 * 3600, "cron", id="every-4h"),
    pytest.param("cron:30 2 * * 1", 7 * 86400, "cron", id="weekly"),
    pytest.param("INTERVAL:2d", 172800, "interval", id="case-insensitive"),
])
def test_parse_schedule(spec: str, seconds: float, kind: str) -> None:
    s = parse_schedule(spec, now=NOW)
    assert (s.kind, s.seconds) == (kind, seconds)
    assert 0 < s.jitter <= min(seconds * 0.1, 600)


@pytest.mark.parametrize("spec", ["", "6h", "interval:", "interval:0s", "interval:5x", "interval:1h 5m",
                                  "interval:" + "9" * 50, "cron:61 * * * *", "cron:* * *", "weekly", "interval:-5s"])
def test_bad_schedules_say_how(spec: str) -> None:
    with pytest.raises(ValueError, match="bad"):
        parse_schedule(spec)


def test_parse_duration_rejects_gaps() -> None:
    assert parse_duration("1h30m") == 5400
    with pytest.raises(ValueError):
        parse_duration("1h-30m")


def test_interval_fires_with_jitter_within_bounds() -> None:
    s = parse_schedule("interval:1h")
    first = s.trigger.get_next_fire_time(None, NOW)
    second = s.trigger.get_next_fire_time(first, first)
    assert abs((second - first).total_seconds() - 3600) <= s.jitter + 1


def _source(sid: str, schedule: str) -> Source:
    return Source(id=sid, name=sid, kind="shop", network="clearnet", profile="sandbox_shop",
                  start_urls=["http://127.0.0.1:9/"], schedule=schedule)


def _start(tmp: Path, sources: list[Source]) -> CrawlScheduler:
    data = DataDir.at(tmp / "data")
    sup = CrawlSupervisor(Config(data_dir=data.root, sources=sources), data)
    sup.stopping.set()  # fired jobs return at once: this test is about the store, not crawling
    return CrawlScheduler(sup, data.jobs / "jobs.sqlite", run_new_now=False).start()


def _rows(tmp: Path) -> dict[str, float]:
    with sqlite3.connect(tmp / "data" / "jobs" / "jobs.sqlite") as db:
        return dict(db.execute("SELECT id, next_run_time FROM apscheduler_jobs"))


def test_job_store_survives_restart_without_duplicates(tmp_path: Path) -> None:
    a, b = _source("alpha", "interval:6h"), _source("beta", "cron:0 */4 * * *")
    sched = _start(tmp_path, [a, b])
    first = _rows(tmp_path)
    sched.shutdown()
    assert set(first) == {"crawl:alpha", "crawl:beta"}

    sched = _start(tmp_path, [a, b])  # restart: kept, not re-added, next runs unchanged
    assert _rows(tmp_path) == first
    sched.shutdown()

    sched = _start(tmp_path, [a.model_copy(update={"schedule": "interval:1h"})])  # edited and removed
    rows = _rows(tmp_path)
    sched.shutdown()
    assert set(rows) == {"crawl:alpha"}
    assert rows["crawl:alpha"] != first["crawl:alpha"]
    assert rows["crawl:alpha"] - datetime.now(timezone.utc).timestamp() <= 3600 + 360 + 5


def test_bad_schedule_is_named_by_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="source gamma: bad schedule"):
        _start(tmp_path, [_source("gamma", "hourly")])


def test_missed_runs_coalesce_into_one(tmp_path: Path) -> None:
    sched = _start(tmp_path, [_source("alpha", "interval:5s")])
    job = sched.scheduler.get_job("crawl:alpha")
    sched.shutdown()
    assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 30
    assert (job.next_run_time - datetime.now(timezone.utc)) < timedelta(seconds=6)
