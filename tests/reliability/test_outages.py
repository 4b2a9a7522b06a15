"""Outages: the index locked or the disk full while the ingest worker runs; the SOCKS proxy down.

A real second process (``sqlite3`` in a child interpreter) holds the store's write lock
(``BEGIN IMMEDIATE``) while ``Ingestor.run_forever`` works through the spool. The worker
reports a health error, keeps the batch unacknowledged in the spool, backs off, and
finishes by itself once the lock is released: every item ends in the store exactly once.

Other outages and where they are tested: SMTP and webhook down during a run:
tests/index/alerts/test_outage.py; SOCKS proxy down mid-crawl and crawl resume:
test_socks_proxy_down_... below. Disk full: a 4 MB tmpfs (root; skipped where mounting
is not allowed) filled to the last block while the worker ingests.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import threading
from datetime import datetime, timezone
from decimal import Decimal
from collections.abc import Iterator
from pathlib import Path

import pytest

from narcwatch.crawler.models import Listing, Money
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.spool import Spool
from narcwatch.index import open_store
from narcwatch.crawler.config import Config
from narcwatch.ingest import Ingestor

pytestmark = pytest.mark.timeout(180)

N = 30
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)

HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # hold the write lock until the test says so
db.execute("ROLLBACK")
"""


def _listing(i: int) -> Listing:
    return Listing(source="outage-market", site_id=str(i), url=f"http://market.sandbox.test/listing/{i}",
                   crawl_id="c1", seen_at=T0, title=f"Fictional metonitazene powder {i}", vendor=f"fict_vendor_{i % 4}",
                   price=Money(amount=Decimal(40 + i), currency="USD"), capture_id=f"cap-{i}",
                   capture_sha256=hashlib.sha256(f"capture-{i}".encode()).hexdigest())


def test_locked_store_is_a_health_error_and_nothing_is_lost(tmp_path: Path) -> None:
    data = DataDir.at(tmp_path / "data")
    data.ensure()
    config = Config(data_dir=data.root)
    store = open_store(config.store, data)
    store.counts()  # the schema exists before the other process locks it
    with Spool(data.spool) as spool:
        spool.put_many((f"outage-market:{i}", "listing", _listing(i).model_dump(mode="json"), "outage-market")
                       for i in range(N))
        holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(data.store)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            ingestor = Ingestor(spool, store, batch_size=10)
            stop = threading.Event()
            worker = threading.Thread(target=ingestor.run_forever, args=(stop,), kwargs={"poll": 0.05,
                                                                                          "backoff_max": 0.5})
            worker.start()
            # Wait (bounded) until the worker has met the lock: a health error, nothing acked.
            for _ in range(600):
                if ingestor.stats.store_errors:
                    break
                stop.wait(0.1)
            assert ingestor.stats.store_errors >= 1
            assert any("index unavailable" in h and "locked" in h for h in ingestor.stats.health), ingestor.stats
            assert spool.pending("ingest") == N  # the batch stays in the spool
            assert worker.is_alive()  # the worker did not die
        finally:
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(30)
            holder.stdin.close()
            holder.stdout.close()
        for _ in range(600):  # resumes by itself once the lock is gone
            if spool.pending("ingest") == 0:
                break
            stop.wait(0.1)
        stop.set()
        worker.join(30)
        assert spool.pending("ingest") == 0
    assert store.counts()["listings"] == N  # nothing lost
    assert ingestor.stats.items == N  # each item ingested once after the outage
    store.close()


@pytest.mark.server
def test_socks_proxy_down_is_counted_and_the_next_run_completes(tmp_path: Path) -> None:
    """The Tor SOCKS proxy is down for a crawl: the crawl ends incomplete with the failure
    counted under a reason and nothing spooled; the next run of the same crawl (proxy back)
    completes, and every listing is spooled exactly once."""
    from narcwatch.crawler.config import TorConfig
    from narcwatch.crawler.runner import crawl_source
    from narcwatch.sandbox import SandboxServer, World

    fast = {"NARCWATCH_BACKOFF_BASE": 0.01, "NARCWATCH_BACKOFF_MAX": 0.05, "RETRY_TIMES": 1}
    data = DataDir.at(tmp_path / "data")
    with SandboxServer(World(seed=3, size=60)) as server:
        src = server.source("velvet-market").as_source().model_copy(update={"concurrency": 8, "autothrottle": False})
        with socket.socket() as s:  # a port nobody listens on: the proxy is down
            s.bind(("127.0.0.1", 0))
            dead = f"socks5h://127.0.0.1:{s.getsockname()[1]}"
        cfg = Config(data_dir=data.root, tor=TorConfig(socks_url=dead, control=None))
        down = crawl_source(src, cfg, data, crawl_id="proxy-outage", proxy_url=dead, extra_settings=fast, timeout=240)
        assert not down.complete and down.returncode == 0
        assert sum(down.errors.values()) >= 1 and "crawler_crashed" not in down.errors, down.errors
        with Spool(data.spool) as spool:
            assert list(spool.iter_all("listing")) == []
        up = crawl_source(src, cfg, data, crawl_id="proxy-outage", proxy_url=server.socks_url, extra_settings=fast,
                          timeout=240)
        truth = {r["site_id"] for r in server.truth() if r.get("source") == "velvet-market" and r["kind"] == "listing"}
    assert up.complete, (up.errors, up.health, {k: v for k, v in up.stats.items() if k.startswith("narcwatch")}, down.errors)
    with Spool(data.spool) as spool:
        got = [e.payload["site_id"] for e in spool.iter_all("listing")]
    assert len(got) == len(set(got)) and set(got) <= truth and len(got) >= 0.8 * len(truth)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (root only; skipped where mounting is not allowed)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_is_a_health_error_and_ingest_resumes_when_space_returns(tiny_disk: Path) -> None:
    data = DataDir.at(tiny_disk / "data")
    data.ensure()
    store = open_store(Config(data_dir=data.root).store, data)
    store.counts()
    with Spool(data.spool) as spool:
        spool.put_many((f"outage-market:{i}", "listing", _listing(i).model_dump(mode="json"), "outage-market")
                       for i in range(N))
        filler = tiny_disk / "filler"
        with open(filler, "wb") as fh:  # fill the disk to the last block
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        ingestor = Ingestor(spool, store, batch_size=10)
        assert ingestor.try_once() is None  # disk full: refused, reported, not acknowledged
        assert any("index unavailable" in h for h in ingestor.stats.health), ingestor.stats
        filler.unlink()  # space returns
        while (n := ingestor.try_once()) != 0:
            assert n is not None, ingestor.stats.health
        assert spool.pending("ingest") == 0
    counts = store.counts()
    store.close()
    assert counts["listings"] == N
    import sqlite3

    db = sqlite3.connect(data.store)
    try:
        assert db.execute("SELECT count(*) FROM snapshots").fetchone()[0] == N  # no duplicate snapshot
    finally:
        db.close()
