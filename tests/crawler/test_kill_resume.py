"""kill -9 mid-crawl, several times, then resume with the same crawl id until complete.

A real crawl child (``narcwatch.crawler.runner``) of a sandbox market through its SOCKS
proxy, evidence on, is SIGKILLed at seeded-random moments (after a random number of
further pages are done, plus a random slice of time, so kills land mid-batch, mid-write
and mid-commit). Afterwards every ground-truth listing is in the spool exactly once and
the evidence archive verifies: the group commit never marks a page done before its
items, and never lets an item cite a capture the manifest does not hold.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.evidence.verify import Mismatch, verify_archive
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import crawl_source, spawn_crawl
from narcwatch.crawler.spool import Spool
from narcwatch.sandbox import SandboxServer, World

pytestmark = [pytest.mark.server, pytest.mark.slow]  # several crawl processes: ~40-90 s on a busy machine

SOURCE = "velvet-market"
KILLS = 4


def _done_pages(frontier: Path, crawl_id: str) -> int:
    if not frontier.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{frontier}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM requests WHERE crawl_id=? AND state=1", (crawl_id,)).fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0


@pytest.fixture(scope="module")
def server():
    with SandboxServer(World(seed=1, size="demo")) as srv:
        yield srv


def test_kill9_resume_spools_every_listing_once(server: SandboxServer, tmp_path: Path) -> None:
    rng = random.Random(20240607)
    src = server.source(SOURCE).as_source().model_copy(update={"concurrency": 16, "autothrottle": False})
    cfg = Config(data_dir=tmp_path / "data", tor=TorConfig(socks_url=server.socks_url, control=None))
    data = DataDir.at(tmp_path / "data")
    crawl_id = "kill9"
    frontier = data.jobs / SOURCE / "frontier.sqlite"
    # Small batches so kills also land between commits of a running crawl, not only before the first.
    extra = {"NARCWATCH_COMMIT_INTERVAL": 0.2, "NARCWATCH_COMMIT_MAX_PAGES": 25}

    progress = []
    for _ in range(KILLS):
        before = _done_pages(frontier, crawl_id)
        target = before + rng.randint(40, 160)
        proc = spawn_crawl(src, cfg, data, tmp_path, crawl_id=crawl_id, proxy_url=server.socks_url,
                           extra_settings=extra)
        deadline = time.monotonic() + 120
        while proc.poll() is None and _done_pages(frontier, crawl_id) < target and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        progress.append((proc.returncode, _done_pages(frontier, crawl_id)))
    assert any(code == -signal.SIGKILL for code, _ in progress), f"no crawl was killed mid-way: {progress}"

    result = crawl_source(src, cfg, data, crawl_id=crawl_id, proxy_url=server.socks_url, extra_settings=extra,
                          timeout=600)
    assert result.complete, (progress, result.errors, result.health, Path(result.log_file).read_text()[-3000:])
    assert server.direct_onion_connections() == []

    truth = [t for t in server.truth() if t.get("source") == SOURCE]
    want = {t["site_id"] for t in truth if t["kind"] == "listing"}
    with Spool(data.spool) as spool:
        listings = [e for e in spool.iter_all("listing")]
        ends = [e for e in spool.iter_all("crawl_end")]
    site_ids = [e.payload["site_id"] for e in listings]
    assert len(site_ids) == len(set(site_ids)), "a listing was spooled twice"
    assert len({e.key for e in listings}) == len(listings)
    assert set(site_ids) == want
    assert len(listings) == len(want)
    assert ends and ends[-1].payload["complete"]

    verified, problems = 0, []
    for entry in verify_archive(data.evidence):
        if isinstance(entry, Mismatch):
            problems.append(str(entry))
        else:
            verified += 1
    assert problems == []
    cited = {e.payload["capture_id"] for e in listings}
    from narcwatch.crawler.evidence.manifest import Manifest
    manifest = Manifest(data.evidence / "manifest.sqlite")
    try:
        missing = [c for c in cited if manifest.get(c) is None]
    finally:
        manifest.close()
    assert missing == [], "items cite captures the manifest does not hold"
    assert verified >= len(listings)
