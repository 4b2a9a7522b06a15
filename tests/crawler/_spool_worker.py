"""Subprocess for the spool kill -9 tests: a producer or a consumer that can die anywhere.

producer: puts items 0..n-1 one transaction each, from the start every time it is
  launched (a resumed crawl re-yields what it already yielded).
consumer: reads batches, writes each item into a sink database idempotently, counts
  every delivery attempt, then acknowledges the batch.
"""

import sqlite3
import sys
import time

from narcwatch.crawler.spool import Spool

role, spool_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
spool = Spool(spool_path)
if role == "producer":
    for i in range(n):
        spool.put(f"crawl-1:listing:m:{i}", "listing", {"i": i, "title": f"item {i}"}, "m")
        time.sleep(0.0005)
    print("producer done", flush=True)
elif role == "consumer":
    sink = sqlite3.connect(sys.argv[4], isolation_level=None)
    sink.execute("PRAGMA journal_mode=WAL")
    sink.execute("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, i INTEGER)")
    sink.execute("CREATE TABLE IF NOT EXISTS attempts (n INTEGER)")
    idle = 0
    while idle < 40:
        batch = spool.read("ingest", limit=7)
        if not batch:
            idle += 1
            time.sleep(0.01)
            continue
        idle = 0
        sink.execute("BEGIN")
        for e in batch:
            sink.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (e.key, e.payload["i"]))
            sink.execute("INSERT INTO attempts VALUES (1)")
        sink.execute("COMMIT")
        spool.ack("ingest", batch[-1].seq)
    print("consumer done", flush=True)
