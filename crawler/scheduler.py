"""Keep every source on its schedule: APScheduler 3 with a persistent job store.

One job per source (``crawl:<source id>``) in ``<data>/jobs/jobs.sqlite`` (SQLAlchemy job
store), so a restart keeps each source's next run instead of crawling everything at once
or forgetting a source. Jobs are reconciled with the config at start: an unchanged
schedule keeps its stored next run, a changed one is rescheduled, a removed source's job
is deleted; a job is never added twice.

``max_instances=1`` and ``coalesce=True``: at most one crawl per source at a time, and
runs missed while the daemon was down (within ``misfire_grace_time``) collapse into one.
Each crawl is a child process (``crawler.runner``; Scrapy's reactor cannot restart) that
``CrawlSupervisor`` watches. On shutdown the supervisor sends each child SIGTERM, which is
Scrapy's graceful stop: in-flight pages finish, the frontier is committed, and the crawl
id is kept in the source's status file so the next run resumes that same crawl.

Schedules (``Source.schedule``): ``interval:6h``, ``interval:90s``, ``interval:1h30m``,
``cron:0 */4 * * *`` (standard five-field crontab, UTC).
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from narcwatch.crawler import health
from narcwatch.crawler.config import Config
from narcwatch.crawler.logs import log_context
from narcwatch.crawler.models import Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import CrawlResult, new_crawl_id, read_result, spawn_crawl

__all__ = ["CrawlScheduler", "CrawlSupervisor", "Schedule", "parse_schedule"]

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d{1,7})([smhdw])")
MAX_INTERVAL = 366 * 86400.0
MAX_JITTER = 600.0  # seconds; a 6 h interval gets 10 min, a 5 s one 0.5 s


@dataclass(frozen=True)
class Schedule:
    spec: str
    kind: str  # interval | cron
    seconds: float  # the interval, or the gap between the next two cron fires
    trigger: Any
    jitter: float


def parse_duration(text: str) -> float:
    """``"6h"`` -> 21600, ``"1h30m"`` -> 5400, ``"45"`` -> 45 (seconds); ValueError otherwise."""
    text = text.strip().lower()
    if len(text) > 40 or not text:
        raise ValueError(f"bad duration {text[:40]!r}")
    if text.isdigit():
        total = float(text)
        if not 0 < total <= MAX_INTERVAL:
            raise ValueError(f"bad duration {text!r}; between 1 s and 366 days")
        return total
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(m[1]) * _UNITS[m[2]]
        pos = m.end()
    if pos != len(text) or not 0 < total <= MAX_INTERVAL:
        raise ValueError(f"bad duration {text!r}; use e.g. 90s, 15m, 6h, 1h30m, 1d (at most 366 days)")
    return total


def parse_schedule(spec: str, *, now: datetime | None = None) -> Schedule:
    """Parse ``Source.schedule`` into an APScheduler trigger with jitter (10% of the interval, at most 10 min)."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    kind, _, rest = (spec or "").strip().partition(":")
    kind = kind.strip().lower()
    if kind == "interval":
        seconds = parse_duration(rest)
        jitter = min(seconds * 0.1, MAX_JITTER)
        return Schedule(spec, kind, seconds, IntervalTrigger(seconds=seconds, jitter=jitter or None, timezone=timezone.utc),
                        jitter)
    if kind == "cron":
        try:
            probe = CronTrigger.from_crontab(rest.strip(), timezone=timezone.utc)
        except ValueError as exc:
            raise ValueError(f"bad cron schedule {rest.strip()!r}: {exc}") from None
        now = now or datetime.now(timezone.utc)
        first = probe.get_next_fire_time(None, now)
        second = probe.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
        seconds = (second - first).total_seconds() if first and second else 86400.0
        jitter = min(seconds * 0.1, MAX_JITTER)
        trigger = CronTrigger.from_crontab(rest.strip(), timezone=timezone.utc)
        trigger.jitter = jitter or None
        return Schedule(spec, kind, seconds, trigger, jitter)
    raise ValueError(f"bad schedule {spec!r}; use 'interval:6h' (s, m, h, d, w) or 'cron:0 */4 * * *'")


