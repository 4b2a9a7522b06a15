"""Scale-out crawling: two worker processes share one Redis queue and duplicate filter.

A real ``redis-server`` (started here on a free port, no persistence) and real crawl
children (``narcwatch.crawler.runner``) crawling a sandbox market through its SOCKS
proxy. Every ground-truth listing must be in the workers' spools combined, once; when
one worker is SIGKILLed mid-crawl the other must finish the round, including the
requests the dead one had popped (they sit in its processing hash until its heartbeat
expires, then go back to the queue).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.distributed import feed_source, round_status, worker_settings
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.redis_queue import Keys, drained, dumps, loads, recover_dead
from narcwatch.crawler.runner import read_result, spawn_crawl
from narcwatch.crawler.spool import Spool
from narcwatch.sandbox import FaultConfig, SandboxServer, World

SOURCE = "velvet-market"


@pytest.fixture
def r(redis_url: str) -> redis.Redis:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    return client


# -- unit level: the queue's guarantees, against the real server -------------------------------

def test_serializer_round_trips_bytes_and_drops_unserializable() -> None:
    data = {"url": "http://x.onion/", "body": b"\x00\xff", "headers": {b"Cookie": [b"a=1"]},
            "meta": {"depth": 2, "obj": object(), "t": (1, 2)}}
    back = loads(dumps(data))
    assert back["body"] == b"\x00\xff"
    assert back["headers"] == {"Cookie": [b"a=1"]}
    assert back["meta"] == {"depth": 2, "t": [1, 2]}


@pytest.mark.parametrize("garbage", [b"", b"{", b"\xff\xfe", b"[]", b'{"__b64__": "!!"}'])
def test_loads_on_garbage_raises_value_error_only(garbage: bytes) -> None:
    try:
        loads(garbage)
    except ValueError:
        pass


def test_dead_worker_requests_return_to_the_queue(r: redis.Redis) -> None:
    keys = Keys("unit")
    r.sadd(keys.workers, "alive", "dead")
    r.set(keys.heartbeat("alive"), b"1", px=60_000)
    r.hset(keys.processing("dead"), mapping={"t1": b"-1\nreq-one", "t2": b"0\nreq-two"})
    r.hset(keys.processing("alive"), mapping={"t3": b"0\nreq-three"})
    assert not drained(r, keys)
    assert recover_dead(r, keys) == 2
    assert sorted(r.zrange(keys.queue, 0, -1)) == [b"req-one", b"req-two"]
    assert r.zscore(keys.queue, b"req-one") == -1
    assert r.smembers(keys.workers) == {b"alive"}
    assert r.hlen(keys.processing("alive")) == 1  # a live worker keeps its requests
    r.delete(keys.queue)
    assert not drained(r, keys)  # "alive" still holds one
    r.delete(keys.processing("alive"))
    assert drained(r, keys)


def test_feed_starts_one_round_at_a_time(r: redis.Redis, redis_url: str, sandbox: SandboxServer) -> None:
    src = sandbox.source(SOURCE).as_source()
    first = feed_source(src, redis_url, crawl_id="round-1")
    assert first.fed and first.queued == len(src.start_urls)
    again = feed_source(src, redis_url, crawl_id="round-2")
    assert (again.fed, again.round) == (False, "round-1")  # still queued: no second round on top
    r.delete(Keys(SOURCE).queue)
    third = feed_source(src, redis_url, crawl_id="round-3")
    assert third.fed and third.round == "round-3"
    status = round_status(SOURCE, redis_url)
    assert status["round"] == "round-3" and status["queued"] == len(src.start_urls)


def test_feed_refuses_a_spider_with_session_state(redis_url: str, sandbox: SandboxServer, tmp_path: Path) -> None:
    src = sandbox.source("nebula-market").as_source()
    with pytest.raises(ValueError, match="distributable: profile"):
        feed_source(src, redis_url, config=Config(data_dir=tmp_path))


# -- two real workers --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def market() -> Iterator[SandboxServer]:
    # A little latency per response so a kill lands while requests are in flight.
    # 50 ms per response (Tor-like latency) keeps one worker busy for several seconds, longer
    # than the other's interpreter start-up on a loaded machine, so both really share the round.
    with SandboxServer(World(seed=1, size="demo"), FaultConfig(throttle_seconds=0.05)) as srv:
        yield srv


def _spawn(market: SandboxServer, redis_url: str, root: Path, worker: str, round_id: str) -> tuple[subprocess.Popen[bytes], Path, DataDir]:
    src = market.source(SOURCE).as_source().model_copy(update={"concurrency": 8, "autothrottle": False})
    data = DataDir.at(root / worker / "data")
    cfg = Config(data_dir=data.root, tor=TorConfig(socks_url=market.socks_url, control=None))
    work = root / worker / "job"
    work.mkdir(parents=True, exist_ok=True)
    extra = worker_settings(src, redis_url, worker, heartbeat_ttl=2.0)
    extra.update({"NARCWATCH_COMMIT_INTERVAL": 0.2})
    proc = spawn_crawl(src, cfg, data, work, crawl_id=f"{round_id}-{worker}", proxy_url=market.socks_url,
                       extra_settings=extra)
    return proc, work, data


def _listings(data: DataDir) -> list[str]:
    with Spool(data.spool) as spool:
        return [e.payload["site_id"] for e in spool.iter_all("listing")]


def _truth(market: SandboxServer) -> set[str]:
    return {t["site_id"] for t in market.truth() if t.get("source") == SOURCE and t["kind"] == "listing"}


@pytest.mark.server
@pytest.mark.slow  # two crawl processes over a whole market: ~15-40 s on a busy machine
def test_two_workers_crawl_every_listing_once(market: SandboxServer, redis_url: str, r: redis.Redis,
                                              tmp_path: Path) -> None:
    src = market.source(SOURCE).as_source()
    fed = feed_source(src, redis_url, crawl_id="two")
    procs = [_spawn(market, redis_url, tmp_path, w, fed.round) for w in ("w1", "w2")]
    results = []
    for proc, work, data in procs:
        proc.wait(300)
        results.append(read_result(work, src, "x", data, proc.returncode))
    per_worker = [_listings(data) for _, _, data in procs]
    combined = [s for ids in per_worker for s in ids]
    dupes = [k for k, n in Counter(combined).items() if n > 1]
    assert dupes == [], "a listing was crawled by both workers"
    assert set(combined) == _truth(market)
    assert all(ids for ids in per_worker), f"one worker did all the work: {[len(i) for i in per_worker]}"
    for res in results:
        assert res.returncode == 0 and res.finish_reason == "finished", (res.errors, res.health)
        assert res.complete, (res.errors, res.health)
    assert round_status(SOURCE, redis_url)["drained"]
    assert market.direct_onion_connections() == []


@pytest.mark.server
@pytest.mark.slow
def test_sigkill_one_worker_loses_nothing(market: SandboxServer, redis_url: str, r: redis.Redis,
                                          tmp_path: Path) -> None:
    src = market.source(SOURCE).as_source()
    fed = feed_source(src, redis_url, crawl_id="kill")
    keys = Keys(SOURCE)
    victim, _, victim_data = _spawn(market, redis_url, tmp_path, "victim", fed.round)
    survivor, work, data = _spawn(market, redis_url, tmp_path, "survivor", fed.round)
    # Kill the victim while it holds popped requests (its processing hash is not empty).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None:
        if r.hlen(keys.processing("victim")) >= 3 and r.scard(keys.dupefilter) > 40:
            break
        time.sleep(0.01)
    held = r.hlen(keys.processing("victim"))
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    assert victim.returncode == -signal.SIGKILL, "the victim finished before it could be killed"
    assert held > 0
    survivor.wait(300)
    res = read_result(work, src, "x", data, survivor.returncode)
    assert res.finish_reason == "finished", (res.errors, res.health)
    assert res.stats.get("narcwatch/redis/recovered", 0) >= held  # the dead worker's in-flight requests came back

    victim_ids, survivor_ids = _listings(victim_data), _listings(data)
    assert set(victim_ids) | set(survivor_ids) == _truth(market), "a listing was lost with the killed worker"
    assert len(survivor_ids) == len(set(survivor_ids)) and len(victim_ids) == len(set(victim_ids))
    # At-least-once across a crash: only pages the victim committed but had not yet acked are crawled twice.
    assert len(set(victim_ids) & set(survivor_ids)) <= held
    assert drained(r, keys)


# -- the CLI surface ---------------------------------------------------------------------------

def _config_file(tmp_path: Path, sandbox: SandboxServer, *ids: str) -> Path:
    import yaml

    path = tmp_path / "narcwatch.yaml"
    path.write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"),
        "tor": {"socks_url": sandbox.socks_url, "control": None},
        "sources": [sandbox.source(i).as_source().model_dump(mode="json", exclude_none=True) for i in ids],
    }), encoding="utf-8")
    return path


def test_cli_feed_starts_a_round(r: redis.Redis, redis_url: str, sandbox: SandboxServer, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from narcwatch.cli import app

    cfg = _config_file(tmp_path, sandbox, SOURCE, "nebula-market")
    run = CliRunner().invoke(app, ["--config", str(cfg), "crawl", SOURCE, "--feed", "--redis", redis_url])
    assert run.exit_code == 0, run.output
    assert '"fed": true' in run.output
    assert r.get(Keys(SOURCE).round) is not None and r.zcard(Keys(SOURCE).queue) == 1
    refused = CliRunner().invoke(app, ["--config", str(cfg), "crawl", "nebula-market", "--feed", "--redis", redis_url])
    assert refused.exit_code == 1 and "cannot be split across workers" in refused.output
    missing = CliRunner().invoke(app, ["--config", str(cfg), "crawl", SOURCE, "--worker"], env={"NARCWATCH_REDIS_URL": ""})
    assert missing.exit_code == 1 and "--redis URL" in missing.output


# -- ReliableQueue against the real server, with a real (unstarted) Scrapy crawler -------------

@pytest.fixture
def queue(r: redis.Redis) -> object:
    import scrapy
    from scrapy.utils.test import get_crawler

    from narcwatch.crawler.redis_queue import ReliableQueue

    class Spider(scrapy.Spider):
        name = "unit"

        def parse_index(self, response: object) -> None:
            pass

    crawler = get_crawler(Spider, {"NARCWATCH_SOURCE_ID": "unit", "NARCWATCH_REDIS_WORKER_ID": "w1",
                                   "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False})
    crawler.stats.open_spider()
    spider = Spider.from_crawler(crawler)
    return ReliableQueue(r, spider, Keys("unit").queue, serializer=__import__("narcwatch.crawler.redis_queue",
                                                                              fromlist=["dumps"]))


def test_queue_pops_by_priority_into_processing_and_acks_after_commit(queue: object, r: redis.Redis) -> None:
    import scrapy

    from narcwatch.crawler.redis_queue import TOKEN_META

    q = queue
    spider = q.spider  # type: ignore[attr-defined]
    for i, prio in enumerate((0, 5, -1)):
        q.push(scrapy.Request(f"http://x.onion/{i}", callback=spider.parse_index, priority=prio))  # type: ignore[attr-defined]
    keys = Keys("unit")
    first = q.pop()  # type: ignore[attr-defined]
    assert first.url == "http://x.onion/1" and first.callback == spider.parse_index
    assert r.smembers(keys.workers) == {b"w1"} and r.hlen(keys.processing("w1")) == 1 and r.zcard(keys.queue) == 2
    fp = q._fingerprint(first).hex()  # type: ignore[attr-defined]
    q.settle(fp)  # type: ignore[attr-defined]
    assert r.hlen(keys.processing("w1")) == 1  # not before the spool commit
    q.ack_committed()  # type: ignore[attr-defined]
    assert r.hlen(keys.processing("w1")) == 0
    retry = q.pop()  # type: ignore[attr-defined]
    assert TOKEN_META in retry.meta
    q.push(retry.replace(dont_filter=True))  # type: ignore[attr-defined]  # a retry is a new entry, not the token's
    assert r.zcard(keys.queue) == 2
    assert q.drop_orphans() == 1 and r.hlen(keys.processing("w1")) == 0  # type: ignore[attr-defined]


def test_queue_acknowledges_garbage_instead_of_crashing(queue: object, r: redis.Redis) -> None:
    keys = Keys("unit")
    r.zadd(keys.queue, {b"\x80not json": 0})
    assert queue.pop() is None  # type: ignore[attr-defined]
    assert r.zcard(keys.queue) == 0 and r.hlen(keys.processing("w1")) == 0
    assert queue.stats.get_value("narcwatch/redis/undecodable") == 1  # type: ignore[attr-defined]


def test_run_worker_waits_for_a_running_round(r: redis.Redis, redis_url: str, sandbox: SandboxServer,
                                              tmp_path: Path) -> None:
    from narcwatch.crawler.distributed import run_worker

    src = sandbox.source(SOURCE).as_source()
    cfg = Config(data_dir=tmp_path / "data", tor=TorConfig(socks_url=sandbox.socks_url, control=None))
    r.set(Keys(SOURCE).round, b"old-round")  # fed once and drained: nothing to join
    with pytest.raises(TimeoutError, match="no running crawl round"):
        run_worker(src, cfg, DataDir.at(tmp_path / "data"), redis_url, wait_for_round=0.6)


def test_a_pages_discovered_requests_are_in_redis_before_the_page_ends(r: redis.Redis, redis_url: str,
                                                                      tmp_path: Path) -> None:
    """The scraper takes a callback's output through a queue and schedules it later, so a
    page can end (and its request be acknowledged) while requests it yielded wait in that
    queue; a worker killed then lost them (a category's next page and its listings, seen
    under load). Here the consumer pulls the whole output and schedules nothing: at the
    page's end every discovered request must already be in Redis, once."""
    import asyncio
    import types

    import scrapy
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from narcwatch.crawler.context import get_context
    from narcwatch.crawler.distributed import RedisFrontierSpiderMiddleware
    from narcwatch.crawler.redis_scheduler import RedisScheduler

    class Spider(scrapy.Spider):
        name = "unit"

        def parse_index(self, response: object) -> None:
            pass

    keys = Keys("unit")
    crawler = get_crawler(Spider, {
        "NARCWATCH_SOURCE_ID": "unit", "NARCWATCH_REDIS_WORKER_ID": "w1", "NARCWATCH_DATA_DIR": str(tmp_path),
        "NARCWATCH_CRAWL_ID": "r1-w1", "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False,
        "REDIS_URL": redis_url, "SCHEDULER_QUEUE_CLASS": "narcwatch.crawler.redis_queue.ReliableQueue",
        "SCHEDULER_SERIALIZER": "narcwatch.crawler.redis_queue", "SCHEDULER_QUEUE_KEY": keys.queue,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter, "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True})
    crawler.stats.open_spider()
    spider = Spider.from_crawler(crawler)
    crawler.spider = spider
    scheduler = RedisScheduler.from_crawler(crawler)
    scheduler.open(spider)
    crawler.engine = types.SimpleNamespace(scheduler=scheduler)  # (only the engine's scheduler is read)
    ctx = get_context(crawler)
    queued_at_end: list[int] = []
    ctx.on_page_end.append(lambda fp: queued_at_end.append(int(r.zcard(keys.queue))))
    mw = RedisFrontierSpiderMiddleware(crawler, ctx)
    page = scrapy.Request("http://x.onion/category/a?page=3", callback=spider.parse_index)
    response = HtmlResponse(url=page.url, request=page, body=b"<html></html>")

    async def output():  # what the callback yields: the next page and four listings
        for path in ("category/a?page=4", "listing/1", "listing/2", "listing/3", "listing/4"):
            yield scrapy.Request(f"http://x.onion/{path}", callback=spider.parse_index)

    async def pull_everything_schedule_nothing() -> list[scrapy.Request]:
        return [out async for out in mw.process_spider_output_async(response, output())]

    try:
        discovered = asyncio.run(pull_everything_schedule_nothing())
        assert queued_at_end == [5]  # the page ended with all five already in Redis
        assert all(scheduler.enqueue_request(req) for req in discovered)  # the engine's hand-over: no second push
        assert r.zcard(keys.queue) == 5
        again = scrapy.Request("http://x.onion/listing/1", callback=spider.parse_index)
        assert scheduler.enqueue_request(again) is False  # a later duplicate is still refused
    finally:
        ctx.close()
