"""The durable alert log and delivery outbox (one SQLite file, WAL).

An alert and its delivery rows are written in one transaction, so an alert is never
stored without being queued, nor queued without being stored. A delivery row is
``pending`` until its notifier acknowledges it (2xx, SMTP 250) and only then
``delivered``; a failure reschedules it with exponential backoff and jitter. Rows are
claimed with a lease, so a dispatcher that dies mid-send leaves them to be retried, and
two dispatchers never send the same row at once. Each row carries an idempotency key
(stable per alert and notifier) that receivers use to drop a repeat after a crash
between their 2xx and our commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from narcwatch.index.models import Alert, AlertStatus

__all__ = ["AlertDB", "Backoff", "Delivery", "DeliveryState", "idempotency_key"]

SCHEMA_VERSION = 2  # v2: throttle_windows + throttle_held (throttled matches delivered as a digest)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'new',
    status_by TEXT,
    status_at TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule_id, created_at);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    notifier TEXT NOT NULL,
    idem_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL,
    UNIQUE(alert_id, notifier)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_at);
CREATE TABLE IF NOT EXISTS rule_events (
    rule_id TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (rule_id, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS groups (
    rule_id TEXT NOT NULL, gkey TEXT NOT NULL, opened_at REAL NOT NULL, closes_at REAL NOT NULL,
    PRIMARY KEY (rule_id, gkey)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members (
    rule_id TEXT NOT NULL, gkey TEXT NOT NULL, event_id TEXT NOT NULL, at REAL NOT NULL, item TEXT NOT NULL,
    PRIMARY KEY (rule_id, gkey, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS throttle_log (rule_id TEXT NOT NULL, tkey TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS throttle_key ON throttle_log(rule_id, tkey, at);
CREATE TABLE IF NOT EXISTS suppressed (
    rule_id TEXT NOT NULL, tkey TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (rule_id, tkey)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS throttle_windows (
    rule_id TEXT NOT NULL, tkey TEXT NOT NULL, opened_at REAL NOT NULL, closes_at REAL NOT NULL,
    rule TEXT NOT NULL, PRIMARY KEY (rule_id, tkey)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS throttle_windows_due ON throttle_windows(closes_at);
CREATE TABLE IF NOT EXISTS throttle_held (
    rule_id TEXT NOT NULL, tkey TEXT NOT NULL, event_id TEXT NOT NULL, at REAL NOT NULL, item TEXT NOT NULL,
    PRIMARY KEY (rule_id, tkey, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS search_hits (
    rule_id TEXT NOT NULL, doc_key TEXT NOT NULL, PRIMARY KEY (rule_id, doc_key)
) WITHOUT ROWID;
"""


class DeliveryState:
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


