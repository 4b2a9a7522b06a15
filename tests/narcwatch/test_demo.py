"""The walking skeleton end to end: sandbox -> crawl -> spool -> extract -> store -> alerts.

The kill test SIGKILLs the crawler and the ingest worker at random moments while both
run, resumes each, and checks that the store converges to exactly what an uninterrupted
run produces: no listing, snapshot or event lost or duplicated.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.spool import Spool
from narcwatch.demo import demo_config, run_demo
from narcwatch.sandbox import SandboxServer, World

SOURCE = "velvet-market"
NARCWATCH = [sys.executable, "-m", "narcwatch"]


def truth_listing_urls(server: SandboxServer, source: str) -> set[str]:
    return {r["url"] for r in server.truth() if r.get("kind") == "listing" and r.get("source") == source}


def _subject(etype: str, listing_key: str | None, vendor: str | None, details: dict[str, object]) -> str:
    """What an event is about. NEW_VENDOR and IDENTIFIER_FIRST_SEEN name the listing where
    the vendor or identifier first turned up, which depends on crawl order (concurrent
    fetches); the invariant is the vendor or identifier itself."""
    if etype == "NEW_VENDOR":
        return f"vendor:{vendor}"
    if etype == "IDENTIFIER_FIRST_SEEN":
        return f"identifier:{details.get('kind')}:{details.get('value')}"
    return f"listing:{listing_key}"


def store_rows(data: DataDir) -> dict[str, object]:
    db = sqlite3.connect(data.store)
    try:
        return {
            "listings": sorted(k for (k,) in db.execute("SELECT key FROM docs WHERE type='listing'")),
            "snapshots": db.execute("SELECT count(*) FROM snapshots").fetchone()[0],
            "events": sorted((i, t, _subject(t, k, v, json.loads(d or "{}")))
                             for i, t, k, v, d in db.execute("SELECT id, type, listing_key, vendor, details FROM events")),
        }
    finally:
        db.close()


@pytest.fixture(scope="module")
def small_world() -> World:
    return World(seed=7, size=300)


@pytest.mark.slow
def test_demo_end_to_end_matches_ground_truth(tmp_path, small_world):
    data = DataDir.at(tmp_path / "data")
    with SandboxServer(small_world) as server:
        truth = truth_listing_urls(server, SOURCE)
        summary = run_demo(data, server=server, only=[SOURCE])
    (crawl,) = summary.crawls
    assert crawl.complete and not crawl.errors, crawl
    rows = store_rows(data)
    assert len(rows["listings"]) == len(truth) > 0
    assert rows["snapshots"] == len(truth)  # one crawl: one snapshot per listing
    assert summary.counts["listings"] == len(truth)
    assert summary.counts["vendors"] > 0
    new = [e for e in rows["events"] if e[1] == "NEW"]
    assert len(new) == len(truth)
    verify = subprocess.run([*NARCWATCH, "--data-dir", str(data.root), "evidence", "verify"],
                            capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _config(path: Path, data: Path, server: SandboxServer) -> Path:
    src = demo_config(server, DataDir.at(data)).source(SOURCE)  # the demo's per-source politeness
    cfg = {"data_dir": str(data), "tor": {"socks_url": server.socks_url, "control": None},
           "sources": [json.loads(src.model_dump_json())]}
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _kill(p: subprocess.Popen[bytes]) -> bool:
    if p.poll() is not None:
        p.communicate()
        return False
    import os

    os.killpg(p.pid, signal.SIGKILL)  # the crawl runs in a child: kill the whole group
    p.communicate()
    return True


@pytest.mark.slow
def test_kill_9_crawler_and_ingest_lose_and_duplicate_nothing(tmp_path, small_world):
    rng = random.Random(4242)
    with SandboxServer(small_world) as server:
        # reference: an uninterrupted run
        ref = DataDir.at(tmp_path / "ref")
        run_demo(ref, server=server, only=[SOURCE])
        expected = store_rows(ref)

        data = tmp_path / "killed"
        cfg = _config(tmp_path / "narcwatch.yaml", data, server)
        crawl = [*NARCWATCH, "--config", str(cfg), "crawl", SOURCE, "--now", "--crawl-id", "demo-crawl-1",
                 "--proxy", server.socks_url]
        ingest = [sys.executable, "-m", "narcwatch.ingest", "--config", str(cfg), "--idle", "30"]
        kills = {"crawler": 0, "ingest": 0}
        crawler = _start(crawl)
        ingester = _start(ingest)
        for _ in range(8):  # SIGKILL one side or the other at random moments, then resume it
            time.sleep(rng.uniform(0.5, 3.0))
            if rng.random() < 0.5:
                if _kill(crawler):
                    kills["crawler"] += 1
                crawler = _start(crawl)
            else:
                if _kill(ingester):
                    kills["ingest"] += 1
                ingester = _start(ingest)
        _, err = crawler.communicate(timeout=600)
        assert crawler.returncode == 0, err.decode()[-3000:]
        _kill(ingester)
        done = subprocess.run([*ingest[:-1], "2"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]

    assert kills["crawler"] >= 2 and kills["ingest"] >= 2, kills
    got = store_rows(DataDir.at(data))
    assert got["listings"] == expected["listings"]  # nothing lost
    assert got["snapshots"] == expected["snapshots"] == len(expected["listings"])  # nothing twice
    # Event ids embed the crawl id, which differs between the two runs; what happened must not.
    assert got["events"] and all(not subj.endswith(":None") for _, _, subj in got["events"])
    assert sorted((t, k) for _, t, k in got["events"]) == sorted((t, k) for _, t, k in expected["events"])
    assert len({i for i, _, _ in got["events"]}) == len(got["events"])
    with Spool(DataDir.at(data).spool) as spool:
        keys = [e.key for e in spool.iter_all()]
        assert len(keys) == len(set(keys))
        assert spool.pending("ingest") == 0
    verify = subprocess.run([*NARCWATCH, "--data-dir", str(data), "evidence", "verify"],
                            capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr
