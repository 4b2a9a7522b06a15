"""Scale-out crawling: several workers share one source's request queue and duplicate filter in Redis.

The scheduler (``narcwatch run``) or an operator calls ``feed_source(source, redis_url)``
to start a crawl round: it clears the round's duplicate filter and puts the start pages
in the shared queue. Workers (``narcwatch crawl SOURCE --worker --redis URL``, one or
more per machine) each run an ordinary crawl child whose Scrapy scheduler is
scrapy-redis with our reliable queue (``crawler.redis_queue``), so every page is
fetched by exactly one live worker and none is lost when a worker dies. A worker ends
when the round is drained (nothing queued, nothing in flight on any worker).

Each worker keeps its own data directory (frontier, evidence); its crawl id is
``{round}-{worker}``. Its items go to its own spool, ``<data>/spools/<worker>.sqlite``:
workers started with the daemon's data directory (``narcwatch crawl SOURCE --worker``
on the daemon's machine, or on a host that mounts that directory) are ingested by the
daemon (``narcwatch.fanin``) with a committed offset per spool. The daemon's round job
(``run_round``) feeds the round, waits until it is drained and every worker has closed,
waits until ingest has passed every worker spool's end, and only then writes the
round's ``crawl_end`` (its crawl id is the round id) to the daemon's own spool.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
import scrapy
from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter
from twisted.internet.task import LoopingCall

from narcwatch.crawler.config import Config
from narcwatch.crawler.context import get_context
from narcwatch.crawler.middlewares.frontier import FrontierSpiderMiddleware
from narcwatch.crawler.models import Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.redis_queue import Keys, ReliableQueue, drained, recover_dead, requeue_own
from narcwatch.crawler.runner import CrawlResult, crawl_source, new_crawl_id
from narcwatch.crawler.spoolitems import CrawlEnd

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["DISTRIBUTABLE_SPIDERS", "FeedResult", "RedisWorkerExtension", "RedisFrontierSpiderMiddleware",
           "WORKER_SPOOLS", "distributable", "feed_source", "new_worker_id", "round_of", "round_status", "run_round",
           "run_worker", "worker_ends", "worker_settings", "worker_spool_path"]

# Spiders whose requests can run on any worker: no per-session state (tokens, logins) tied to one process.
DISTRIBUTABLE_SPIDERS = frozenset({"profile"})
_MW = "narcwatch.crawler.distributed"


WORKER_SPOOLS = "spools"  # under the data directory: one spool file per worker
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def new_worker_id() -> str:
    return _UNSAFE.sub("_", f"{socket.gethostname()[:32]}-{os.getpid()}-{uuid.uuid4().hex[:4]}")


def worker_spool_path(data_root: Path, worker_id: str) -> Path:
    """``<data>/spools/<worker>.sqlite``; the worker id is made a safe file name (bounded, no separators)."""
    name = _UNSAFE.sub("_", worker_id)[:120].lstrip(".") or "worker"
    return data_root / WORKER_SPOOLS / f"{name}.sqlite"


def round_of(crawl_id: str, worker_id: str) -> str:
    """The round id inside a worker's crawl id ``{round}-{worker}`` (``run_worker`` names it so)."""
    suffix = f"-{worker_id}"
    return crawl_id[: -len(suffix)] if crawl_id.endswith(suffix) and len(crawl_id) > len(suffix) else crawl_id


def distributable(source: Source, config: Config) -> bool:
    try:
        _check_distributable(source, config)
    except (ValueError, KeyError):
        return False
    return True


def _client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, socket_timeout=30, socket_connect_timeout=10)


def _check_distributable(source: Source, config: Config) -> None:
    from narcwatch.spiders.profile import ProfileRegistry

    spider = ProfileRegistry(config.profiles_dirs)[source.profile].spider
    if spider not in DISTRIBUTABLE_SPIDERS:
        raise ValueError(f"source {source.id!r} uses the {spider!r} spider, which keeps per-session state and "
                         f"cannot be split across workers; distributable: {', '.join(sorted(DISTRIBUTABLE_SPIDERS))}")


# -- feeding -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedResult:
    round: str
    fed: bool  # False: a round of this source was still running, nothing was added
    queued: int


