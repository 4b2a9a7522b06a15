"""Throttled matches are never lost: each arrives exactly once, in the digest sent when the
throttle window ends, at a real webhook receiver and a real SMTP server (aiosmtpd), even
when the worker that held them is killed and a new process closes the window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from narcwatch.index.alerts.dispatcher import Dispatcher
from narcwatch.index.alerts.notifiers.email import EmailNotifier
from narcwatch.index.alerts.notifiers.webhook import WebhookNotifier
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.receiver import WebhookReceiver
from narcwatch.index.models import EventType

from .conftest import event_for, listing_doc
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.server
SECRET = b"throttle-test-secret"
RULES = """\
rules:
  - id: vendor-flood
    name: Vendor flood
    events: [NEW]
    severity: high
    throttle: {max: 2, per: 1h, by: [vendor]}
"""

# One worker process: evaluate the events at a fixed clock, close due windows, then die
# without closing anything (os._exit), as a killed ingest worker would.
_WORKER = """
import json, os, sys
from datetime import datetime
from narcwatch.index.alerts import AlertDB, AlertEngine, DictDocuments, load_rules
from narcwatch.index.models import ChangeEvent
spec = json.loads(open(sys.argv[1]).read())
now = datetime.fromisoformat(spec["now"])
engine = AlertEngine(load_rules(spec["rules"]), AlertDB(spec["db"]), lookup=DictDocuments(spec["docs"]),
                     notifiers=["hook", "mail"], clock=lambda: now)
alerts = engine.on_events([ChangeEvent.model_validate(e) for e in spec["events"]]) + engine.tick()
print(json.dumps([a.id for a in alerts]), flush=True)
os._exit(0)
"""


def _worker(tmp: Path, rules: Path, db: Path, now: datetime, docs: dict[str, Any], events: list[Any]) -> list[str]:
    spec = tmp / f"spec-{now.timestamp():.0f}.json"
    spec.write_text(json.dumps({"now": now.isoformat(), "rules": str(rules), "db": str(db), "docs": docs,
                                "events": [e.model_dump(mode="json") for e in events]}, default=str))
    out = subprocess.run([sys.executable, "-c", _WORKER, str(spec)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONWARNINGS": "error"})
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def _deliver_all(db: AlertDB, disp: Dispatcher) -> None:
    for _ in range(20):
        disp.run_once()
        if not db.deliveries(state="pending"):
            return
    raise AssertionError(f"still pending: {db.deliveries(state='pending')}")


def test_every_throttled_match_arrives_once_after_the_window_across_restarts(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    dbpath = tmp_path / "outbox.sqlite"
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    docs: dict[str, Any] = {}
    events = []
    for n in range(15):
        doc = listing_doc(n, vendor="fict_flood_vendor" if n < 13 else "fict_quiet_vendor")
        docs[doc["key"]] = doc
        events.append(event_for(doc, EventType.NEW, t0 + timedelta(minutes=n)))
    hook = WebhookReceiver(SECRET).start()
    smtp = SmtpSink("plain").start()
    db = AlertDB(dbpath)
    disp = Dispatcher(db, {
        "hook": WebhookNotifier("hook", hook.url, secret=SECRET, timeout=5),
        "mail": EmailNotifier("mail", "127.0.0.1", smtp.port, tls="none", sender="n@unit.test",
                              to=["desk@unit.test"], timeout=5),
    })
    try:
        # worker 1: ten matches of the flood vendor; two alert, eight are held
        first = _worker(tmp_path, rules, dbpath, t0 + timedelta(minutes=10), docs, events[:10])
        assert len(first) == 2
        _deliver_all(db, disp)
        assert len(hook.received) == 2 and len(smtp.messages) == 2
        # worker 2 (after worker 1 died): three more held, and the quiet vendor alerts at once
        second = _worker(tmp_path, rules, dbpath, t0 + timedelta(minutes=30), docs, events[10:])
        assert len(second) == 2
        assert [(r, n) for r, _, n, _ in db.held()] == [("vendor-flood", 11)]
        # worker 3, after the window: the digest; worker 4 replays the same moment: nothing more
        after = t0 + timedelta(hours=1, minutes=11)  # worker 1 (clock t0+10min) alerted at t0+10min
        (digest_id,) = _worker(tmp_path, rules, dbpath, after, docs, [])
        assert _worker(tmp_path, rules, dbpath, after, docs, []) == []
        assert db.held() == []
        _deliver_all(db, disp)
    finally:
        disp.close()
        hook.stop()
        smtp.stop()

    flood = {e.id for e in events[:13]}
    # webhook: every event of the rule arrives exactly once, the held ones in one digest
    per_event = Counter(e for r in hook.received for e in r.body["alert"]["event_ids"])
    assert per_event == Counter({e.id: 1 for e in events})
    digest = next(r.body["alert"] for r in hook.received if r.body["alert"]["id"] == digest_id)
    assert digest["payload"]["throttled"] and digest["payload"]["matches"] == 11
    assert set(digest["event_ids"]) == flood - {events[0].id, events[1].id}
    assert all(item["url"].startswith("http://market-a.sandbox.test/listing/") for item in digest["payload"]["items"])
    assert len(hook.received) == len({r.key for r in hook.received}) == 5  # no repeat, even before dedupe
    # email: one message per alert, the digest says what it is and lists the listings
    assert len(smtp.messages) == len(set(smtp.ids())) == 5
    (mail,) = [m for m in smtp.messages if "throttle window" in str(m["Subject"])]
    assert "11 further matches during the throttle window" in str(mail["Subject"])
    body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert sum(f"/listing/{n}" in body for n in range(2, 13)) == 11