def idempotency_key(alert_id: str, notifier: str) -> str:
    return "nw-" + hashlib.sha256(f"{alert_id}\x00{notifier}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": half fixed, half random, capped."""

    base: float = 1.0
    cap: float = 300.0

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        d = min(self.cap, self.base * (2 ** max(0, min(attempts - 1, 30))))
        r = (rng or random).random()
        return d / 2 + d / 2 * r


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_id: str
    notifier: str
    idem_key: str
    state: str
    attempts: int
    next_at: float
    last_error: str | None
    created_at: float
    delivered_at: float | None


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()


def _lease_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` was a process on this host that no longer exists; anything
    unsure (another host, a live or foreign pid, garbage) keeps the lease until it expires."""
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: alive, another user's
        return False
    return False


def _release_orphans(db: sqlite3.Connection, now: float) -> None:
    """Free rows leased by a dispatcher that was killed (kill -9, OOM) on this host, so its
    successor resends them now instead of after the lease (minutes) runs out."""
    owners = [r[0] for r in db.execute("SELECT DISTINCT lease_owner FROM deliveries WHERE state='pending' "
                                       "AND lease_until>? AND lease_owner IS NOT NULL", (now,))]
    dead = [o for o in owners if _owner_is_dead(o)]
    if dead:
        db.execute(f"UPDATE deliveries SET lease_until=0 WHERE state='pending' AND lease_owner IN "
                   f"({','.join('?' * len(dead))})", dead)


class AlertDB:
    """Alerts, their lifecycle, delivery rows and the engine's grouping/throttle state."""

    def __init__(self, path: str | Path, *, lease_seconds: float = 300.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lease_seconds = lease_seconds
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} has alert schema v{version}; this narcwatch knows up to v{SCHEMA_VERSION}")
        self.conn.executescript(_SCHEMA)  # executescript commits on its own: not inside tx()
        if "lease_owner" not in {r[1] for r in self.conn.execute("PRAGMA table_info(deliveries)")}:
            self.conn.execute("ALTER TABLE deliveries ADD COLUMN lease_owner TEXT")  # optional: NULL = unknown
        self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # ------------------------------------------------------------ connections

    @property
    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            c.row_factory = sqlite3.Row
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")
            c.execute("PRAGMA busy_timeout=30000")
            self._local.conn = c
            with self._lock:
                self._all.append(c)
        return c

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so concurrent writers queue instead of failing."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for c in self._all:
                c.close()
            self._all.clear()
        self._local = threading.local()

    # ------------------------------------------------------------ writes (inside tx)

    @staticmethod
    def insert_alert(db: sqlite3.Connection, alert: Alert, notifiers: Sequence[str], now: float) -> bool:
        """Store ``alert`` and queue it for each notifier; False if it already existed."""
        cur = db.execute(
            "INSERT OR IGNORE INTO alerts(id, rule_id, severity, created_at, status, body) VALUES (?,?,?,?,?,?)",
            (alert.id, alert.rule_id, alert.severity.value, _iso(alert.created_at), alert.status.value,
             alert.model_dump_json()))
        if cur.rowcount == 0:
            return False
        db.executemany(
            "INSERT OR IGNORE INTO deliveries(alert_id, notifier, idem_key, next_at, created_at) VALUES (?,?,?,?,?)",
            [(alert.id, n, idempotency_key(alert.id, n), now, now) for n in notifiers])
        return True

    def add_alerts(self, alerts: Sequence[tuple[Alert, Sequence[str]]], now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self.tx() as db:
            return sum(self.insert_alert(db, a, n, now) for a, n in alerts)

    # ------------------------------------------------------------ cursors

    def cursor(self, name: str) -> datetime | None:
        row = self.conn.execute("SELECT at FROM cursors WHERE name=?", (name,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    @staticmethod
    def advance_cursor(db: sqlite3.Connection, name: str, at: datetime) -> None:
        """Move a cursor forward (never back), inside the caller's transaction."""
        iso = _iso(at)
        db.execute("INSERT INTO cursors(name, at) VALUES (?,?) ON CONFLICT(name) DO UPDATE SET at=excluded.at "
                   "WHERE excluded.at > cursors.at", (name, iso))

    # ------------------------------------------------------------ outbox

    def claim(self, limit: int = 100, now: float | None = None, notifiers: Sequence[str] | None = None) -> list[Delivery]:
        """Lease up to ``limit`` due rows (oldest first) for this dispatcher."""
        now = time.time() if now is None else now
        sql = ("SELECT id FROM deliveries WHERE state='pending' AND next_at<=? AND lease_until<=?")
        args: list[Any] = [now, now]
        if notifiers is not None:
            sql += f" AND notifier IN ({','.join('?' * len(notifiers))})"
            args += list(notifiers)
        sql += " ORDER BY next_at, id LIMIT ?"
        with self.tx() as db:
            _release_orphans(db, now)
            ids = [r[0] for r in db.execute(sql, [*args, limit])]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            db.execute(f"UPDATE deliveries SET lease_until=?, lease_owner=? WHERE id IN ({marks})",
                       [now + self.lease_seconds, _lease_owner(), *ids])
            rows = db.execute(f"SELECT * FROM deliveries WHERE id IN ({marks}) ORDER BY next_at, id", ids).fetchall()
        return [self._delivery(r) for r in rows]

    def mark_delivered(self, delivery_id: int, now: float | None = None) -> None:
        self.mark_delivered_many([delivery_id], now)

    def mark_delivered_many(self, delivery_ids: Sequence[int], now: float | None = None) -> None:
        """Record acknowledged deliveries in one transaction (one fsync for a whole round)."""
        now = time.time() if now is None else now
        with self.tx() as db:
            db.executemany("UPDATE deliveries SET state='delivered', delivered_at=?, attempts=attempts+1, "
                           "lease_until=0, last_error=NULL WHERE id=?", [(now, i) for i in delivery_ids])

    def mark_failed(self, delivery_id: int, error: str, *, retry_at: float | None, count_attempt: bool = True) -> None:
        """Reschedule (``retry_at``) or, with ``retry_at=None``, give up: state ``dead``."""
        with self.tx() as db:
            if retry_at is None:
                db.execute("UPDATE deliveries SET state='dead', attempts=attempts+1, lease_until=0, last_error=? "
                           "WHERE id=? AND state='pending'", (error[:2000], delivery_id))
            else:
                db.execute("UPDATE deliveries SET next_at=?, attempts=attempts+?, lease_until=0, last_error=? "
                           "WHERE id=? AND state='pending'", (retry_at, int(count_attempt), error[:2000], delivery_id))

    def requeue_dead(self, notifier: str | None = None) -> int:
        with self.tx() as db:
            sql = "UPDATE deliveries SET state='pending', next_at=?, lease_until=0 WHERE state='dead'"
            args: list[Any] = [time.time()]
            if notifier:
                sql += " AND notifier=?"
                args.append(notifier)
            return db.execute(sql, args).rowcount

    def next_due(self, notifier: str | None = None) -> float | None:
        sql = "SELECT MIN(MAX(next_at, lease_until)) FROM deliveries WHERE state='pending'"
        args = [notifier] if notifier else []
        row = self.conn.execute(sql + (" AND notifier=?" if notifier else ""), args).fetchone()
        return row[0] if row and row[0] is not None else None

    def deliveries(self, state: str | None = None, alert_id: str | None = None, limit: int = 1000) -> list[Delivery]:
        sql, args = "SELECT * FROM deliveries WHERE 1=1", []
        if state:
            sql += " AND state=?"
            args.append(state)
        if alert_id:
            sql += " AND alert_id=?"
            args.append(alert_id)
        sql += " ORDER BY id LIMIT ?"
        return [self._delivery(r) for r in self.conn.execute(sql, [*args, limit])]

    def held(self) -> list[tuple[str, str, int, float]]:
        """Throttled matches waiting for their window to close: (rule, key, count, closes_at)."""
        rows = self.conn.execute(
            "SELECT w.rule_id, w.tkey, COUNT(h.event_id), w.closes_at FROM throttle_windows w "
            "LEFT JOIN throttle_held h ON h.rule_id = w.rule_id AND h.tkey = w.tkey "
            "GROUP BY w.rule_id, w.tkey ORDER BY w.closes_at")
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        rows = self.conn.execute("SELECT notifier, state, COUNT(*) FROM deliveries GROUP BY notifier, state")
        return {(r[0], r[1]): r[2] for r in rows}

    @staticmethod
    def _delivery(r: sqlite3.Row) -> Delivery:
        return Delivery(r["id"], r["alert_id"], r["notifier"], r["idem_key"], r["state"], r["attempts"],
                        r["next_at"], r["last_error"], r["created_at"], r["delivered_at"])

    # ------------------------------------------------------------ alerts and lifecycle

    def alerts_by_id(self, ids: Sequence[str]) -> dict[str, Alert]:
        out: dict[str, Alert] = {}
        for i in range(0, len(ids), 500):
            chunk = list(ids[i:i + 500])
            rows = self.conn.execute(f"SELECT * FROM alerts WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            out.update((r["id"], self._alert(r)) for r in rows)
        return out

    def alert(self, alert_id: str) -> Alert | None:
        row = self.conn.execute("SELECT * FROM alerts WHERE id=?", (alert_id,)).fetchone()
        return self._alert(row) if row else None

    def alerts(self, *, status: str | None = None, after_seq: int = 0, limit: int = 100,
               newest_first: bool = True) -> list[tuple[int, Alert]]:
        sql, args = "SELECT * FROM alerts WHERE seq>?", [after_seq]
        if status:
            sql += " AND status=?"
            args.append(status)
        sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?"
        return [(r["seq"], self._alert(r)) for r in self.conn.execute(sql, [*args, limit])]

    def last_seq(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM alerts").fetchone()[0]

    def set_status(self, alert_id: str, status: AlertStatus, by: str, at: datetime | None = None) -> Alert:
        """Move an alert to acknowledged/dismissed, recording who and when."""
        if not by.strip():
            raise ValueError("a status change needs the name of who made it")
        at = at or datetime.now(timezone.utc)
        with self.tx() as db:
            row = db.execute("SELECT * FROM alerts WHERE id=?", (alert_id,)).fetchone()
            if row is None:
                raise KeyError(f"no alert {alert_id!r}")
            alert = self._alert(row).model_copy(update={"status": status, "status_by": by.strip(), "status_at": at})
            db.execute("UPDATE alerts SET status=?, status_by=?, status_at=?, body=? WHERE id=?",
                       (status.value, alert.status_by, _iso(at), alert.model_dump_json(), alert_id))
        return alert

    def resolve_id(self, prefix: str) -> str:
        """A full alert id from an unambiguous prefix (analysts type the first characters)."""
        rows = self.conn.execute("SELECT id FROM alerts WHERE id LIKE ? ESCAPE '\\' LIMIT 3",
                                 (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",)).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        raise KeyError(f"no alert with id {prefix!r}" if not rows else f"alert id prefix {prefix!r} is ambiguous")

    @staticmethod
    def _alert(row: sqlite3.Row) -> Alert:
        return Alert.model_validate(json.loads(row["body"]))
