"""Failed-login throttling: lock a user name, and a client address, after repeated failures.

Why both keys: a guesser who tries many passwords for one account is stopped by the
user-name lock wherever they come from; one who sprays a few passwords over many
accounts from one machine is stopped by the address lock (set higher, because an
office behind one NAT address shares it). Unknown user names are counted and locked
exactly like real ones, so a lock reveals nothing about which accounts exist.

Fixed windows: ``max_failures`` failures of one key within ``window`` lock it for
``lockout``; the count starts again after the lock. A successful login clears the
user-name count (not the address count: one valid account must not reset a spray).
API tokens (``Authorization: Bearer`` under ``/api``) name no user, so a wrong token is
counted against the address only (``username=None``); a locked address gets 429 before
its token is even looked up.
State lives in ``<data>/dashboard.sqlite`` (tables ``login_failures``, ``login_locks``)
so a restart of ``narcwatch serve`` does not hand a guesser a fresh budget.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = ["Lock", "LoginThrottle", "Scope", "ThrottlePolicy"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (scope TEXT NOT NULL, subject TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures(scope, subject, at);
CREATE TABLE IF NOT EXISTS login_locks (
    scope TEXT NOT NULL, subject TEXT NOT NULL, since REAL NOT NULL, until REAL NOT NULL,
    PRIMARY KEY (scope, subject)
);
"""
_MAX_SUBJECT = 128


class Scope(StrEnum):
    USER = "user"
    ADDRESS = "address"


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5  # per user name
    max_failures_per_address: int = 20
    window: float = 15 * 60.0  # seconds
    lockout: float = 15 * 60.0  # seconds

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.max_failures_per_address < 1 or self.window <= 0 or self.lockout <= 0:
            raise ValueError("login throttle: failure limits must be >= 1 and window/lockout > 0")

    def limit(self, scope: Scope) -> int:
        return self.max_failures if scope == Scope.USER else self.max_failures_per_address


@dataclass(frozen=True)
class Lock:
    scope: Scope
    subject: str
    until: float  # epoch seconds

    def retry_after(self, now: float) -> int:
        return max(1, int(self.until - now + 0.999))


def _user_key(name: str) -> str:
    return name.strip().lower()[:_MAX_SUBJECT]


class LoginThrottle:
    """Counts failures and answers "is this user or address locked?" (thread-safe)."""

    def __init__(self, path: Path, policy: ThrottlePolicy | None = None, *, clock: Callable[[], float] = time.time):
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._clock()

    def _keys(self, username: str | None, address: str) -> list[tuple[Scope, str]]:
        keys = [] if username is None else [(Scope.USER, _user_key(username))]
        if address:
            keys.append((Scope.ADDRESS, address[:_MAX_SUBJECT]))
        return keys

    def locked(self, username: str | None, address: str) -> Lock | None:
        """The lock that refuses this attempt (the one lasting longest), or None."""
        now = self._clock()
        found: Lock | None = None
        with self._lock:
            for scope, subject in self._keys(username, address):
                row = self._db.execute("SELECT until FROM login_locks WHERE scope=? AND subject=? AND until > ?",
                                       (scope.value, subject, now)).fetchone()
                if row and (found is None or row[0] > found.until):
                    found = Lock(scope, subject, row[0])
        return found

    def failure(self, username: str | None, address: str) -> list[Lock]:
        """Record a failed attempt; returns the locks it started (empty when none did)."""
        now = self._clock()
        started: list[Lock] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM login_failures WHERE at <= ?", (now - self.policy.window,))
                self._db.execute("DELETE FROM login_locks WHERE until <= ?", (now,))
                for scope, subject in self._keys(username, address):
                    self._db.execute("INSERT INTO login_failures VALUES (?,?,?)", (scope.value, subject, now))
                    (count,) = self._db.execute("SELECT count(*) FROM login_failures WHERE scope=? AND subject=?",
                                                (scope.value, subject)).fetchone()
                    if count >= self.policy.limit(scope):
                        until = now + self.policy.lockout
                        self._db.execute("INSERT OR REPLACE INTO login_locks VALUES (?,?,?,?)",
                                         (scope.value, subject, now, until))
                        self._db.execute("DELETE FROM login_failures WHERE scope=? AND subject=?",
                                         (scope.value, subject))
                        started.append(Lock(scope, subject, until))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return started

    def success(self, username: str) -> None:
        """A correct password (outside any lock): the user name's failures are forgiven."""
        with self._lock:
            self._db.execute("DELETE FROM login_failures WHERE scope=? AND subject=?",
                             (Scope.USER.value, _user_key(username)))

    def unlock(self, scope: Scope, subject: str) -> bool:
        """An admin lifts a lock early (``narcwatch users unlock``)."""
        key = _user_key(subject) if scope == Scope.USER else subject
        with self._lock:
            self._db.execute("DELETE FROM login_failures WHERE scope=? AND subject=?", (scope.value, key))
            return self._db.execute("DELETE FROM login_locks WHERE scope=? AND subject=?",
                                    (scope.value, key)).rowcount > 0

    def locks(self) -> list[Lock]:
        now = self._clock()
        with self._lock:
            rows = self._db.execute("SELECT scope, subject, until FROM login_locks WHERE until > ? ORDER BY until",
                                    (now,)).fetchall()
        return [Lock(Scope(s), subj, u) for s, subj, u in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
