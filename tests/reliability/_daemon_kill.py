"""Run ``narcwatch run`` (the daemon: scheduler, crawl children, ingest, alert delivery)
against the sandbox with faults on, SIGKILL its whole process group at random moments,
restart it, and wait until everything is crawled, ingested and delivered; then describe
the store, the outbox and what the receivers got, so two runs can be compared.

Shared by tests/reliability/test_crash_daemon.py (a few kills) and
ops/bench/bench_reliability.py (many); loaded by path in the benchmark.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from narcwatch.crawler import health
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.spool import Spool
from narcwatch.daemon import read_daemon_status
from narcwatch.index.alerts.outbox import AlertDB, idempotency_key
from narcwatch.index.alerts.receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
SECRET = "daemon-kill-hook-secret"
SOURCES = ("velvet-market", "lotus-chem")  # an onion market and a clearnet shop, both HTTP
FAULTS = "rate_limit_every=13,retry_after=1,drop_every=17,truncate_every=19"


@dataclass
class Outcome:
    listings: list[str]
    snapshots: int
    events: list[tuple[str, str]]  # (type, subject): event ids embed the crawl id, subjects do not
    alerts: list[tuple[str, int, tuple[str, ...]]]  # (rule, alerts, subjects covered incl. open digests)
    alert_ids: list[str]
    hook_keys_ok: bool
    mail_ids_ok: bool
    kills: int = 0
    wire: int = 0  # requests/messages the receivers got, repeats included
    distinct: int = 0
    spool_duplicates: int = 0
    evidence_ok: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def state(self) -> tuple[Any, ...]:
        return self.listings, self.snapshots, self.events, self.alerts


def _subject(etype: str, key: str | None, vendor: str | None, details: dict[str, Any]) -> str:
    if etype == "NEW_VENDOR":
        return f"vendor:{vendor}"
    if etype == "IDENTIFIER_FIRST_SEEN":
        return f"identifier:{details.get('kind')}:{details.get('value')}"
    return f"listing:{key}"


def write_config(path: Path, data: Path, server: Any, hook: WebhookReceiver, smtp_port: int) -> Path:
    sources = []
    for sid in SOURCES:
        s = server.source(sid).as_source().model_copy(update={"concurrency": 4, "delay": 0.0, "autothrottle": False,
                                                               "schedule": "interval:6h"})
        sources.append(json.loads(s.model_dump_json()))
    cfg = {"data_dir": str(data), "tor": {"socks_url": server.socks_url, "control": None}, "sources": sources,
           "notifiers": [
               {"id": "desk-hook", "type": "webhook", "url": hook.url, "secret": "desk_hook", "timeout": 5},
               {"id": "desk-mail", "type": "email", "host": "127.0.0.1", "port": smtp_port, "tls": "none",
                "from": "narcwatch@unit.test", "to": ["desk@unit.test"], "timeout": 5}]}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def _start(cfg: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARCWATCH_")}
    env["NARCWATCH_SECRET_DESK_HOOK"] = SECRET
    return subprocess.Popen([sys.executable, "-m", "narcwatch", "--config", str(cfg), "run", "--health-every", "2",
                             "--max-parallel", "2", "--grace", "30"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the daemon and its crawl children (what an OOM kill of the service cgroup does)."""
    alive = proc.poll() is None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)
    return alive


def _pending_deliveries(data: DataDir) -> int:
    if not data.outbox.exists():
        return 1
    db = AlertDB(data.outbox)
    try:
        return len(db.deliveries(state="pending", limit=100_000))
    finally:
        db.close()


def done(data: DataDir, pid: int) -> bool:
    """Every source crawled to completion, the spool ingested, every delivery acknowledged,
    and the running daemon (``pid``) past its start-up (alert catch-up included)."""
    if read_daemon_status(data.root).get("pid") != pid:
        return False
    for sid in SOURCES:
        h = health.load(data.jobs, sid)
        if h.successes < 1 or h.in_flight:
            return False
    if not data.spool.exists():
        return False
    with Spool(data.spool) as spool:
        if spool.pending("ingest"):
            return False
    return _pending_deliveries(data) == 0


