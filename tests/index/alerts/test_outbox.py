"""The outbox: one transaction per alert+rows, leases, backoff, lifecycle."""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from narcwatch.index.alerts.outbox import AlertDB, Backoff, idempotency_key
from narcwatch.index.models import Alert, AlertStatus

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _alert(i: int) -> Alert:
    return Alert(id=f"al-{i:04d}", rule_id="r", rule_name="R", created_at=NOW, event_ids=[f"e{i}"], summary=f"s{i}")


def test_alert_and_rows_written_together_and_once(tmp_path: Path) -> None:
    db = AlertDB(tmp_path / "o.sqlite")
    assert db.add_alerts([(_alert(1), ["a", "b"]), (_alert(1), ["a", "b"])]) == 1
    rows = db.deliveries()
    assert [(r.notifier, r.idem_key) for r in rows] == [("a", idempotency_key("al-0001", "a")),
                                                        ("b", idempotency_key("al-0001", "b"))]
    with pytest.raises(RuntimeError):
        with db.tx() as c:
            db.insert_alert(c, _alert(2), ["a"], time.time())
            raise RuntimeError("crash inside the write")
    assert db.alert("al-0002") is None and len(db.deliveries()) == 2  # rolled back together


def test_lease_hides_claimed_rows_until_it_expires(tmp_path: Path) -> None:
    db = AlertDB(tmp_path / "o.sqlite", lease_seconds=30)
    db.add_alerts([(_alert(i), ["a"]) for i in range(3)])
    now = time.time()
    first = db.claim(10, now=now)
    assert len(first) == 3
    assert db.claim(10, now=now) == []  # another dispatcher gets nothing while leased
    # the first dispatcher died without marking: after the lease the rows come back
    again = db.claim(10, now=now + 31)
    assert [r.id for r in again] == [r.id for r in first]
    db.mark_delivered(again[0].id)
    assert len(db.claim(10, now=now + 62)) == 2


def test_failed_rows_wait_for_their_retry_time(tmp_path: Path) -> None:
    db = AlertDB(tmp_path / "o.sqlite")
    db.add_alerts([(_alert(1), ["a"])])
    [row] = db.claim(now=time.time())
    db.mark_failed(row.id, "HTTP 503", retry_at=time.time() + 100)
    assert db.claim(now=time.time()) == []
    [again] = db.claim(now=time.time() + 101)
    assert again.attempts == 1 and again.last_error == "HTTP 503"
    db.mark_failed(again.id, "HTTP 400", retry_at=None)
    assert db.deliveries(state="dead")[0].attempts == 2
    assert db.requeue_dead() == 1 and db.deliveries(state="pending")


@pytest.mark.parametrize("attempts", [1, 2, 5, 10, 40])
def test_backoff_grows_is_capped_and_jittered(attempts: int) -> None:
    b = Backoff(base=1, cap=60)
    rng = random.Random(attempts)
    delays = [b.delay(attempts, rng) for _ in range(50)]
    full = min(60, 2 ** (attempts - 1))
    assert all(full / 2 <= d <= full for d in delays)
    assert len(set(delays)) > 1  # jitter: dispatchers do not retry in lockstep


def test_lifecycle_records_who_and_when(tmp_path: Path) -> None:
    db = AlertDB(tmp_path / "o.sqlite")
    db.add_alerts([(_alert(1), []), (_alert(2), [])])
    a = db.set_status(db.resolve_id("al-0001"), AlertStatus.ACKNOWLEDGED, "analyst.k")
    assert a.status == AlertStatus.ACKNOWLEDGED and a.status_by == "analyst.k" and a.status_at is not None
    stored = db.alert("al-0001")
    assert stored is not None and stored.status_by == "analyst.k"
    assert [x.id for _, x in db.alerts(status="new")] == ["al-0002"]
    with pytest.raises(KeyError, match="ambiguous"):
        db.resolve_id("al-000")
    with pytest.raises(KeyError, match="no alert"):
        db.resolve_id("al-9")
    with pytest.raises(KeyError):
        db.resolve_id("%")  # LIKE wildcards are literal
    with pytest.raises(ValueError):
        db.set_status("al-0002", AlertStatus.DISMISSED, "  ")
