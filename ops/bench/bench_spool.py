"""Spool throughput: items/s written (committed in batches) and read back."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from narcwatch.crawler.spool import Spool
from ops.bench.harness import Result


def spool_throughput(n: int = 20_000, batch: int = 200) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp) / "spool.sqlite")
        payload = {"title": "x" * 300, "price": "10.00"}
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            spool.put_many([(f"k{j}", "listing", payload, "s") for j in range(i, i + batch)])
        put = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        got = 0
        while entries := spool.read("bench", 1000):
            got += len(entries)
            spool.ack("bench", entries[-1].seq)
        read = got / (time.perf_counter() - t0)
        spool.close()
    return [Result("spool.put", put, "items/s", f"batches of {batch}, synchronous=FULL"),
            Result("spool.read+ack", read, "items/s")]


BENCHMARKS = {"spool": spool_throughput}
