"""kill -9 of the alert deliverer, again and again, while it sends to a real webhook
receiver and a real SMTP server (aiosmtpd): every alert reaches each notifier, none is
lost, and the receivers see each idempotency key (webhook ``Idempotency-Key``, mail
``Message-ID``) for exactly the alerts in the outbox.

The deliverer is ``narcwatch alerts deliver``, a subprocess, killed with SIGKILL at a
random moment after it has started sending (the receiver counts requests, so each kill
lands mid-round, between a 2xx and the commit that records it). Repeats on the wire are
expected after such a kill (at-least-once delivery); the receivers drop them on the key,
and the test counts them. The final deliverer must finish by itself, promptly: a row
leased by a killed deliverer is not left waiting for the lease to run out.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from narcwatch.crawler.paths import DataDir
from narcwatch.index.alerts.outbox import AlertDB, idempotency_key
from narcwatch.index.alerts.receiver import WebhookReceiver
from narcwatch.index.models import Alert, Severity
from tests.index.alerts.smtp_sink import SmtpSink

pytestmark = [pytest.mark.server, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-test-hook-secret"
N_ALERTS = 80
KILLS = 12
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


class SlowReceiver(WebhookReceiver):
    """A webhook endpoint that takes a few ms per request, so a round is long enough to be
    killed in the middle of."""

    def _handle(self, raw: bytes, headers: dict[str, str]) -> int:
        time.sleep(0.004)
        return super()._handle(raw, headers)


def _alert(i: int) -> Alert:
    return Alert(id=f"crash-alert-{i:04d}", rule_id="new-nitazene-listing", rule_name="New nitazene listing",
                 severity=Severity.HIGH, created_at=T0 + timedelta(seconds=i), event_ids=[f"ev-{i}"],
                 summary=f"Fictional vendor fict_vendor_{i % 7} lists metonitazene #{i}",
                 payload={"listing_key": f"crash-market:{i}"})


def _wait(cond: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return bool(cond())


@pytest.fixture
def receivers() -> Iterator[tuple[SlowReceiver, SmtpSink]]:
    hook = SlowReceiver(SECRET.encode()).start()
    smtp = SmtpSink("plain").start()
    yield hook, smtp
    hook.stop()
    smtp.stop()


def _config(tmp: Path, hook: WebhookReceiver, smtp: SmtpSink) -> Path:
    cfg = {"notifiers": [
        {"id": "desk-hook", "type": "webhook", "url": hook.url, "secret": "desk_hook", "timeout": 5},
        {"id": "desk-mail", "type": "email", "host": "127.0.0.1", "port": smtp.port, "tls": "none",
         "from": "narcwatch@unit.test", "to": ["desk@unit.test"], "timeout": 5}]}
    path = tmp / "narcwatch.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _deliverer(cfg: Path, data: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARCWATCH_")}
    env["NARCWATCH_SECRET_DESK_HOOK"] = SECRET
    return subprocess.Popen([sys.executable, "-m", "narcwatch", "--data-dir", str(data), "--config", str(cfg),
                             "alerts", "deliver"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _pending(outbox: Path) -> int:
    db = AlertDB(outbox)
    try:
        return len(db.deliveries(state="pending", limit=10_000))
    finally:
        db.close()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    return child.pid


@pytest.mark.parametrize(("owner", "reclaimed"), [
    pytest.param(lambda: f"{socket.gethostname()}:{_dead_pid()}", True, id="killed-here"),
    pytest.param(lambda: f"{socket.gethostname()}:{os.getppid()}", False, id="alive-here"),
    pytest.param(lambda: f"{socket.gethostname()}:{os.getpid()}", False, id="this-process"),
    pytest.param(lambda: f"other-host.invalid:{_dead_pid()}", False, id="other-host"),
    pytest.param(lambda: "garbage:::x", False, id="garbage"),
    pytest.param(lambda: None, False, id="no-owner"),
])
def test_rows_leased_by_a_killed_deliverer_are_reclaimed_at_once(tmp_path: Path, owner: Callable[[], str | None],
                                                                  reclaimed: bool) -> None:
    db = AlertDB(tmp_path / "outbox.sqlite")
    try:
        db.add_alerts([(_alert(i), ["desk-hook"]) for i in range(3)])
        now = time.time()
        with db.tx() as c:  # as a deliverer that claimed them and then died (or did not)
            c.execute("UPDATE deliveries SET lease_until=?, lease_owner=?", (now + 300, owner()))
        got = db.claim(10, now=now + 1)
        assert len(got) == (3 if reclaimed else 0)
    finally:
        db.close()


def run_deliverer_kills(tmp_path: Path, hook: WebhookReceiver, smtp: SmtpSink, *, n_alerts: int = N_ALERTS,
                        kills: int = KILLS, seed: int = 11) -> dict[str, object]:
    """Queue ``n_alerts`` for two notifiers, SIGKILL ``narcwatch alerts deliver`` ``kills``
    times mid-round, let a last one finish; what the receivers and the outbox hold."""
    data = tmp_path / "data"
    outbox = DataDir.at(data).outbox
    cfg = _config(tmp_path, hook, smtp)
    db = AlertDB(outbox)
    alerts = [_alert(i) for i in range(n_alerts)]
    db.add_alerts([(a, ["desk-hook", "desk-mail"]) for a in alerts])
    db.close()

    def wire() -> int:
        return len(hook.received) + len(smtp.messages)

    rng = random.Random(seed)
    killed = 0
    while killed < kills and _pending(outbox):
        before = wire()
        proc = _deliverer(cfg, data)
        try:
            # kill only once it is sending: the kill lands inside a round
            if not _wait(lambda: wire() > before or proc.poll() is not None, 30):
                raise AssertionError(f"deliverer sent nothing within 30 s after {killed} kills; "
                                     f"{_pending(outbox)} pending")
            time.sleep(rng.uniform(0.0, 0.12))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        killed += 1

    final = _deliverer(cfg, data)
    try:
        # well inside the 300 s lease a killed deliverer leaves on its claimed rows
        finished = _wait(lambda: _pending(outbox) == 0, 60)
    finally:
        final.send_signal(signal.SIGINT)
        try:
            final.wait(15)
        except subprocess.TimeoutExpired:
            final.kill()
            final.wait(5)
    time.sleep(0.2)  # a stray late repeat would show up now
    db = AlertDB(outbox)
    try:
        states = db.delivery_counts()
    finally:
        db.close()
    return {"alerts": alerts, "kills": killed, "finished": finished, "states": states, "wire": wire(),
            "pending": _pending(outbox)}


@pytest.mark.slow
def test_kill_9_deliverer_loses_and_duplicates_nothing(tmp_path: Path, receivers: tuple[SlowReceiver, SmtpSink]) -> None:
    hook, smtp = receivers
    out = run_deliverer_kills(tmp_path, hook, smtp)
    alerts = out["alerts"]
    assert isinstance(alerts, list)
    assert out["kills"] >= 10, f"only {out['kills']} kills before everything was delivered: make the rounds slower"
    assert out["finished"], f"{out['pending']} deliveries still pending"

    want_hook = {idempotency_key(a.id, "desk-hook") for a in alerts}
    want_mail = {f"<{idempotency_key(a.id, 'desk-mail')}@narcwatch.alerts>" for a in alerts}
    assert set(hook.by_key) == want_hook  # every alert once, nothing unknown
    assert hook.rejected == 0  # every request was signed with the configured secret
    assert {k: r.body["alert"]["id"] for k, r in hook.by_key.items()} == {
        idempotency_key(a.id, "desk-hook"): a.id for a in alerts}  # each key carries its own alert
    assert set(smtp.ids()) == want_mail
    assert out["states"] == {("desk-hook", "delivered"): N_ALERTS, ("desk-mail", "delivered"): N_ALERTS}