def feed_source(source: Source, redis_url: str, *, crawl_id: str | None = None, config: Config | None = None,
                namespace: str = "narcwatch") -> FeedResult:
    """Start a crawl round of ``source``: its start pages into the shared queue, a fresh duplicate filter.

    At most one round per source at a time: while one is queued or in flight this adds
    nothing and returns the running round (the scheduler calls it on every tick).
    """
    if config is not None:
        _check_distributable(source, config)
    server = _client(redis_url)
    keys = Keys(source.id, namespace)
    recover_dead(server, keys)
    current = server.get(keys.round)
    if current and not drained(server, keys):
        return FeedResult(current.decode(), False, int(server.zcard(keys.queue)))
    round_id = crawl_id or new_crawl_id(source.id)
    dupefilter = RFPDupeFilter(server, keys.dupefilter)
    pipe = server.pipeline()
    pipe.delete(keys.dupefilter, keys.queue)
    pipe.set(keys.round, round_id)
    pipe.execute()
    from narcwatch.crawler.redis_queue import dumps

    for url in source.start_urls:
        request = Request(url, meta={"narcwatch_index_page": 1})
        if dupefilter.request_seen(request):
            continue
        data = request.to_dict()
        data["callback"] = "parse_index"  # the profile spider's entry point (no spider instance here)
        server.execute_command("ZADD", keys.queue, -request.priority, dumps(data))
    return FeedResult(round_id, True, int(server.zcard(keys.queue)))


def round_status(source_id: str, redis_url: str, namespace: str = "narcwatch") -> dict[str, Any]:
    """What an operator wants to see: round, queue length, live workers and their in-flight requests."""
    server = _client(redis_url)
    keys = Keys(source_id, namespace)
    workers = sorted(w.decode() for w in server.smembers(keys.workers))
    current = server.get(keys.round)
    return {
        "source": source_id, "round": current.decode() if current else None,
        "queued": int(server.zcard(keys.queue)), "seen": int(server.scard(keys.dupefilter)),
        "workers": {w: {"alive": bool(server.exists(keys.heartbeat(w))), "in_flight": int(server.hlen(keys.processing(w)))}
                    for w in workers},
        "drained": drained(server, keys),
    }


# -- the worker ---------------------------------------------------------------------------------

def worker_settings(source: Source, redis_url: str, worker_id: str, *, heartbeat_ttl: float = 10.0,
                    idle_timeout: float = 0.0, namespace: str = "narcwatch",
                    spool_path: Path | None = None) -> dict[str, Any]:
    """Extra Scrapy settings turning a crawl child into a Redis worker (passed as ``extra_settings``).

    ``spool_path``: the worker's own spool (``worker_spool_path``) instead of its data dir's."""
    from narcwatch.crawler.settings import SPIDER_MIDDLEWARES

    keys = Keys(source.id, namespace)
    spider_mw: dict[str, int | None] = dict(SPIDER_MIDDLEWARES)
    # same ledger as the frontier middleware, but discovered requests live in Redis, not the local frontier;
    # 10: outermost (the built-in ones start at 25), so it pushes only what depth and URL-length limits keep
    spider_mw["narcwatch.crawler.middlewares.frontier.FrontierSpiderMiddleware"] = None
    spider_mw[f"{_MW}.RedisFrontierSpiderMiddleware"] = 10
    return {
        "SCHEDULER": "narcwatch.crawler.redis_scheduler.RedisScheduler",
        "SCHEDULER_QUEUE_CLASS": "narcwatch.crawler.redis_queue.ReliableQueue",
        "SCHEDULER_SERIALIZER": "narcwatch.crawler.redis_queue",
        "SCHEDULER_QUEUE_KEY": keys.queue,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,  # a worker that ends must not delete the queue the others share
        "SCHEDULER_FLUSH_ON_START": False,
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,
        "REDIS_URL": redis_url,
        "REMOTE_CONTROL_ENABLED": False,  # a worker opens no control port
        "SPIDER_MIDDLEWARES": spider_mw,
        "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None, f"{_MW}.RedisWorkerExtension": 500},
        "NARCWATCH_REDIS_URL": redis_url,
        "NARCWATCH_REDIS_WORKER_ID": worker_id,
        "NARCWATCH_REDIS_NAMESPACE": namespace,
        "NARCWATCH_REDIS_HEARTBEAT_TTL": heartbeat_ttl,
        "NARCWATCH_REDIS_IDLE_TIMEOUT": idle_timeout,
        **({"NARCWATCH_SPOOL_PATH": str(spool_path)} if spool_path is not None else {}),
    }


