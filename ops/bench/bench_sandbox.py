"""Sandbox throughput: does the sandbox serve faster than a plain Scrapy crawl consumes?

* ``sandbox.scrapy.<size>``: a minimal Scrapy spider (subprocess, 32 concurrent requests,
  telnet and extensions off) fetches N listing pages from the sandbox: pages/s consumed.
* ``sandbox.capacity.<size>``: a raw asyncio keep-alive client (subprocess, 32
  connections) fetches the same pages as fast as the server answers: pages/s served.
* ``sandbox.startup.1m``: seconds to build the 1,000,000-listing world and bind every
  socket.

Onion pages are fetched from the onion listener by ``Host`` header with the proxy check
off (``enforce_proxy=False``): bare Scrapy has no SOCKS client, and the point is the
server's speed, not Tor's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ops.bench.harness import Result

N_PAGES = 3000

_SPIDER = r'''
import json, sys, time
import scrapy
from scrapy.crawler import CrawlerProcess

port, host, ids = int(sys.argv[1]), sys.argv[2], json.loads(open(sys.argv[3]).read())
stats = {}

class Bench(scrapy.Spider):
    name = "bench"
    async def start(self):
        stats["t0"] = time.perf_counter()
        for i in ids:
            yield scrapy.Request(f"http://127.0.0.1:{port}/listing/{i}", headers={"Host": host}, dont_filter=True)
    def parse(self, response):
        stats["n"] = stats.get("n", 0) + (response.status == 200)
        stats["t1"] = time.perf_counter()

proc = CrawlerProcess({"LOG_ENABLED": False, "TELNETCONSOLE_ENABLED": False, "CONCURRENT_REQUESTS": 32,
                       "CONCURRENT_REQUESTS_PER_DOMAIN": 32, "ROBOTSTXT_OBEY": False, "COOKIES_ENABLED": False,
                       "RETRY_ENABLED": False, "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None,
                       "scrapy.extensions.memusage.MemoryUsage": None, "scrapy.extensions.logstats.LogStats": None}})
proc.crawl(Bench)
proc.start()
print(json.dumps({"pages": stats.get("n", 0), "seconds": stats["t1"] - stats["t0"]}))
'''

_CLIENT = r'''
import asyncio, json, sys, time
port, host, ids = int(sys.argv[1]), sys.argv[2], json.loads(open(sys.argv[3]).read())

async def worker(queue, counts):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    while queue:
        i = queue.pop()
        w.write(f"GET /listing/{i} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = await r.readuntil(b"\r\n\r\n")
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
        await r.readexactly(length)
        counts[0] += head.startswith(b"HTTP/1.1 200")
    w.close()

async def main():
    queue, counts = list(ids), [0]
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(queue, counts) for _ in range(32)))
    print(json.dumps({"pages": counts[0], "seconds": time.perf_counter() - t0}))

asyncio.run(main())
'''


def _visible_ids(server: object, market: str, n: int) -> list[str]:
    ls = server.world.listings  # type: ignore[attr-defined]
    out, j = [], 0
    created = server.world.markets[market].created_count(0.0)  # type: ignore[attr-defined]
    step = max(1, created // (n * 2))
    while len(out) < n and j < created:
        d = ls.get(market, j)
        if d is not None and ls.visible(d, 0.0):
            out.append(d.site_id)
        j += step
    ls.get.cache_clear()  # the crawl must not find pages pre-rendered
    return (out * (n // max(1, len(out)) + 1))[:n]


def _run(script: str, port: int, host: str, ids: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        ids_file = Path(tmp) / "ids.json"
        ids_file.write_text(json.dumps(ids))
        out = subprocess.run([sys.executable, "-c", script, str(port), host, str(ids_file)], capture_output=True,
                             text=True, timeout=600, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def _measure(size: str, n: int = N_PAGES) -> list[Result]:
    from narcwatch.sandbox import SandboxServer, World
    results = []
    with SandboxServer(World(1, size), enforce_proxy=False) as server:
        src = server.source("velvet-market")
        port = server.onion_listener.port  # type: ignore[union-attr]
        ids = _visible_ids(server, "velvet-market", n)
        for label, script in (("scrapy", _SPIDER), ("capacity", _CLIENT)):
            server.world.listings.get.cache_clear()
            got = _run(script, port, src.host, ids)
            results.append(Result(f"sandbox.{label}.{size}", got["pages"] / got["seconds"], "pages/s",
                                  f"{int(got['pages'])} listing pages, 32 concurrent",
                                  {"pages": got["pages"], "seconds": round(got["seconds"], 3)}))
    return results


def startup_1m() -> list[Result]:
    from narcwatch.sandbox import SandboxServer, World
    t0 = time.perf_counter()
    world = World(1, "1m")
    built = time.perf_counter() - t0
    with SandboxServer(world):
        up = time.perf_counter() - t0
    return [Result("sandbox.startup.1m", up, "s", f"world {built:.2f} s + bind all sockets", {"world_s": round(built, 3)})]


BENCHMARKS = {
    "sandbox-demo": lambda: _measure("demo"),
    "sandbox-1m": lambda: _measure("1m"),
    "sandbox-startup": startup_1m,
}