# The job store pickles a reference to this function and the source id, nothing else, so
# a stored job stays valid across restarts and config edits; the live supervisor is found here.
_ACTIVE: "CrawlSupervisor | None" = None


def run_scheduled(source_id: str) -> None:
    sup = _ACTIVE
    if sup is None:
        log.warning("scheduled crawl of %s fired with no supervisor; skipped", source_id, extra={"source": source_id})
        return
    sup.run(source_id)


class CrawlSupervisor:
    """Runs crawls as child processes, one at a time per source, and stops them gracefully."""

    def __init__(self, config: Config, data: DataDir, *, proxy_url: str | None = None,
                 extra_settings: dict[str, Any] | None = None, grace: float = 120.0, redis_url: str | None = None):
        self.config, self.data = config, data
        self.sources = {s.id: s for s in config.sources}
        # Scale-out: a source whose spider can be split across workers is crawled by the
        # Redis workers; its scheduled job feeds a round and waits for it (crawler.distributed).
        self.redis_url = redis_url
        self._distributable: dict[str, bool] = {}
        self.proxy_url = proxy_url
        self.extra_settings = extra_settings or {}
        self.grace = grace
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self.counts: Counter[str] = Counter()  # started, resumed, complete, incomplete, interrupted
        self.results: list[CrawlResult] = []

    def running(self) -> dict[str, int]:
        with self._lock:
            return {sid: p.pid for sid, p in self._procs.items()}

    def run(self, source_id: str) -> CrawlResult | None:
        """One crawl of ``source_id`` (resuming an interrupted one); None when shutting down."""
        if self.stopping.is_set():
            return None
        source = self.sources.get(source_id)
        if source is None:
            log.error("scheduled source %s is no longer configured", source_id, extra={"source": source_id})
            return None
        jobs = self.data.jobs
        previous = health.load(jobs, source_id)
        if self.redis_url and self._scaled_out(source):
            return self._run_round(source, previous.in_flight)
        crawl_id = previous.in_flight or new_crawl_id(source_id)
        resumed = previous.in_flight is not None
        with log_context(source_id, crawl_id):
            health.mark_started(jobs, source_id, crawl_id)
            workdir = jobs / source_id / "run"
            workdir.mkdir(parents=True, exist_ok=True)
            log.info("crawl %s of %s %s", crawl_id, source_id, "resumed" if resumed else "started")
            proc = spawn_crawl(source, self.config, self.data, workdir, crawl_id=crawl_id, proxy_url=self.proxy_url,
                               extra_settings=self.extra_settings, start_new_session=True)
            with self._lock:
                self._procs[source_id] = proc
                self.counts["started"] += 1
                self.counts["resumed"] += resumed
            if self.stopping.is_set():  # stop() ran between spawn and registration
                _terminate(proc)
            try:
                returncode = self._wait(proc)
            finally:
                with self._lock:
                    self._procs.pop(source_id, None)
            result = read_result(workdir, source, crawl_id, self.data, returncode)
            if self.stopping.is_set() and not result.complete and not result.finish_reason:
                # Stopped before Scrapy installed its handlers (or SIGKILLed after the grace):
                # nothing broke, the frontier resumes it.
                result.finish_reason = "shutdown"
            interrupted = not result.complete and (result.finish_reason == "shutdown" or
                                                   "crawler_crashed" in result.errors)
            h = health.record_crawl(jobs, result, interrupted=interrupted)
            with self._lock:
                self.counts["interrupted" if interrupted else ("complete" if result.complete else "incomplete")] += 1
                self.results.append(result)
                del self.results[:-100]
            level = logging.INFO if result.complete else logging.WARNING
            log.log(level, "crawl %s of %s ended: complete=%s pages=%d items=%d errors=%s%s", crawl_id, source_id,
                    result.complete, result.pages, result.items, result.errors,
                    " (interrupted; the next run resumes it)" if interrupted else "",
                    extra={"pages": result.pages, "items": result.items, "complete": result.complete})
            for message in h.errors:
                log.warning("source %s: %s", source_id, message)
            return result

    def _scaled_out(self, source: Source) -> bool:
        if source.id not in self._distributable:
            from narcwatch.crawler.distributed import distributable

            self._distributable[source.id] = distributable(source, self.config)
        return self._distributable[source.id]

    def _run_round(self, source: Source, resume: str | None) -> CrawlResult:
        """A scheduled crawl of a scale-out source: feed a Redis round, wait for the workers and ingest."""
        from narcwatch.crawler.distributed import run_round

        jobs, holder = self.data.jobs, {"round": resume or ""}

        def started(round_id: str) -> None:
            holder["round"] = round_id
            health.mark_started(jobs, source.id, round_id)  # a restarted daemon rejoins this round
            log.info("round %s of %s fed to the Redis workers", round_id, source.id,
                     extra={"source": source.id, "crawl_id": round_id})

        with self._lock:
            self.counts["rounds"] += 1
        try:
            out = run_round(source, self.redis_url or "", self.data.root, config=self.config, resume=resume,
                            stopping=self.stopping.is_set, on_round=started)
        except Exception as exc:  # Redis down: the source's health shows it, the next run retries
            log.error("round of %s failed: %s: %s", source.id, type(exc).__name__, exc, extra={"source": source.id})
            result = CrawlResult(source=source.id, crawl_id=holder["round"], errors={f"redis_{type(exc).__name__}": 1},
                                 health=[f"scale-out round failed: {type(exc).__name__}: {exc}"[:300]])
            health.record_crawl(jobs, result, interrupted=bool(holder["round"]))
            return result
        result = CrawlResult(source=source.id, crawl_id=out.round, complete=out.complete, pages=out.pages,
                             items=out.items, errors=out.errors,
                             finish_reason="shutdown" if out.interrupted else "finished")
        health.record_crawl(jobs, result, interrupted=out.interrupted)
        with self._lock:
            self.counts["interrupted" if out.interrupted else ("complete" if out.complete else "incomplete")] += 1
        with log_context(source.id, out.round):
            log.log(logging.INFO if out.complete or out.interrupted else logging.WARNING,
                    "round %s of %s %s: complete=%s workers=%d pages=%d items=%d", out.round, source.id,
                    "interrupted (the next run waits for it again)" if out.interrupted else "ended", out.complete,
                    out.workers, out.pages, out.items)
        return result

    def _wait(self, proc: subprocess.Popen[bytes]) -> int:
        """Wait for the child; after a stop request, give it ``grace`` seconds, then SIGKILL."""
        killed_at: float | None = None
        while True:
            try:
                return proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            if self.stopping.is_set():
                killed_at = killed_at or time.monotonic()
                if time.monotonic() - killed_at > self.grace:
                    log.error("crawl child %d did not stop within %.0f s; killing it", proc.pid, self.grace)
                    proc.kill()

    def stop(self) -> None:
        """Ask every running crawl to stop at a safe point (SIGTERM: Scrapy's graceful shutdown)."""
        self.stopping.set()
        with self._lock:
            procs = list(self._procs.items())
        for source_id, proc in procs:
            log.info("stopping crawl of %s (pid %d)", source_id, proc.pid, extra={"source": source_id})
            _terminate(proc)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        pass