class RedisFrontierSpiderMiddleware(FrontierSpiderMiddleware):
    """The page ledger without local pending rows: the shared queue is the frontier of a worker.

    As the local frontier records a page's discovered requests as pending before the page
    is done, this pushes them to Redis before the page ends (``RedisScheduler.push_now``):
    the page's popped request is acknowledged after that, so a kill at any moment leaves
    each discovered request either in Redis or re-found from its recovered page. It runs
    outermost (``worker_settings``), so it pushes what the other middlewares let through.

    Start requests are dropped: ``feed_source`` put the start pages in Redis once per round."""

    async def process_spider_output_async(self, response: Any, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        fp = self.ctx.page_fingerprint(response.request) if response.request is not None else None
        discovered: list[Request] = []
        try:
            async for out in result:
                if isinstance(out, Request):
                    discovered.append(out)
                elif fp is not None:
                    self.ctx.ledger.expect(fp, out)
                yield out
        except Exception as exc:  # a callback that raised still ends its page, or the round never drains
            if fp is not None:
                self.ctx.page_failed(fp, f"callback_{type(exc).__name__}")
            raise
        push_now = getattr(getattr(self.crawler.engine, "scheduler", None), "push_now", None)
        if push_now is not None:
            for req in discovered:
                push_now(req)
        if fp is not None and self.ctx.ledger.close_page(fp):
            self.ctx.page_done(fp)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for _ in start:
            self.crawler.stats.inc_value("narcwatch/redis/start_request_dropped")
        return
        yield  # an async generator that yields nothing


class RedisWorkerExtension:
    """Heartbeat, dead-worker recovery, acks after each spool commit, and "close when the round is drained"."""

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.crawler = crawler
        self.worker: str = s.get("NARCWATCH_REDIS_WORKER_ID") or new_worker_id()
        self.keys = Keys(s.get("NARCWATCH_SOURCE_ID") or "default", s.get("NARCWATCH_REDIS_NAMESPACE") or "narcwatch")
        self.ttl = max(1.0, s.getfloat("NARCWATCH_REDIS_HEARTBEAT_TTL", 10.0))
        self.idle_timeout = s.getfloat("NARCWATCH_REDIS_IDLE_TIMEOUT", 0.0)
        self.server = _client(s.get("NARCWATCH_REDIS_URL"))
        self.ctx = get_context(crawler)
        self._beat: LoopingCall | None = None
        self._poll: LoopingCall | None = None
        self._idle_since: float | None = None
        self._worked = False
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self._idle, signal=signals.spider_idle)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)
        self.ctx.after_commit.append(self._ack)
        self.ctx.on_page_end.append(self._settle)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RedisWorkerExtension":
        if not crawler.settings.get("NARCWATCH_REDIS_URL"):
            raise NotConfigured("NARCWATCH_REDIS_URL not set: not a Redis worker")
        return cls(crawler)

    def _queue(self) -> ReliableQueue | None:
        engine = self.crawler.engine
        queue = getattr(getattr(engine, "scheduler", None) if engine is not None else None, "queue", None)
        return queue if isinstance(queue, ReliableQueue) else None

    def _opened(self, spider: scrapy.Spider) -> None:
        self._heartbeat()
        self.server.sadd(self.keys.workers, self.worker)
        self._recover()
        self._beat = LoopingCall(self._tick)
        self._beat.start(self.ttl / 3, now=False)
        self._poll = LoopingCall(self._nudge)  # new work in Redis wakes an idle engine at once, not on its 5 s beat
        self._poll.start(0.25, now=False)

    def _heartbeat(self) -> None:
        self.server.set(self.keys.heartbeat(self.worker), b"1", px=int(self.ttl * 1000))

    def _tick(self) -> None:
        try:
            self._heartbeat()
            self.server.sadd(self.keys.workers, self.worker)  # re-register if someone took us for dead
            self._recover()
        except redis.RedisError as exc:  # Redis away for a moment: keep crawling what is in hand
            self.crawler.stats.inc_value(f"narcwatch/redis/errors/{type(exc).__name__}")

    def _recover(self) -> None:
        """Requeue the requests of workers whose heartbeat expired (they died holding them)."""
        moved = recover_dead(self.server, self.keys, self.worker)
        self.crawler.stats.inc_value("narcwatch/redis/recovered", moved)
        if moved:
            self.crawler.stats.inc_value("narcwatch/redis/dead_workers_seen")
            self._nudge()

    def _nudge(self) -> None:
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and slot.closing is None:
            slot.nextcall.schedule()

    def _settle(self, fp: str) -> None:
        if (queue := self._queue()) is not None:
            self._worked = True
            queue.settle(fp)

    def _ack(self) -> None:
        if (queue := self._queue()) is not None:
            queue.ack_committed()

    def _idle(self, spider: scrapy.Spider) -> None:
        self.ctx.flush()  # our settled pages are acked before we ask whether the round is drained
        if (queue := self._queue()) is not None and (orphans := queue.drop_orphans()):
            self.crawler.spider.logger.warning("%d popped request(s) never reached a page end; acknowledged", orphans)
        try:
            self._recover()
            done = drained(self.server, self.keys)
        except redis.RedisError:
            raise DontCloseSpider from None
        if done and (self._worked or self.server.exists(self.keys.round)):
            return  # nothing queued, nothing in flight anywhere: the round is over for this worker
        now = time.monotonic()
        self._idle_since = self._idle_since or now
        if self.idle_timeout and now - self._idle_since > self.idle_timeout and done:
            return
        raise DontCloseSpider

    def _closed(self, spider: scrapy.Spider, reason: str) -> None:
        for loop in (self._beat, self._poll):
            if loop is not None and loop.running:
                loop.stop()
        try:
            if (queue := self._queue()) is not None and queue.in_flight:
                self.crawler.stats.set_value("narcwatch/redis/unsettled", queue.in_flight)
            # whatever this worker still holds goes back for the others (a SIGTERM, a shutdown)
            back = requeue_own(self.server, self.keys, self.worker)
            self.crawler.stats.set_value("narcwatch/redis/requeued_on_close", back)
            self.server.srem(self.keys.workers, self.worker)
            self.server.delete(self.keys.heartbeat(self.worker))
        except redis.RedisError as exc:  # the heartbeat expires and another worker recovers our requests
            self.crawler.stats.inc_value(f"narcwatch/redis/errors/{type(exc).__name__}")


