"""Delivers outbox rows to notifiers until each one is acknowledged.

One worker thread per notifier, so a notifier that is down (timeouts) never delays the
others. A worker claims its due rows, sends them oldest first, and marks each delivered
only after the notifier returned (2xx / 250). On a retryable failure the row gets
exponential backoff with jitter, and the rest of that batch is put back untouched to be
retried with it: a dead endpoint costs one attempt per backoff step, not one per alert.
``wake()`` (called by the engine after it queues alerts) starts a round at once; without
it workers still poll, so alerts queued by another process are delivered too.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping

from narcwatch.index.alerts.notifiers.base import DeliveryError, Notifier
from narcwatch.index.alerts.outbox import AlertDB, Backoff, Delivery

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, db: AlertDB, notifiers: Mapping[str, Notifier], *, backoff: Backoff | None = None,
                 poll_interval: float = 1.0, batch: int = 20, rng: random.Random | None = None):
        self.db, self.notifiers = db, dict(notifiers)
        self.backoff = backoff or Backoff()
        self.poll_interval, self.batch = poll_interval, batch
        self.rng = rng or random.Random()
        self.stats: Counter[str] = Counter()
        self._wake = {nid: threading.Event() for nid in self.notifiers}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ one round (testable without threads)

    def run_once(self, notifier_id: str | None = None, now: float | None = None) -> int:
        """Send every due row (of one notifier, or all); returns how many were delivered."""
        ids = [notifier_id] if notifier_id else list(self.notifiers)
        return sum(self._round(nid, now) for nid in ids)

    def _round(self, nid: str, now: float | None = None) -> int:
        """Send due rows oldest first; acknowledged rows are recorded together at the end of
        the round (a crash before that re-sends them, and receivers drop the repeats on the
        idempotency key), so a burst costs one fsync, not one per alert."""
        notifier = self.notifiers[nid]
        rows = self.db.claim(self.batch, now=now, notifiers=[nid])
        alerts = self.db.alerts_by_id([r.alert_id for r in rows]) if rows else {}
        done: list[int] = []
        try:
            for i, row in enumerate(rows):
                alert = alerts.get(row.alert_id)
                if alert is None:  # cannot happen with the one-transaction write; be total anyway
                    self.db.mark_failed(row.id, "alert row missing", retry_at=None)
                    continue
                try:
                    notifier.send(alert, row.idem_key)
                except DeliveryError as exc:
                    self._failed(row, str(exc), exc.retryable, rows[i + 1:])
                    break
                except Exception as exc:  # noqa: BLE001 - a notifier bug must not kill the worker; the row is kept
                    log.exception("notifier %s raised on %s", nid, row.alert_id)
                    self._failed(row, f"{type(exc).__name__}: {exc}", True, rows[i + 1:])
                    break
                done.append(row.id)
        finally:
            if done:
                self.db.mark_delivered_many(done)
                self.stats[f"{nid}.delivered"] += len(done)
        return len(done)

    def _failed(self, row: Delivery, error: str, retryable: bool, rest: list[Delivery]) -> None:
        nid = row.notifier
        if not retryable:
            self.stats[f"{nid}.dead"] += 1
            log.error("delivery %s to %s failed permanently: %s", row.alert_id, nid, error)
            self.db.mark_failed(row.id, error, retry_at=None)
            return
        self.stats[f"{nid}.retry"] += 1
        retry_at = time.time() + self.backoff.delay(row.attempts + 1, self.rng)
        log.warning("delivery %s to %s failed (attempt %d), retry in %.1fs: %s", row.alert_id, nid,
                    row.attempts + 1, retry_at - time.time(), error)
        self.db.mark_failed(row.id, error, retry_at=retry_at)
        for other in rest:  # not attempted: release with the same due time, no attempt counted
            self.db.mark_failed(other.id, other.last_error or "", retry_at=retry_at, count_attempt=False)

    # ------------------------------------------------------------ background workers

    def start(self) -> "Dispatcher":
        self._stop.clear()
        for nid in self.notifiers:
            t = threading.Thread(target=self._loop, args=(nid,), name=f"alerts-dispatch-{nid}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def wake(self) -> None:
        for ev in self._wake.values():
            ev.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.wake()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def _loop(self, nid: str) -> None:
        ev = self._wake[nid]
        while not self._stop.is_set():
            ev.clear()
            try:
                sent = self._round(nid)
            except Exception:  # noqa: BLE001 - e.g. database locked for longer than busy_timeout
                log.exception("dispatcher round for %s failed", nid)
                sent = 0
            if sent:
                continue  # there may be more due rows
            due = self.db.next_due(nid)
            wait = self.poll_interval if due is None else max(0.0, min(self.poll_interval, due - time.time()))
            ev.wait(wait if wait > 0 else 0.01)

    def close(self) -> None:
        self.stop()
        for n in self.notifiers.values():
            n.close()
