"""The spool: durable, deduplicating, replayable; survives kill -9 on either side."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from narcwatch.crawler.spool import Spool

WORKER = Path(__file__).with_name("_spool_worker.py")


def test_put_dedupes_on_key(tmp_path):
    with Spool(tmp_path / "s.sqlite") as s:
        assert s.put("k1", "listing", {"a": 1}) is True
        assert s.put("k1", "listing", {"a": 2}) is False
        assert s.put_many([("k1", "listing", {}, ""), ("k2", "post", {"b": 1}, "f")]) == 1
        assert s.count() == 2
        assert [e.payload for e in s.iter_all()] == [{"a": 1}, {"b": 1}]


def test_offsets_per_consumer_and_replay(tmp_path):
    path = tmp_path / "s.sqlite"
    with Spool(path) as s:
        s.put_many([(f"k{i}", "listing", {"i": i}, "") for i in range(10)])
        first = s.read("ingest", limit=4)
        assert [e.payload["i"] for e in first] == [0, 1, 2, 3]
        # not acknowledged: a restarted consumer sees the same items again
    with Spool(path) as s:
        assert [e.payload["i"] for e in s.read("ingest", limit=4)] == [0, 1, 2, 3]
        s.ack("ingest", first[-1].seq)
        s.ack("ingest", first[0].seq)  # an older ack never moves the offset back
        assert s.pending("ingest") == 6
        assert s.pending("alerts") == 10
        assert [e.payload["i"] for e in s.read("ingest", limit=100)][0] == 4


def _run(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_randomly(args: list[str], rng: random.Random, kills: int) -> int:
    """Start the worker, SIGKILL it at a random moment, ``kills`` times; then let it finish."""
    killed = 0
    for _ in range(kills):
        p = _run(args)
        time.sleep(rng.uniform(0.05, 0.4))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.communicate()
    p = _run(args)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err.decode()
    return killed


@pytest.mark.slow
def test_kill_9_producer_and_consumer_lose_and_duplicate_nothing(tmp_path):
    rng = random.Random(20261122)
    spool, sink, n = str(tmp_path / "spool.sqlite"), str(tmp_path / "sink.sqlite"), 600
    producer_kills = _kill_randomly(["producer", spool, str(n)], rng, kills=6)
    consumer_kills = _kill_randomly(["consumer", spool, str(n), sink], rng, kills=6)
    assert producer_kills >= 3 and consumer_kills >= 3, "the kills must land while the workers run"

    with Spool(spool) as s:
        assert s.count() == n  # producer restarts duplicated nothing in the spool
        assert s.pending("ingest") == 0
    db = sqlite3.connect(sink)
    keys = [k for (k,) in db.execute("SELECT key FROM seen")]
    assert len(keys) == n and len(set(keys)) == n  # nothing lost, nothing twice
    attempts = db.execute("SELECT count(*) FROM attempts").fetchone()[0]
    assert attempts >= n  # replays after kills are absorbed by the idempotent sink