def run_worker(source: Source, config: Config, data_dir: DataDir, redis_url: str, *, worker_id: str | None = None,
               wait_for_round: float = 60.0, heartbeat_ttl: float = 10.0, proxy_url: str | None = None,
               extra_settings: dict[str, Any] | None = None, timeout: float | None = None,
               namespace: str = "narcwatch") -> CrawlResult:
    """Run one worker until the current round of ``source`` is drained; its crawl id is ``{round}-{worker}``."""
    _check_distributable(source, config)
    worker_id = worker_id or new_worker_id()
    server = _client(redis_url)
    keys = Keys(source.id, namespace)
    deadline = time.monotonic() + wait_for_round
    # A round that is already drained is over: wait for the next one to be fed.
    while (current := server.get(keys.round)) is None or drained(server, keys):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no running crawl round of {source.id!r} in Redis after {wait_for_round:.0f} s "
                               "(feed one: narcwatch run, or narcwatch crawl SOURCE --feed --redis URL)")
        time.sleep(0.5)
    extra = worker_settings(source, redis_url, worker_id, heartbeat_ttl=heartbeat_ttl, namespace=namespace,
                            spool_path=worker_spool_path(data_dir.root, worker_id))
    extra.update(extra_settings or {})
    return crawl_source(source, config, data_dir, crawl_id=f"{current.decode()}-{worker_id}", proxy_url=proxy_url,
                        extra_settings=extra, timeout=timeout)


# -- the daemon's side of a round ---------------------------------------------------------------

def worker_ends(data_root: Path, round_id: str) -> list[CrawlEnd]:
    """The ``crawl_end`` every worker of ``round_id`` wrote to its spool (a SIGKILLed one wrote none)."""
    ends: list[CrawlEnd] = []
    lo, hi = f"{round_id}-", f"{round_id}."  # every key "{round}-{worker}:..." sorts between these
    for path in sorted((data_root / WORKER_SPOOLS).glob("*.sqlite")):
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
                rows = db.execute("SELECT payload FROM items WHERE key >= ? AND key < ? AND kind = 'crawl_end'",
                                  (lo, hi)).fetchall()
        except sqlite3.Error:
            continue  # not a spool (yet): a worker that never committed has no end either
        for (payload,) in rows:
            try:
                ends.append(CrawlEnd.model_validate_json(payload))
            except ValueError:
                continue
    return ends