class CrawlScheduler:
    """APScheduler around a ``CrawlSupervisor``: one persistent job per source."""

    JOB_PREFIX = "crawl:"

    def __init__(self, supervisor: CrawlSupervisor, jobs_db: Path, *, max_parallel: int = 4,
                 run_new_now: bool = True):
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        self.supervisor = supervisor
        self.jobs_db = jobs_db
        jobs_db.parent.mkdir(parents=True, exist_ok=True)
        self.schedules: dict[str, Schedule] = {}
        self.run_new_now = run_new_now
        self.events: Counter[tuple[str, str]] = Counter()  # (source, submitted|executed|missed|skipped|error)
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{jobs_db}")},
            executors={"default": ThreadPoolExecutor(max_workers=max(1, max_parallel))},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=timezone.utc,
        )

    def _listen(self, event: Any) -> None:
        from apscheduler import events as ev

        job_id = getattr(event, "job_id", "") or ""
        if not job_id.startswith(self.JOB_PREFIX):
            return
        source = job_id[len(self.JOB_PREFIX):]
        name = {ev.EVENT_JOB_SUBMITTED: "submitted", ev.EVENT_JOB_EXECUTED: "executed",
                ev.EVENT_JOB_MISSED: "missed", ev.EVENT_JOB_MAX_INSTANCES: "skipped_running",
                ev.EVENT_JOB_ERROR: "error"}.get(event.code)
        if name:
            self.events[(source, name)] += 1
        if event.code == ev.EVENT_JOB_ERROR:
            log.error("scheduled crawl of %s failed: %s", source, getattr(event, "exception", None),
                      extra={"source": source})
        elif event.code in (ev.EVENT_JOB_MISSED, ev.EVENT_JOB_MAX_INSTANCES):
            log.warning("scheduled crawl of %s %s", source, "missed (past its misfire grace)"
                        if event.code == ev.EVENT_JOB_MISSED else "skipped: the previous one is still running",
                        extra={"source": source})

    def start(self) -> "CrawlScheduler":
        """Validate every schedule, reconcile the stored jobs with the config, then start firing."""
        from apscheduler import events as ev

        global _ACTIVE
        problems = []
        for source in self.supervisor.config.sources:
            try:
                self.schedules[source.id] = parse_schedule(source.schedule)
            except ValueError as exc:
                problems.append(f"source {source.id}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        _ACTIVE = self.supervisor
        self.scheduler.add_listener(self._listen, ev.EVENT_JOB_SUBMITTED | ev.EVENT_JOB_EXECUTED | ev.EVENT_JOB_MISSED
                                    | ev.EVENT_JOB_MAX_INSTANCES | ev.EVENT_JOB_ERROR)
        self.scheduler.start(paused=True)
        self._reconcile()
        self.scheduler.resume()
        return self

    def _reconcile(self) -> None:
        now = datetime.now(timezone.utc)
        stored = {j.id: j for j in self.scheduler.get_jobs() if j.id.startswith(self.JOB_PREFIX)}
        for source_id, sched in self.schedules.items():
            job_id = self.JOB_PREFIX + source_id
            grace = int(max(30.0, min(sched.seconds / 2, 3600.0)))
            name = f"{source_id} {sched.spec}"
            job = stored.pop(job_id, None)
            if job is not None and job.name == name and job.next_run_time is not None:
                log.info("source %s: kept schedule %s, next run %s", source_id, sched.spec,
                         job.next_run_time.isoformat(), extra={"source": source_id})
                if health.load(self.supervisor.data.jobs, source_id).in_flight:
                    # Stopped mid-crawl last time: finish that crawl now, not an interval later.
                    self.scheduler.modify_job(job_id, next_run_time=now)
                    log.info("source %s: resuming its interrupted crawl now", source_id, extra={"source": source_id})
                continue
            if job is not None:
                self.scheduler.remove_job(job_id)
            first = now if self.run_new_now else None
            self.scheduler.add_job(run_scheduled, sched.trigger, args=[source_id], id=job_id, name=name,
                                   misfire_grace_time=grace, coalesce=True, max_instances=1,
                                   next_run_time=first if first is not None else sched.trigger.get_next_fire_time(None, now))
            log.info("source %s: scheduled %s%s", source_id, sched.spec, " (changed)" if job else "",
                     extra={"source": source_id})
        for job_id in stored:
            self.scheduler.remove_job(job_id)
            log.info("removed the schedule of %s (no longer configured)", job_id[len(self.JOB_PREFIX):])

    def next_runs(self) -> dict[str, str | None]:
        return {j.id[len(self.JOB_PREFIX):]: j.next_run_time.isoformat() if j.next_run_time else None
                for j in self.scheduler.get_jobs() if j.id.startswith(self.JOB_PREFIX)}

    def pause(self) -> None:
        """Stop firing new crawls (running ones continue until the supervisor stops them)."""
        if self.scheduler.running:
            self.scheduler.pause()

    def shutdown(self) -> None:
        global _ACTIVE
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if _ACTIVE is self.supervisor:
            _ACTIVE = None
