"""Scale-out benchmark: two Redis-backed workers against one on a latency-bound sandbox market.

``scale-workers``: a real ``redis-server`` (free port, no persistence) and a sandbox
market whose every response is delayed ``THROTTLE`` seconds (``FaultConfig.throttle_seconds``),
so a crawl is bound by round trips as a Tor crawl is, not by this machine's CPU. Each
worker has the per-source concurrency an operator would give a Tor market (``CONCURRENCY``)
and its own data dir. A round is fed (``feed_source``), then 1 worker, or 2 workers at
once, crawl it to the end; the figure is the speed-up of 2 workers over 1 in pages per
second of wall time from spawn to the last worker's exit (interpreter start-up included
in both) for ``scale-workers-speedup-wall``, and over the crawl window (first engine start to
last engine finish, from Scrapy's stats) for the headline ``scale-workers-speedup``: a real
Tor round runs for hours, so start-up is noise there. Alternated twice, best of each,
because the machine is shared. Target >= 1.6.

Observed (not explained here): with CONCURRENT_REQUESTS_PER_DOMAIN=2 and 0.5 s per
response, one crawl (Redis or not) averages about 7 responses in flight (256 pages in
~16-18 s), so a worker is partly CPU-bound on a loaded 2-core machine; the comparison
is still like for like (the same settings for every worker).
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.bench.harness import Result

SOURCE = "velvet-market"
THROTTLE = 0.5  # seconds per response: a Tor round trip
CONCURRENCY = 2  # per worker: what a cautious operator gives one market over Tor
SIZE = 500  # listings in the world (velvet-market holds about half): a round takes tens of seconds


def _round(server: Any, redis_url: str, root: Path, workers: int, tag: str) -> dict[str, Any]:
    from narcwatch.crawler.config import Config, TorConfig
    from narcwatch.crawler.distributed import feed_source, worker_settings
    from narcwatch.crawler.paths import DataDir
    from narcwatch.crawler.runner import read_result, spawn_crawl

    src = server.source(SOURCE).as_source().model_copy(update={"concurrency": CONCURRENCY, "autothrottle": False,
                                                                "delay": 0.0})
    fed = feed_source(src, redis_url, crawl_id=tag)
    assert fed.fed, fed
    procs = []
    t0 = time.perf_counter()
    for i in range(workers):
        wid = f"{tag}-w{i}"
        data = DataDir.at(root / wid)
        work = root / wid / "job"
        work.mkdir(parents=True, exist_ok=True)
        cfg = Config(data_dir=data.root, tor=TorConfig(socks_url=server.socks_url, control=None))
        extra = {**worker_settings(src, redis_url, wid, heartbeat_ttl=5.0), "LOG_LEVEL": "WARNING"}
        procs.append((spawn_crawl(src, cfg, data, work, crawl_id=f"{tag}-{wid}", proxy_url=server.socks_url,
                                  extra_settings=extra), work, data))
    results = []
    for proc, work, data in procs:
        proc.wait(1800)
        results.append(read_result(work, src, tag, data, proc.returncode))
    wall = time.perf_counter() - t0
    pages = sum(int(r.stats.get("downloader/response_count", 0)) for r in results)
    items = sum(r.items for r in results)
    ok = all(r.finish_reason == "finished" for r in results)
    # The crawl window: first engine start to last engine finish (interpreter start-up excluded).
    starts = [datetime.fromisoformat(str(r.stats["start_time"])) for r in results if "start_time" in r.stats]
    ends = [datetime.fromisoformat(str(r.stats["finish_time"])) for r in results if "finish_time" in r.stats]
    window = (max(ends) - min(starts)).total_seconds() if starts and ends else wall
    return {"workers": workers, "wall": wall, "window": window, "pages": pages, "items": items, "ok": ok,
            "per_worker_pages": [int(r.stats.get("downloader/response_count", 0)) for r in results]}


def bench_scale_workers() -> list[Result]:
    from narcwatch.sandbox import FaultConfig, SandboxServer, World
    from narcwatch.sandbox.redis_server import local_redis

    with tempfile.TemporaryDirectory(prefix="nw-bench-scale-") as tmp:
        root = Path(tmp)
        with local_redis(root) as url, \
                SandboxServer(World(seed=1, size=SIZE), FaultConfig(throttle_seconds=THROTTLE)) as server:
            runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
            for rep in range(2):
                for n in (1, 2):
                    runs[n].append(_round(server, url, root, n, f"r{rep}n{n}"))
    best = {n: max(rs, key=lambda r: r["pages"] / r["window"]) for n, rs in runs.items()}
    rate = {n: best[n]["pages"] / best[n]["window"] for n in best}
    wall_rate = {n: max(r["pages"] / r["wall"] for r in rs) for n, rs in runs.items()}
    speedup = rate[2] / rate[1]
    note = (f"velvet-market of a {SIZE}-listing world, {THROTTLE}s latency per response, concurrency "
            f"{CONCURRENCY} per worker; crawl window: 1 worker {rate[1]:.1f} pages/s ({best[1]['pages']} pages, "
            f"{best[1]['window']:.1f}s), 2 workers {rate[2]:.1f} pages/s ({best[2]['pages']} pages "
            f"{best[2]['per_worker_pages']}, {best[2]['window']:.1f}s); target >= 1.6")
    finished = all(r["ok"] for rs in runs.values() for r in rs)
    return [
        Result("scale-workers-speedup", round(speedup, 2), "x", note, extra={"runs": runs, "all_finished": finished}),
        Result("scale-workers-speedup-wall", round(wall_rate[2] / wall_rate[1], 2), "x",
               "same runs, spawn to last exit (each worker's interpreter start-up included)"),
        Result("scale-workers-1", round(rate[1], 1), "pages/s", "one Redis-backed worker (crawl window)"),
        Result("scale-workers-2", round(rate[2], 1), "pages/s", "two Redis-backed workers (crawl window)"),
    ]


BENCHMARKS = {"scale-workers": bench_scale_workers}