def spool_watermarks(data_root: Path) -> dict[Path, int]:
    """The last sequence number in every worker spool right now."""
    marks: dict[Path, int] = {}
    for path in sorted((data_root / WORKER_SPOOLS).glob("*.sqlite")):
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
                marks[path] = int(db.execute("SELECT coalesce(max(seq), 0) FROM items").fetchone()[0])
        except sqlite3.Error:
            continue
    return marks


def ingested(marks: dict[Path, int], consumer: str = "ingest") -> bool:
    """True when ``consumer`` has committed every worker spool up to its watermark."""
    for path, seq in marks.items():
        if seq == 0:
            continue
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
                row = db.execute("SELECT seq FROM offsets WHERE consumer = ?", (consumer,)).fetchone()
        except sqlite3.Error:
            return False
        if row is None or row[0] < seq:
            return False
    return True


@dataclass
class RoundOutcome:
    round: str
    complete: bool
    workers: int  # workers that ended the round cleanly (a killed one is not counted)
    pages: int
    items: int
    errors: dict[str, int]
    interrupted: bool = False  # the daemon stopped first; the next run resumes waiting for this round


def run_round(source: Source, redis_url: str, data_root: Path, *, config: Config | None = None,
              resume: str | None = None, stopping: Callable[[], bool] = lambda: False, poll: float = 1.0,
              on_round: Callable[[str], None] | None = None, namespace: str = "narcwatch") -> RoundOutcome:
    """One scheduled crawl of a scale-out source, from the daemon: feed a round (or rejoin
    ``resume``, the round a stopped daemon was waiting for), wait until it is drained and its
    workers have closed, wait until ingest has consumed every worker spool to its end, then
    write the round's ``crawl_end`` to the daemon's spool.

    Exactly once: the round's items reach the store from the worker spools (committed
    offset per spool, idempotent store; the round id is their crawl id), and its end is
    ingested after all of them, so removals are judged on the whole round."""
    server = _client(redis_url)
    keys = Keys(source.id, namespace)
    current = server.get(keys.round)
    if resume and current is not None and current.decode() == resume:
        round_id = resume  # drained or not, it is the one this daemon started: finish it, do not feed anew
    else:
        round_id = feed_source(source, redis_url, config=config, namespace=namespace).round
    if on_round is not None:
        on_round(round_id)
    while True:  # drained, and no worker still holding the round open (writing its crawl_end)
        recover_dead(server, keys)
        if drained(server, keys) and not any(server.exists(keys.heartbeat(w.decode()))
                                             for w in server.smembers(keys.workers)):
            break
        if stopping():
            return RoundOutcome(round_id, False, 0, 0, 0, {}, interrupted=True)
        time.sleep(poll)
    marks = spool_watermarks(data_root)
    while not ingested(marks):
        if stopping():
            return RoundOutcome(round_id, False, 0, 0, 0, {}, interrupted=True)
        time.sleep(poll)
    ends = worker_ends(data_root, round_id)
    errors: dict[str, int] = {}
    for end in ends:
        for reason, n in end.errors.items():
            errors[reason] = errors.get(reason, 0) + n
    # Complete only if every worker that finished says so: a worker stopped mid-round leaves
    # the round incomplete (no removals judged on it); a killed one left its pages to the others.
    outcome = RoundOutcome(round_id, bool(ends) and all(e.complete for e in ends), len(ends),
                           sum(e.pages for e in ends), sum(e.items for e in ends), errors)
    from narcwatch.crawler.models import utcnow
    from narcwatch.crawler.spool import Spool

    end = CrawlEnd(source=source.id, crawl_id=round_id, complete=outcome.complete, full=all(e.full for e in ends),
                   pages=outcome.pages, items=outcome.items, errors=errors, finished_at=utcnow())
    with Spool(DataDir.at(data_root).spool) as spool:
        spool.put(f"{round_id}:crawl_end", "crawl_end", end.model_dump(mode="json"), source.id)
    return outcome
