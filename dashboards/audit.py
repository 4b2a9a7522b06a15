"""The audit log: who searched, viewed, exported and changed what, and when.

Law-enforcement use requires that this record can be shown in court, so it is
append-only on three levels: the product has no code path that updates or deletes a
row; SQLite triggers abort any UPDATE or DELETE issued by anyone else through SQL; and
every row carries ``hash = sha256(prev_hash || canonical row)``, so an edit made below
SQL (a hex editor, a dropped trigger) breaks the chain at that row and ``verify()``
names it. The file is ``<data>/audit.sqlite``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["AuditEntry", "AuditLog", "GENESIS"]

GENESIS = "0" * 64
_MAX_DETAIL = 4000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq     INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    user    TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT NOT NULL,
    prev    TEXT NOT NULL,
    hash    TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE INDEX IF NOT EXISTS audit_user ON audit(user, seq);
CREATE INDEX IF NOT EXISTS audit_action ON audit(action, seq);
"""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    user: str
    action: str
    target: str
    details: dict[str, Any]
    prev: str
    hash: str


def _row_hash(prev: str, seq: int, at: str, user: str, action: str, target: str, details: str) -> str:
    canonical = json.dumps([seq, at, user, action, target, details], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev + canonical).encode()).hexdigest()


class AuditLog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def record(self, user: str, action: str, target: str = "", /, **details: Any) -> AuditEntry:
        """Append one entry; returns it with its chain hash."""
        at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        detail = json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)
        if len(detail) > _MAX_DETAIL:
            detail = json.dumps({"truncated": detail[:_MAX_DETAIL]}, ensure_ascii=False)
        target = target[:1000]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                last = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
                digest = _row_hash(prev, seq, at, user, action, target, detail)
                self._db.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)",
                                 (seq, at, user, action, target, detail, prev, digest))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return AuditEntry(seq, at, user, action, target, details, prev, digest)

    def entries(self, *, user: str | None = None, action: str | None = None, limit: int = 200,
                before: int | None = None) -> list[AuditEntry]:
        """Newest first."""
        sql, args = "SELECT * FROM audit WHERE 1=1", []
        for col, val in (("user", user), ("action", action)):
            if val:
                sql += f" AND {col}=?"
                args.append(val)
        if before is not None:
            sql += " AND seq<?"
            args.append(before)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(max(1, min(limit, 10_000)))
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [AuditEntry(s, a, u, act, t, _loads(d), p, h) for s, a, u, act, t, d, p, h in rows]

    def verify(self) -> tuple[bool, int | None, int]:
        """Walk the chain: (intact, first bad seq or None, rows checked)."""
        prev, expected_seq, n = GENESIS, 1, 0
        with self._lock:
            cur = self._db.execute("SELECT * FROM audit ORDER BY seq")
            for seq, at, user, action, target, details, p, h in cur:
                n += 1
                if seq != expected_seq or p != prev or _row_hash(p, seq, at, user, action, target, details) != h:
                    return False, seq, n
                prev, expected_seq = h, seq + 1
        return True, None, n

    def backfill_alert_status(self, alerts: Iterable[Any]) -> int:
        """Append an entry for each alert whose status (outbox) differs from its last audited
        one, marked ``recovered_from: outbox``; returns how many. An acknowledgement commits
        to the outbox, then here: an API killed between the two (or an ack made with the
        CLI) would otherwise leave a status change nobody can account for. Run at startup."""
        with self._lock:
            rows = self._db.execute(
                "SELECT target, json_extract(details, '$.status') FROM audit WHERE action='alert_status' "
                "AND json_valid(details) AND coalesce(json_extract(details, '$.found'), 1) != 0 ORDER BY seq").fetchall()
        audited = dict(rows)  # target -> last audited status
        added = 0
        for alert in alerts:
            status = getattr(alert.status, "value", alert.status)
            if status == "new" or audited.get(alert.id) == status:
                continue
            at = alert.status_at.isoformat() if alert.status_at else None
            self.record(alert.status_by or "unknown", "alert_status", alert.id, status=status, found=True,
                        recovered_from="outbox", status_at=at)
            added += 1
        return added

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}
