"""kill -9 of the API (``narcwatch serve``) during alert acknowledgements and searches,
again and again; after every restart the audit log's hash chain verifies and no
acknowledgement is half-applied: an alert acknowledged in the outbox has its audit
entry, and the audit log claims no acknowledgement the outbox does not have.

An acknowledgement writes two files (the outbox, then the audit log). To land kills in
the window between the two commits, not only at random, the server runs under a wrapper
that makes the audit write of an acknowledgement take 0.4 s (test-only fault injection,
``NW_TEST_AUDIT_DELAY``); half of the kills aim at that window, the rest fall at random
during a mix of acknowledgements and searches. The client retries what did not answer,
as a user would. Finally every alert is acknowledged, exactly as in an uninterrupted
run: same alert ids, same states, same user.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from narcwatch.crawler.models import Listing, Money
from narcwatch.crawler.paths import DataDir
from narcwatch.dashboards.audit import AuditLog
from narcwatch.dashboards.auth import Accounts
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.models import Alert, AlertStatus, Severity
from narcwatch.index.sqlite import SqliteStore
from narcwatch.ingest import ingest_items
from tests.dashboards.dash_helpers import FAST_ARGON2

pytestmark = [pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
N_ALERTS = 24
KILLS = 12
T0 = datetime(2026, 11, 5, 7, 0, tzinfo=timezone.utc)

# Runs the real CLI; with NW_TEST_AUDIT_DELAY set, an acknowledgement's audit write waits
# first, which widens the window between the outbox commit and the audit commit.
WRAPPER = """
import os, sys, time
from narcwatch.dashboards import audit
delay = float(os.environ.get("NW_TEST_AUDIT_DELAY") or 0)
original = audit.AuditLog.record
def record(self, user, action, target="", /, **details):
    if delay and action == "alert_status":
        print("audit-window", flush=True)
        time.sleep(delay)
    return original(self, user, action, target, **details)
