"""Scale-out crawling: several workers share one source's request queue and duplicate filter in Redis.

The scheduler (``narcwatch run``) or an operator calls ``feed_source(source, redis_url)``
to start a crawl round: it clears the round's duplicate filter and puts the start pages
in the shared queue. Workers (``narcwatch crawl SOURCE --worker --redis URL``, one or
more per machine) each run an ordinary crawl child whose Scrapy scheduler is
scrapy-redis with our reliable queue (``crawler.redis_queue``), so every page is
fetched by exactly one live worker and none is lost when a worker dies. A worker ends
when the round is drained (nothing queued, nothing in flight on any worker).

Each worker keeps its own data directory (frontier, evidence, spool); its crawl id is
``{round}-{worker}``. On one machine the workers' data directories can sit side by side;
on several machines each has its own, and an ingest per data directory writes into the
shared Elasticsearch.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
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

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["DISTRIBUTABLE_SPIDERS", "FeedResult", "RedisWorkerExtension", "RedisFrontierSpiderMiddleware",
           "feed_source", "new_worker_id", "round_status", "run_worker", "worker_settings"]

# Spiders whose requests can run on any worker: no per-session state (tokens, logins) tied to one process.
DISTRIBUTABLE_SPIDERS = frozenset({"profile"})
_MW = "narcwatch.crawler.distributed"


def new_worker_id() -> str:
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


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
                    idle_timeout: float = 0.0, namespace: str = "narcwatch") -> dict[str, Any]:
    """Extra Scrapy settings turning a crawl child into a Redis worker (passed as ``extra_settings``)."""
    from narcwatch.crawler.settings import SPIDER_MIDDLEWARES

    keys = Keys(source.id, namespace)
    spider_mw: dict[str, int | None] = dict(SPIDER_MIDDLEWARES)
    # 950: same ledger as the frontier middleware, but discovered requests live in Redis, not the local frontier
    spider_mw["narcwatch.crawler.middlewares.frontier.FrontierSpiderMiddleware"] = None
    spider_mw[f"{_MW}.RedisFrontierSpiderMiddleware"] = 950
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
    }


class RedisFrontierSpiderMiddleware(FrontierSpiderMiddleware):
    """The page ledger without local pending rows: the shared queue is the frontier of a worker.

    Start requests are dropped: ``feed_source`` put the start pages in Redis once per round."""

    async def process_spider_output_async(self, response: Any, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        fp = self.ctx.page_fingerprint(response.request) if response.request is not None else None
        try:
            async for out in result:
                if not isinstance(out, Request) and fp is not None:
                    self.ctx.ledger.expect(fp, out)
                yield out
        except Exception as exc:  # a callback that raised still ends its page, or the round never drains
            if fp is not None:
                self.ctx.page_failed(fp, f"callback_{type(exc).__name__}")
            raise
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
    extra = worker_settings(source, redis_url, worker_id, heartbeat_ttl=heartbeat_ttl, namespace=namespace)
    extra.update(extra_settings or {})
    return crawl_source(source, config, data_dir, crawl_id=f"{current.decode()}-{worker_id}", proxy_url=proxy_url,
                        extra_settings=extra, timeout=timeout)
