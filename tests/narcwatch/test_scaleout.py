"""`narcwatch run --redis`: the daemon feeds a Redis round and ingests every worker's spool.

A real ``redis-server`` (free port, no persistence), a sandbox market behind its SOCKS
proxy with Tor-like latency, the real ``Daemon`` (scheduler, supervisor, fan-in ingest,
alerts) and two real crawl worker processes spooling into the daemon's data directory.
One worker is SIGKILLed mid-crawl while it holds popped requests. Every ground-truth
listing must be in the store once, with one snapshot and one NEW event, and the round
must end once, complete (a killed worker's pages were recovered by the other).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from narcwatch.crawler import health
from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.distributed import round_of, worker_settings, worker_spool_path
from narcwatch.crawler.models import Listing
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.redis_queue import Keys
from narcwatch.crawler.runner import spawn_crawl
from narcwatch.crawler.spool import Spool
from narcwatch.daemon import Daemon, DaemonOptions
from narcwatch.fanin import FanInIngestor
from narcwatch.index.models import EventType
from narcwatch.index.sqlite import SqliteStore
from narcwatch.sandbox import FaultConfig, SandboxServer, World

SOURCE = "velvet-market"


# -- pure parts --------------------------------------------------------------------------------

@pytest.mark.parametrize(("crawl_id", "worker", "expected"), [
    ("velvet-20260101T000000-ab12cd-host-1-ff00", "host-1-ff00", "velvet-20260101T000000-ab12cd"),
    ("round-1-w1", "w1", "round-1"),
    ("round-1", "w2", "round-1"),  # not this worker's: unchanged
    ("-w1", "w1", "-w1"),  # nothing left of the round: unchanged
    ("", "w1", ""),
])
def test_round_of(crawl_id: str, worker: str, expected: str) -> None:
    assert round_of(crawl_id, worker) == expected


@pytest.mark.parametrize(("worker", "name"), [
    ("host-12-ab", "host-12-ab.sqlite"),
    ("../../etc/passwd", "_.._etc_passwd.sqlite"),
    ("a/b\x00c", "a_b_c.sqlite"),
    ("...", "worker.sqlite"),
    ("x" * 500, "x" * 120 + ".sqlite"),
])
def test_worker_spool_path_is_a_file_in_spools(tmp_path: Path, worker: str, name: str) -> None:
    path = worker_spool_path(tmp_path, worker)
    assert path.parent == tmp_path / "spools" and path.name == name


def _listing(i: int, crawl_id: str) -> Listing:
    return Listing(source="mkt", url=f"http://mkt.example/l/{i}", site_id=str(i), title=f"{i}g MDMA",
                   crawl_id=crawl_id, capture_id=f"cap{i}", capture_sha256="ab" * 32)


def _spool(path: Path, crawl_id: str, ids: range, end: bool = False) -> None:
    with Spool(path) as sp:
        sp.put_many([(f"{crawl_id}:listing:{i}", "listing", _listing(i, crawl_id).model_dump(mode="json"), "mkt")
                     for i in ids])
        if end:
            sp.put(f"{crawl_id}:crawl_end:1", "crawl_end",
                   {"source": "mkt", "crawl_id": crawl_id, "complete": True}, "mkt")


def test_fan_in_reads_every_spool_once_and_maps_worker_crawls_to_the_round(tmp_path: Path) -> None:
    data = DataDir.at(tmp_path / "data")
    spools = data.root / "spools"
    # Both workers spooled listing 5 (one was killed after its spool commit, before its Redis ack).
    _spool(worker_spool_path(data.root, "w1"), "r1-w1", range(0, 6), end=True)
    _spool(worker_spool_path(data.root, "w2"), "r1-w2", range(5, 10))
    store = SqliteStore(data.store)
    try:
        with Spool(data.spool) as main:
            fan = FanInIngestor(main, spools, store, batch_size=3)
            stats = fan.drain()
            assert stats.items == 11 and stats.worker_ends == 1 and stats.crawls_ended == 0
            assert store.counts()["listings"] == 10 and store.counts()["snapshots"] == 10  # listing 5 once
            # A restart reads nothing twice: the offsets are committed per spool.
            fan.close()
            again = FanInIngestor(main, spools, store)
            assert again.drain().items == 0
            # The round ends once, from the daemon's spool, under the round's crawl id.
            main.put("r1:crawl_end", "crawl_end", {"source": "mkt", "crawl_id": "r1", "complete": True}, "mkt")
            assert again.drain().crawls_ended == 1
            again.close()
        crawls = store._db.execute("SELECT crawl_id, complete FROM crawls").fetchall()
        assert crawls == [("r1", 1)]
        assert store.counts()["events"] == 10  # ten NEW, nothing removed: every listing was in round r1
    finally:
        store.close()


def test_fan_in_closes_idle_worker_spools_and_reopens_them_on_change(tmp_path: Path) -> None:
    data = DataDir.at(tmp_path / "data")
    path = worker_spool_path(data.root, "w1")
    _spool(path, "r1-w1", range(3))
    store = SqliteStore(data.store)
    try:
        with Spool(data.spool) as main:
            fan = FanInIngestor(main, data.root / "spools", store, idle_close=0.0)
            assert fan.drain().items == 3
            fan.run_once()
            assert fan.open_spools() == 1  # only the daemon's own: w1 was idle and fully read
            time.sleep(0.05)  # a later mtime
            _spool(path, "r2-w1", range(3, 5))
            assert fan.run_once() == 2 and fan.stats.items == 5
            fan.close()
    finally:
        store.close()


def test_a_stray_file_in_spools_does_not_stop_ingest(tmp_path: Path) -> None:
    data = DataDir.at(tmp_path / "data")
    (data.root / "spools").mkdir()
    (data.root / "spools" / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    _spool(worker_spool_path(data.root, "w1"), "r1-w1", range(4))
    store = SqliteStore(data.store)
    try:
        with Spool(data.spool) as main:
            fan = FanInIngestor(main, data.root / "spools", store)
            assert fan.drain().items == 4 and fan.open_spools() == 2  # the daemon's and w1's
            fan.close()
    finally:
        store.close()


# -- run_round against the real server: resume, interruption ---------------------------------------

def test_run_round_finishes_the_round_a_restarted_daemon_was_waiting_for(redis_url: str, tmp_path: Path) -> None:
    from narcwatch.crawler.distributed import run_round
    from narcwatch.crawler.models import Source

    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    src = Source(id="mkt", profile="classic", start_urls=["http://mkt.example/"])
    data = DataDir.at(tmp_path / "data")
    # The daemon stopped after round r1 drained (nothing queued, no worker) but before its end.
    r.set(Keys("mkt").round, b"r1")
    _spool(worker_spool_path(data.root, "w1"), "r1-w1", range(3), end=True)
    store = SqliteStore(data.store)
    try:
        with Spool(data.spool) as main:
            fan = FanInIngestor(main, data.root / "spools", store)
            fan.drain()
            out = run_round(src, redis_url, data.root, resume="r1", poll=0.05)
            assert (out.round, out.complete, out.workers, out.interrupted) == ("r1", True, 1, False)
            assert r.get(Keys("mkt").round) == b"r1"  # rejoined, not fed anew
            assert fan.drain().crawls_ended == 1
            fan.close()
        assert store._db.execute("SELECT crawl_id, complete FROM crawls").fetchall() == [("r1", 1)]
    finally:
        store.close()
    # A new run feeds round 2; a daemon stopping while it waits leaves it for the next start.
    started: list[str] = []
    out = run_round(src, redis_url, data.root, stopping=lambda: True, on_round=started.append, poll=0.05)
    assert out.interrupted and not out.complete and started == [out.round] and out.round != "r1"
    assert r.zcard(Keys("mkt").queue) == 1  # the start page waits for the workers
    with Spool(data.spool) as main:
        assert [e.key for e in main.iter_all("crawl_end")] == ["r1:crawl_end"]  # no end for the unfinished round


# -- the daemon with two real workers, one killed -----------------------------------------------

@pytest.fixture(scope="module")
def market() -> Iterator[SandboxServer]:
    # 50 ms per response (Tor-like latency): the victim is still crawling when it is killed.
    with SandboxServer(World(seed=1, size="demo"), FaultConfig(throttle_seconds=0.05)) as srv:
        yield srv


def _spooled(path: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM items WHERE kind = 'listing'").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def _wait(what: str, cond, timeout: float = 240.0, every: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def _diagnosis(data: DataDir, round_id: str, missing: set[str], extra: set[str]) -> str:
    """What to look at when a listing is missing from both spools: the ids, and each worker
    log's lines about requests retried, dropped, orphaned or recovered. (The failure seen
    on loaded machines until session 4: a page acknowledged while the requests it yielded
    still waited in the scraper's output queue, lost with the killed victim; reproduced
    1 in 4 runs beside two busy processes, fixed by ``RedisScheduler.push_now``, 0 in 6
    after, and pinned by test_distributed's page-end test.)"""
    words = ("retry", "retrying", "gave up", "orphan", "recover", "requeue", "unsettled", "ignoring", "error")
    lines = [f"missing {sorted(missing)[:20]}, unexpected {sorted(extra)[:20]}"]
    for w in ("victim", "survivor"):
        log = data.logs / f"{round_id}-{w}.log"
        text = log.read_text(errors="replace").splitlines() if log.exists() else ["(no log)"]
        hits = [ln for ln in text if any(k in ln.lower() for k in words)]
        lines += [f"--- {w}: {len(text)} log lines, {len(hits)} relevant", *hits[-40:]]
    return "\n".join(lines)