def describe(data: DataDir, hook: WebhookReceiver, mail_ids: list[str]) -> Outcome:
    db = sqlite3.connect(data.store)
    try:
        listings = sorted(k for (k,) in db.execute("SELECT key FROM docs WHERE type='listing'"))
        snapshots = db.execute("SELECT count(*) FROM snapshots").fetchone()[0]
        rows = list(db.execute("SELECT id, type, listing_key, vendor, details FROM events"))
    finally:
        db.close()
    subject = {i: (t, _subject(t, k, v, json.loads(d or "{}"))) for i, t, k, v, d in rows}
    outbox = AlertDB(data.outbox)
    try:
        alerts = [a for _, a in outbox.alerts(limit=100_000)]
        waiting = list(outbox.conn.execute("SELECT rule_id, event_id FROM group_members"))  # open digests
    finally:
        outbox.close()
    # Which listing of a vendor's burst alerts at once and which wait for the digest depends
    # on crawl order; per rule, the number of alerts and every subject covered do not.
    covered: dict[str, set[str]] = {}
    for a in alerts:
        covered.setdefault(a.rule_id, set()).update(subject.get(e, ("?", e))[1] for e in a.event_ids)
    for rule, event_id in waiting:
        covered.setdefault(rule, set()).add(subject.get(event_id, ("?", event_id))[1])
    per_rule = Counter(a.rule_id for a in alerts)
    ids = sorted(a.id for a in alerts)
    with Spool(data.spool) as spool:
        keys = [e.key for e in spool.iter_all()]
    return Outcome(
        listings=listings, snapshots=snapshots, events=sorted(subject.values()),
        alerts=sorted((rule, per_rule[rule], tuple(sorted(subjects))) for rule, subjects in covered.items()),
        alert_ids=ids,
        hook_keys_ok=set(hook.by_key) == {idempotency_key(i, "desk-hook") for i in ids},
        mail_ids_ok=set(mail_ids) == {f"<{idempotency_key(i, 'desk-mail')}@narcwatch.alerts>" for i in ids},
        wire=len(hook.received) + len(mail_ids), distinct=len(hook.by_key) + len(set(mail_ids)),
        spool_duplicates=len(keys) - len(set(keys)))


def run(server: Any, work: Path, *, kills: int, rng: random.Random, smtp: Any, timeout: float = 600.0,
        kill_window: tuple[float, float] = (1.0, 6.0)) -> Outcome:
    """One daemon run in ``work``; ``kills`` SIGKILLs at random moments before it may finish."""
    t0 = time.monotonic()
    hook = WebhookReceiver(SECRET.encode()).start()
    smtp.messages.clear()
    data = DataDir.at(work / "data")
    cfg = write_config(work / "narcwatch.yaml", data.root, server, hook, smtp.port)
    killed = 0
    proc = _start(cfg)
    try:
        while killed < kills:
            time.sleep(rng.uniform(*kill_window))
            if done(data, proc.pid):
                break  # finished before the kill: the remaining kills would hit an idle daemon
            if _kill_group(proc):
                killed += 1
            proc = _start(cfg)
        deadline = time.monotonic() + timeout
        while not done(data, proc.pid):
            if time.monotonic() > deadline:
                raise AssertionError(f"daemon run did not finish in {timeout:.0f} s after {killed} kills: "
                                     + json.dumps({s: health.load(data.jobs, s).__dict__ for s in SOURCES},
                                                  default=str)[:3000])
            if proc.poll() is not None:
                proc = _start(cfg)  # it must not exit by itself; restart and let the check fail if it repeats
            time.sleep(0.5)
        time.sleep(0.3)  # a stray repeat would arrive now
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
        hook.stop()
    with smtp.cond:
        mail_ids = [str(m["Message-ID"]) for m in smtp.messages]
    out = describe(data, hook, mail_ids)
    out.kills = killed
    verify = subprocess.run([sys.executable, "-m", "narcwatch", "--data-dir", str(data.root), "evidence", "verify"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    out.evidence_ok = verify.returncode == 0
    if not out.evidence_ok:
        out.notes.append(verify.stdout[-2000:] + verify.stderr[-2000:])
    out.seconds = time.monotonic() - t0
    return out