audit.AuditLog.record = record
from narcwatch.cli import app
sys.argv = ["narcwatch", *sys.argv[1:]]
app()
"""


def _world(data: DataDir) -> list[str]:
    data.ensure()
    store = SqliteStore(data.store)
    ingest_items(store, [Listing(source="market-a", site_id=str(i), url=f"http://market.sandbox.test/l/{i}",
                                 crawl_id="c1", seen_at=T0, title=f"Fictional isotonitazene powder {i}",
                                 vendor=f"fict_vendor_{i % 3}", price=Money(amount=Decimal(20 + i), currency="EUR"),
                                 capture_id=f"cap-{i}", capture_sha256=hashlib.sha256(str(i).encode()).hexdigest())
                         for i in range(20)])
    alerts = [Alert(id=f"api-alert-{i:03d}", rule_id="new-nitazene-listing", rule_name="New nitazene listing",
                    severity=Severity.HIGH, created_at=T0, event_ids=[f"ev-{i}"], summary=f"fictional alert {i}")
              for i in range(N_ALERTS)]
    db = AlertDB(data.outbox)
    db.add_alerts([(a, []) for a in alerts])
    db.close()
    store.save_alerts(alerts)
    store.close()
    return [a.id for a in alerts]


class Server:
    def __init__(self, data: DataDir, delay: float):
        env = {k: v for k, v in os.environ.items() if not k.startswith("NARCWATCH_")}
        env["NW_TEST_AUDIT_DELAY"] = str(delay)
        self.proc = subprocess.Popen([sys.executable, "-c", WRAPPER, "--data-dir", str(data.root), "serve",
                                      "--port", "0"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.in_window = threading.Event()
        self.url = ""
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                if "dashboard on " in line:
                    self.url = line.split("dashboard on ", 1)[1].split()[0].rstrip("/")
                    ready.set()
                elif line.startswith("audit-window"):
                    self.in_window.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60):
            self.kill()
            raise AssertionError("narcwatch serve did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()


def check_consistent(data: DataDir) -> dict[str, str]:
    """The audit chain verifies and outbox and audit agree on every acknowledgement."""
    audit = AuditLog(data.root / "audit.sqlite")
    try:
        ok, bad, n = audit.verify()
        assert ok, f"audit chain broken at seq {bad} of {n}"
        audited = {e.target for e in audit.entries(action="alert_status", limit=10_000)
                   if e.details.get("status") == "acknowledged" and e.details.get("found") is not False}
    finally:
        audit.close()
    db = AlertDB(data.outbox)
    try:
        states = {a.id: a.status.value for _, a in db.alerts(limit=10_000)}
        by = {a.status_by for _, a in db.alerts(limit=10_000) if a.status_by}
    finally:
        db.close()
    acked = {k for k, v in states.items() if v == "acknowledged"}
    assert acked <= audited, f"acknowledged without an audit entry: {sorted(acked - audited)}"
    assert audited <= acked, f"audited but not acknowledged: {sorted(audited - acked)}"
    assert by <= {"ana"}
    return states


def make_world(root: Path) -> tuple[DataDir, list[str], str]:
    """Store, outbox with ``N_ALERTS`` new alerts, an analyst and her API token."""
    data = DataDir.at(root)
    ids = _world(data)
    accounts = Accounts(data.root, hasher=FAST_ARGON2)
    accounts.add_user("ana", "analyst", "analyst password 1")
    token = accounts.create_token("ana", "crash-test")
    accounts.close()
    return data, ids, token


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[DataDir, list[str], str]]:
    yield make_world(tmp_path / "data")


def _ack(client: httpx.Client, url: str, alert_id: str) -> bool:
    try:
        r = client.post(f"{url}/api/alerts/{alert_id}/status", json={"status": "acknowledged"}, timeout=5)
    except httpx.HTTPError:
        return False  # killed under us: retried after the restart
    assert r.status_code == 200, r.text
    return True


def _alert(i: int, status: str = "new", by: str | None = None) -> Alert:
    return Alert(id=f"a{i}", rule_id="r", rule_name="R", created_at=T0, event_ids=[], summary="s",
                 status=AlertStatus(status), status_by=by, status_at=T0 if by else None)


@pytest.mark.parametrize(("logged", "alert", "added"), [
    pytest.param([], _alert(1, "acknowledged", "ana"), 1, id="acked-not-audited"),
    pytest.param([("a1", "acknowledged", True)], _alert(1, "acknowledged", "ana"), 0, id="acked-and-audited"),
    pytest.param([("a1", "acknowledged", True)], _alert(1, "dismissed", "ana"), 1, id="dismissed-after-audited-ack"),
    pytest.param([("a1", "acknowledged", False)], _alert(1, "acknowledged", "ana"), 1, id="only-a-not-found-try"),
    pytest.param([("a2", "acknowledged", True)], _alert(1, "acknowledged", None), 1, id="other-alert-audited"),
    pytest.param([], _alert(1), 0, id="new"),
])
def test_backfill_alert_status(tmp_path: Path, logged: list[tuple[str, str, bool]], alert: Alert, added: int) -> None:
    audit = AuditLog(tmp_path / "audit.sqlite")
    try:
        for target, status, found in logged:
            audit.record("ana", "alert_status", target, status=status, found=found)
        assert audit.backfill_alert_status([alert]) == added
        assert audit.backfill_alert_status([alert]) == 0  # idempotent
        if added:
            (last,) = audit.entries(limit=1)
            assert (last.user, last.target, last.details["status"], last.details["recovered_from"]) == (
                alert.status_by or "unknown", alert.id, alert.status.value, "outbox")
        assert audit.verify()[0]
    finally:
        audit.close()


def run_api_kills(data: DataDir, ids: list[str], token: str, *, kills: int = KILLS, seed: int = 5) -> dict[str, object]:
    """SIGKILL ``narcwatch serve`` ``kills`` times during acknowledgements and searches
    (every other kill aimed at the audit window); consistency is checked after every
    restart (raises AssertionError). Returns counts and the final alert states."""
    rng = random.Random(seed)
    todo = list(ids)
    client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, trust_env=False)
    searches = checks = 0
    try:
        for k in range(kills):
            aim_window = k % 2 == 0
            server = Server(data, delay=0.4 if aim_window else 0.0)
            try:
                if k:  # restarted after a kill: consistent before it serves anything new
                    check_consistent(data)
                    checks += 1
                stop = threading.Event()

                def traffic() -> None:
                    nonlocal searches
                    while not stop.is_set() and todo:
                        alert_id = rng.choice(todo)
                        if _ack(client, server.url, alert_id):
                            todo.remove(alert_id)
                        try:
                            r = client.get(f"{server.url}/api/search", params={"q": "isotonitazene"}, timeout=5)
                            assert r.status_code == 200 and r.json()["total"] == 20, r.text[:300]
                            searches += 1
                        except httpx.HTTPError:
                            pass

                t = threading.Thread(target=traffic, daemon=True)
                t.start()
                if aim_window:
                    assert server.in_window.wait(30), "no acknowledgement reached the audit write"
                    time.sleep(rng.uniform(0.05, 0.3))  # inside the 0.4 s window
                else:
                    time.sleep(rng.uniform(0.05, 0.6))
            finally:
                server.kill()
                stop.set()
            t.join(15)
            assert not t.is_alive()
        final = Server(data, delay=0.0)
        try:
            check_consistent(data)
            checks += 1
            for alert_id in list(todo):
                assert _ack(client, final.url, alert_id)
                todo.remove(alert_id)
        finally:
            final.kill()
    finally:
        client.close()
    states = check_consistent(data)
    return {"kills": kills, "checks": checks + 1, "searches": searches, "states": states}


@pytest.mark.server
@pytest.mark.slow
def test_kill_9_api_during_acks_and_searches(world: tuple[DataDir, list[str], str]) -> None:
    data, ids, token = world
    out = run_api_kills(data, ids, token)
    assert out["states"] == {i: AlertStatus.ACKNOWLEDGED.value for i in ids}  # the uninterrupted run's end state
    assert out["searches"] and out["checks"] == KILLS + 1