@pytest.mark.server
@pytest.mark.slow  # a daemon and two crawl processes over a whole market: ~20-60 s on a busy machine
def test_daemon_feeds_redis_and_ingests_both_workers_exactly_once(market: SandboxServer, redis_url: str,
                                                                   tmp_path: Path) -> None:
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    keys = Keys(SOURCE)
    src = market.source(SOURCE).as_source().model_copy(update={"concurrency": 8, "autothrottle": False,
                                                               "schedule": "interval:1h"})
    data = DataDir.at(tmp_path / "data")
    cfg = Config(data_dir=data.root, tor=TorConfig(socks_url=market.socks_url, control=None), sources=[src])
    daemon = Daemon(cfg, data, DaemonOptions(redis_url=redis_url, proxy_url=market.socks_url, health_every=5,
                                             grace=10)).start()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        _wait("the daemon to feed a round", lambda: r.get(keys.round) is not None, timeout=60)
        round_id = r.get(keys.round).decode()
        for w in ("victim", "survivor"):  # what `narcwatch crawl SOURCE --worker --redis URL` starts
            work = tmp_path / w
            work.mkdir()
            extra = worker_settings(src, redis_url, w, heartbeat_ttl=2.0, spool_path=worker_spool_path(data.root, w))
            extra["NARCWATCH_COMMIT_INTERVAL"] = 0.2
            procs[w] = spawn_crawl(src, cfg, data, work, crawl_id=f"{round_id}-{w}", proxy_url=market.socks_url,
                                   extra_settings=extra)
        victim = procs["victim"]
        # Killed once it has committed listings to its spool (the daemon must ingest them) while
        # it holds popped requests (the survivor must recover them).
        _wait("the victim to spool listings and hold popped requests",
              lambda: victim.poll() is not None or (r.hlen(keys.processing("victim")) >= 3
                                                    and _spooled(worker_spool_path(data.root, "victim")) >= 20),
              every=0.01)
        held = r.hlen(keys.processing("victim"))
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
        assert victim.returncode == -signal.SIGKILL and held > 0, "the victim finished before it could be killed"
        assert procs["survivor"].wait(300) == 0
        _wait("the round to end in the store", lambda: daemon.ingest is not None
              and daemon.ingest.inner.stats.crawls_ended >= 1)
        _wait("the round's health record", lambda: health.load(data.jobs, SOURCE).in_flight is None, timeout=30)
        stats = daemon.ingest.inner.stats  # type: ignore[union-attr]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(30)
        daemon.stop()

    truth = {t["site_id"] for t in market.truth() if t.get("source") == SOURCE and t["kind"] == "listing"}
    with Spool(worker_spool_path(data.root, "victim")) as v, Spool(worker_spool_path(data.root, "survivor")) as s:
        spooled = [[e.payload["site_id"] for e in sp.iter_all("listing")] for sp in (v, s)]
    assert all(spooled), f"both workers spooled listings: {[len(x) for x in spooled]}"
    got = set(spooled[0]) | set(spooled[1])
    assert got == truth, _diagnosis(data, round_id, truth - got, got - truth)
    store = SqliteStore(data.store)
    try:
        docs = [d for d in store.iter_documents() if d.get("type") == "listing"]
        counts = store.counts()
        crawls = store._db.execute("SELECT crawl_id, complete FROM crawls WHERE source = ?", (SOURCE,)).fetchall()
        new = store.events(types=[EventType.NEW], limit=10**6)
        removed = store.events(types=[EventType.REMOVED], limit=10**6)
    finally:
        store.close()
    assert sorted(d["site_id"] for d in docs) == sorted(truth)  # every listing in the store, once
    assert counts["snapshots"] == len(truth)  # one snapshot each, though the victim's unacked pages were recrawled
    assert len(new) == len(truth) and removed == []
    assert crawls == [(round_id, 1)]  # the round ended once, complete
    assert stats.worker_ends == 1 and stats.rejected == 0  # the survivor's end; the killed victim wrote none
    h = health.load(data.jobs, SOURCE)
    assert (h.last_success_crawl_id, h.finished) == (round_id, True)  # `sources status` shows the round
    assert market.direct_onion_connections() == []


def test_fan_in_totals_count_the_shared_rates_provider_once() -> None:
    """Every ingestor of one process copies the same rates provider's counts: the total is
    that count, not one copy per open spool (a rejected reason is each ingestor's own: summed)."""
    from narcwatch.fanin import _add
    from narcwatch.ingest import IngestStats

    a = IngestStats(items=3, rejected_reasons={"bad": 1}, rates_missing={"no_rates_for_currency": 5},
                    rates_unknown_currencies={"GBP": 5})
    b = IngestStats(items=2, rejected_reasons={"bad": 2}, rates_missing={"no_rates_for_currency": 7, "rate_too_old": 1},
                    rates_unknown_currencies={"GBP": 6, "CAD": 1})
    total = IngestStats()
    _add(total, a)
    _add(total, b)
    assert total.items == 5 and total.rejected_reasons == {"bad": 3}
    assert total.rates_missing == {"no_rates_for_currency": 7, "rate_too_old": 1}
    assert total.rates_unknown_currencies == {"GBP": 6, "CAD": 1}
