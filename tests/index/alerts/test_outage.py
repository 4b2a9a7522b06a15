"""Notifiers down for a while during a run that keeps producing matches: every alert
arrives exactly once per notifier when they come back (real HTTP receiver, real SMTP)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from narcwatch.index.alerts.dispatcher import Dispatcher
from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.notifiers.email import EmailNotifier
from narcwatch.index.alerts.notifiers.webhook import WebhookNotifier
from narcwatch.index.alerts.outbox import AlertDB, Backoff
from narcwatch.index.alerts.receiver import WebhookReceiver
from narcwatch.index.alerts.rules import DEFAULT_RULES, load_rules

from .conftest import World
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.server
SECRET = b"outage-test-secret"


def _wait(pred, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_outage_then_recovery_delivers_each_alert_exactly_once(tmp_path: Path, world: World) -> None:
    hook = WebhookReceiver(SECRET).start()
    smtp = SmtpSink("plain").start()
    db = AlertDB(tmp_path / "outbox.sqlite")
    notifiers = {
        "hook": WebhookNotifier("hook", hook.url, secret=SECRET, timeout=2),
        "mail": EmailNotifier("mail", "127.0.0.1", smtp.port, tls="none", sender="n@unit.test",
                              to=["desk@unit.test"], timeout=2),
    }
    disp = Dispatcher(db, notifiers, backoff=Backoff(base=0.02, cap=0.2), poll_interval=0.05)
    engine = AlertEngine(load_rules(DEFAULT_RULES), db, lookup=world.docs, notifiers=list(notifiers),
                         clock=lambda: world.clock, on_enqueue=disp.wake)
    disp.start()
    n = 0

    def produce(count: int) -> None:
        nonlocal n
        for _ in range(count):
            # every 4th listing is by a vendor already seen: it lands in a digest, not an alert
            vendor = f"fict_vendor_{n // 4 * 4 if n % 4 == 3 else n}"
            engine.on_events([world.new_listing(n, vendor=vendor)])
            world.advance(seconds=5)
            n += 1
            time.sleep(0.005)

    try:
        produce(8)
        assert _wait(lambda: not db.deliveries(state="pending"))
        hook.stop()
        smtp.stop()
        produce(16)  # both down: alerts pile up in the outbox
        down = db.deliveries(state="pending")
        assert {d.notifier for d in down} == {"hook", "mail"}
        assert any(d.attempts > 0 for d in down)
        time.sleep(0.3)  # several backoff rounds against dead endpoints
        hook.start()
        smtp.start()
        produce(8)
        world.advance(hours=2)
        engine.tick()  # closes digest windows
        alerts = [a for _, a in db.alerts(limit=10_000)]
        assert len(alerts) > 24
        assert _wait(lambda: not db.deliveries(state="pending"))
        time.sleep(0.2)  # give any erroneous duplicate the chance to arrive
    finally:
        disp.stop()
        hook.stop()
        smtp.stop()

    keys = {d.idem_key: d.alert_id for d in db.deliveries() if d.notifier == "hook"}
    assert [d.state for d in db.deliveries() if d.state != "delivered"] == []
    # webhook: every alert once, no repeats even before receiver-side dedupe
    assert sorted(r.key for r in hook.received) == sorted(keys)
    assert {r.body["alert"]["id"] for r in hook.received} == {a.id for a in alerts}
    # email: one message per alert, Message-ID carries the idempotency key
    mail_keys = sorted(d.idem_key for d in db.deliveries() if d.notifier == "mail")
    assert sorted(i.strip("<>").split("@")[0] for i in smtp.ids()) == mail_keys
    assert len(smtp.messages) == len(alerts)
    assert any(a.payload.get("digest") for a in alerts)
    assert disp.stats["hook.retry"] > 0 and disp.stats["mail.retry"] > 0


def test_a_dead_notifier_does_not_hold_up_the_others(tmp_path: Path, world: World) -> None:
    from narcwatch.index.alerts.notifiers.files import JsonlNotifier

    dead = WebhookReceiver(SECRET).start()
    url = dead.url
    dead.stop()  # connection refused for the whole test
    db = AlertDB(tmp_path / "outbox.sqlite")
    notifiers = {"hook": WebhookNotifier("hook", url, secret=SECRET, timeout=2),
                 "audit": JsonlNotifier("audit", tmp_path / "audit.jsonl")}
    disp = Dispatcher(db, notifiers, backoff=Backoff(base=0.05, cap=0.2), poll_interval=0.05).start()
    engine = AlertEngine(load_rules(DEFAULT_RULES), db, lookup=world.docs, notifiers=list(notifiers),
                         clock=lambda: world.clock, on_enqueue=disp.wake)
    try:
        fired = [a for n in range(10) for a in engine.on_events([world.new_listing(n, vendor=f"v{n}")])]
        assert _wait(lambda: len(db.deliveries(state="delivered")) == len(fired))
    finally:
        disp.stop()
    assert {d.notifier for d in db.deliveries(state="delivered")} == {"audit"}
    assert len(db.deliveries(state="pending")) == len(fired)  # kept for when the hook comes back
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == len(fired) == 10
