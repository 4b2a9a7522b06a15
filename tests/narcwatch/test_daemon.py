"""``narcwatch run`` as a real subprocess against a sandbox served by this test process.

One scenario, in the order an operator lives it: start the daemon on three sources (two
with 5-second schedules) (a clearnet shop, an onion market through the sandbox's SOCKS proxy,
and a shop whose profile no longer matches the site); watch the crawls repeat; scrape
``/metrics`` from a real ``narcwatch serve``; SIGTERM the daemon while the onion crawl is
in flight (exit 0, the crawl id is kept); restart it (no duplicate job, last-run state
kept, the interrupted crawl resumes with the same id); ``sources status`` shows the
broken profile and, with the Tor proxy pointed at a dead port, Tor down; every log line
is JSON with source and crawl_id; the secret never reaches a log.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from narcwatch.sandbox import SandboxServer, World
from narcwatch.sandbox.faults import FaultConfig
from tests.conftest import free_port

pytestmark = [pytest.mark.server, pytest.mark.slow]  # several real crawl processes: ~1-2 min on a busy machine

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-Value-0f-the-desk-9931"
FAST, ONION, BROKEN = "lotus-chem", "taiga-market", "lotus-broken"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    # The onion market answers slowly (Tor-like latency), so its first, full crawl is
    # still running when the test sends SIGTERM.
    with SandboxServer(World(seed=1, size="tiny"), FaultConfig.parse(f"throttle_seconds=1.0,only_sources={ONION}")) as srv:
        yield srv


def _config(tmp: Path, server: SandboxServer) -> Path:
    profiles = tmp / "profiles"
    profiles.mkdir()
    shop = yaml.safe_load((ROOT / "spiders" / "profiles" / "sandbox_shop.yaml").read_text())
    shop["name"] = "broken_shop"  # a site redesign: the title moved, the old selector finds nothing
    shop["items"][0]["fields"]["title"] = {"css": "div.product h2.redesigned-title::text", "required": True}
    (profiles / "broken_shop.yaml").write_text(yaml.safe_dump(shop))
    sources = []
    # The onion market's next run is an hour away: after the restart only the resume brings it back.
    for sid, concurrency, every in ((FAST, 8, "5s"), (ONION, 2, "1h")):
        s = server.source(sid).as_source().model_copy(update={"concurrency": concurrency, "delay": 0.0,
                                                               "autothrottle": False, "schedule": f"interval:{every}"})
        sources.append(s.model_dump(mode="json", exclude_defaults=False))
    broken = dict(sources[0], id=BROKEN, name="Lotus (redesigned)", profile="broken_shop")
    sources.append(broken)
    cfg = {"data_dir": str(tmp / "data"), "profiles_dirs": [str(profiles)],
           "tor": {"socks_url": server.socks_url, "control": None}, "sources": sources,
           "notifiers": [{"id": "audit", "type": "jsonl", "path": "alerts.jsonl"}]}
    path = tmp / "narcwatch.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARCWATCH_")}
    return {**env, "NARCWATCH_SECRET_DESK_HOOK": SECRET, "PYTHONUNBUFFERED": "1", **extra}


def _narcwatch(cfg: Path, *args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "narcwatch", "--config", str(cfg), *args], env=env or _env(),
                            cwd=ROOT, **kw)


def _status(data: Path, sid: str) -> dict:
    try:
        return json.loads((data / "jobs" / f"{sid}.status.json").read_text())
    except (OSError, ValueError):
        return {}


def _wait(cond: Callable[[], object], timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"daemon exited {proc.returncode} while waiting for {what}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(proc: subprocess.Popen[bytes], timeout: float = 150) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def _done_pages(data: Path, sid: str) -> int:
    try:
        with sqlite3.connect(f"file:{data / 'jobs' / sid / 'frontier.sqlite'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM requests WHERE state=1").fetchone()[0]
    except sqlite3.Error:
        return 0


def _jobs(data: Path) -> list[str]:
    with sqlite3.connect(data / "jobs" / "jobs.sqlite") as db:
        return sorted(r[0] for r in db.execute("SELECT id FROM apscheduler_jobs"))


def _log_lines(data: Path) -> list[tuple[str, dict]]:
    out = []
    for path in sorted((data / "logs").glob("*.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            out.append((path.name, json.loads(line)))  # every line must parse
    return out


def test_run_schedules_stops_resumes_and_reports(server: SandboxServer, tmp_path: Path) -> None:
    cfg = _config(tmp_path, server)
    data = tmp_path / "data"
    daemon = _narcwatch(cfg, "run", "--health-every", "1", "--max-parallel", "3", "--grace", "90",
                        stderr=subprocess.DEVNULL)
    serve = None
    try:
        # SIGTERM while the slow onion crawl is in flight: exit 0, crawl id kept for resume.
        _wait(lambda: _status(data, ONION).get("in_flight") and _done_pages(data, ONION) >= 10, 120,
              "an onion crawl in flight", daemon)
        interrupted = _status(data, ONION)["in_flight"]
        assert _stop(daemon) == 0
        after = _status(data, ONION)
        assert after["in_flight"] == interrupted and after["finish_reason"] == "shutdown", after
        assert after["pages"] > 0 and not after["finished"] and after["errors"] == []  # a stop is not a fault
        assert _jobs(data) == [f"crawl:{s}" for s in sorted((BROKEN, FAST, ONION))]
        fast_crawls = _status(data, FAST).get("crawls", 0)

        # Restart: same jobs (no duplicates), counters kept, the interrupted crawl resumes by id.
        daemon = _narcwatch(cfg, "run", "--health-every", "1", "--max-parallel", "3", stderr=subprocess.DEVNULL)
        _wait(lambda: any(r["msg"].endswith("resumed") and r["crawl_id"] == interrupted
                          for n, r in _log_lines(data) if n == "run.log"), 120, "the resumed crawl", daemon)
        # Crawls repeat on schedule: two more crawls of the fast source.
        _wait(lambda: _status(data, FAST).get("crawls", 0) >= fast_crawls + 2, 240, "scheduled crawls", daemon)
        fast = _status(data, FAST)
        assert fast["successes"] >= 2 and fast["items"] > 0 and fast["errors"] == []
        assert _jobs(data) == [f"crawl:{s}" for s in sorted((BROKEN, FAST, ONION))]

        # /metrics on a real `narcwatch serve` bound to loopback (so unauthenticated).
        serve = _narcwatch(cfg, "serve", "--port", "0", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = serve.stdout.readline().decode()  # type: ignore[union-attr]
        url = line.split(" on ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "metrics", timeout=30) as resp:
            text = resp.read().decode()
        items_metric = float(text.split(f'narcwatch_crawl_items_total{{source="{FAST}"}} ', 1)[1].split()[0])
        assert items_metric >= fast["total_items"] > 0
        assert f'narcwatch_crawl_pages_total{{source="{FAST}"}}' in text
        assert f'narcwatch_source_healthy{{source="{BROKEN}"}} 0.0' in text
        assert f'narcwatch_source_healthy{{source="{FAST}"}} 1.0' in text
        assert "narcwatch_ingest_lag_seconds" in text and "narcwatch_ingest_items_total" in text
        assert 'narcwatch_daemon_memory_bytes{kind="anon"}' in text  # the daemon's own heap, for a leak alert
        assert "narcwatch_alert_delivery_latency_seconds_count" in text
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(url + "api/sources/health", timeout=30)
        denied.value.close()  # an HTTPError holds the response's socket until closed
        assert denied.value.code == 401
        assert _stop(daemon) == 0
    finally:
        for p in (daemon, serve):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(30)
            if p is not None and p.stdout is not None:
                p.stdout.close()

    run_log = [rec for name, rec in _log_lines(data) if name == "run.log"]
    assert sum("kept schedule" in r["msg"] for r in run_log) == 3  # the second start found all three jobs

    # Health from the CLI: the broken profile, and Tor down when its proxy does not answer.
    ok = subprocess.run([sys.executable, "-m", "narcwatch", "--config", str(cfg), "sources", "status", "--json"],
                        env=_env(), cwd=ROOT, capture_output=True, timeout=120)
    rows = {r["source"]: r for r in map(json.loads, ok.stdout.decode().splitlines())}
    assert ok.returncode == 1  # some source has a problem
    # (the fast source may already be overdue: 3 x 5 s pass quickly once the daemon is stopped)
    assert not [e for e in rows[FAST]["errors"] if not e.startswith("no successful crawl since")], rows[FAST]
    assert rows[ONION]["tor_up"] is True and rows[FAST]["crawls"] > fast_crawls
    assert any(e.startswith("profile does not match") for e in rows[BROKEN]["errors"]), rows[BROKEN]
    down = subprocess.run([sys.executable, "-m", "narcwatch", "--config", str(cfg), "sources", "status", "--json"],
                          env=_env(NARCWATCH_TOR__SOCKS_URL=f"socks5h://127.0.0.1:{free_port()}"), cwd=ROOT,
                          capture_output=True, timeout=120)
    rows = {r["source"]: r for r in map(json.loads, down.stdout.decode().splitlines())}
    assert rows[ONION]["tor_up"] is False and "Tor is down" in rows[ONION]["errors"][0]
    assert rows[FAST]["tor_up"] is None

    # Logs: every line JSON with the fixed keys; crawl logs carry their source and crawl id.
    lines = _log_lines(data)
    assert lines and all({"ts", "level", "logger", "msg", "source", "crawl_id"} <= set(rec) for _, rec in lines)
    crawl_lines = [(n, r) for n, r in lines if n not in ("run.log", "serve.log")]
    assert crawl_lines and all(r["source"] in n and r["crawl_id"] == n[:-4] for n, r in crawl_lines)
    assert any(r["source"] == ONION and r["crawl_id"] == interrupted for n, r in lines if n == "run.log")

    # The secret never reaches any log (or anything else) in the data dir.
    leaked = [p for p in data.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaked == []
