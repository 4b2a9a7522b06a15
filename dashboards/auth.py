"""Local accounts: users with argon2 passwords, API tokens, server-side sessions.

Why server-side sessions behind a signed cookie: the cookie carries only a random id and
its HMAC, so a stolen database row cannot be replayed as a cookie and a logout or a
disabled user ends the session at once. API tokens are 256-bit random secrets, stored
as SHA-256 (a slow hash adds nothing to a secret that cannot be guessed); passwords are
argon2id. Everything lives in ``<data>/dashboard.sqlite``; the HMAC key in
``<data>/dashboard.key`` (mode 600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["Accounts", "AuthError", "Role", "Session", "User"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    pw_hash    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tokens (
    id         TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users(name),
    hash       TEXT NOT NULL,
    label      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash    TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users(name),
    csrf       TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^nw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
MIN_PASSWORD = 10


class AuthError(ValueError):
    """A bad user name, role or password on account creation."""


class Role(StrEnum):
    ANALYST = "analyst"  # search, view, acknowledge alerts
    ADMIN = "admin"  # everything an analyst does, plus sources, rules, users, audit

    def allows(self, needed: "Role") -> bool:
        return self == Role.ADMIN or needed == Role.ANALYST


@dataclass(frozen=True)
class User:
    name: str
    role: Role


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    via_token: bool = False


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_or_create_key(path: Path) -> bytes:
    """The cookie-signing key; created once with mode 600."""
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class Accounts:
    """Users, tokens and sessions in one SQLite file (thread-safe; one connection)."""

    def __init__(self, data_dir: Path, *, session_hours: float = 12.0, hasher: PasswordHasher | None = None):
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(data_dir / "dashboard.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._key = load_or_create_key(data_dir / "dashboard.key")
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._dummy = self._hasher.hash(secrets.token_hex(16))
        self.session_ttl = timedelta(hours=session_hours)

    # users -----------------------------------------------------------------------

    def add_user(self, name: str, role: Role | str, password: str) -> User:
        if not _NAME.match(name):
            raise AuthError("user name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        try:
            role = Role(role)
        except ValueError:
            raise AuthError(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}") from None
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"password must have at least {MIN_PASSWORD} characters")
        with self._lock:
            try:
                self._db.execute("INSERT INTO users(name, role, pw_hash, created_at) VALUES (?,?,?,?)",
                                 (name, role.value, self._hasher.hash(password), _now().isoformat()))
            except sqlite3.IntegrityError:
                raise AuthError(f"user {name!r} already exists") from None
        return User(name, role)

    def users(self) -> list[tuple[User, bool]]:
        with self._lock:
            rows = self._db.execute("SELECT name, role, disabled FROM users ORDER BY name").fetchall()
        return [(User(n, Role(r)), bool(d)) for n, r, d in rows]

    def user(self, name: str) -> User | None:
        with self._lock:
            row = self._db.execute("SELECT role FROM users WHERE name=? AND disabled=0", (name,)).fetchone()
        return User(name, Role(row[0])) if row else None

    def set_disabled(self, name: str, disabled: bool) -> bool:
        with self._lock:
            cur = self._db.execute("UPDATE users SET disabled=? WHERE name=?", (int(disabled), name))
            if disabled:
                self._db.execute("DELETE FROM sessions WHERE user=?", (name,))
                self._db.execute("UPDATE tokens SET revoked=1 WHERE user=?", (name,))
        return cur.rowcount == 1

    def has_users(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password matches; same work whether or not the user exists."""
        with self._lock:
            row = self._db.execute("SELECT role, pw_hash FROM users WHERE name=? AND disabled=0", (name,)).fetchone()
        pw_hash = row[1] if row else self._dummy
        try:
            self._hasher.verify(pw_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self._hasher.check_needs_rehash(pw_hash):
            with self._lock:
                self._db.execute("UPDATE users SET pw_hash=? WHERE name=?", (self._hasher.hash(password), name))
        return User(name, Role(row[0]))

    # tokens ----------------------------------------------------------------------

    def create_token(self, name: str, label: str = "") -> str:
        """A new API token for ``name``; the secret is shown once and stored hashed."""
        if self.user(name) is None:
            raise AuthError(f"no active user {name!r}")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self._lock:
            self._db.execute("INSERT INTO tokens(id, user, hash, label, created_at) VALUES (?,?,?,?,?)",
                             (token_id, name, _sha256(secret), label[:100], _now().isoformat()))
        return f"nw_{token_id}_{secret}"

    def tokens(self, name: str | None = None) -> list[tuple[str, str, str, str, bool]]:
        """(id, user, label, created_at, revoked) rows; never the secret."""
        sql = "SELECT id, user, label, created_at, revoked FROM tokens"
        with self._lock:
            rows = (self._db.execute(sql + " WHERE user=? ORDER BY created_at", (name,)) if name
                    else self._db.execute(sql + " ORDER BY created_at")).fetchall()
        return [(i, u, lbl, c, bool(r)) for i, u, lbl, c, r in rows]

    def revoke_token(self, token_id: str) -> bool:
        with self._lock:
            return self._db.execute("UPDATE tokens SET revoked=1 WHERE id=?", (token_id,)).rowcount == 1

    def token_user(self, token: str) -> User | None:
        m = _TOKEN.match(token.strip())
        if not m:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT t.hash, u.name, u.role FROM tokens t JOIN users u ON u.name=t.user "
                "WHERE t.id=? AND t.revoked=0 AND u.disabled=0", (m.group(1),)).fetchone()
        if row is None or not hmac.compare_digest(row[0], _sha256(m.group(2))):
            return None
        return User(row[1], Role(row[2]))

    # sessions --------------------------------------------------------------------

    def _sign(self, sid: str) -> str:
        return hmac.new(self._key, sid.encode(), hashlib.sha256).hexdigest()

    def start_session(self, user: User) -> tuple[str, Session]:
        """A new session: (cookie value, session). The cookie is ``id.hmac``."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = _now() + self.session_ttl
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE expires_at < ?", (_now().isoformat(),))
            self._db.execute("INSERT INTO sessions(id_hash, user, csrf, expires_at) VALUES (?,?,?,?)",
                             (_sha256(sid), user.name, csrf, expires.isoformat()))
        return f"{sid}.{self._sign(sid)}", Session(user, csrf)

    def session(self, cookie: str) -> Session | None:
        sid, _, mac = cookie.partition(".")
        if not sid or len(cookie) > 200 or not hmac.compare_digest(mac, self._sign(sid)):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT u.name, u.role, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.name=s.user "
                "WHERE s.id_hash=? AND u.disabled=0", (_sha256(sid),)).fetchone()
        if row is None or datetime.fromisoformat(row[3]) < _now():
            return None
        return Session(User(row[0], Role(row[1])), row[2])

    def end_session(self, cookie: str) -> None:
        sid = cookie.partition(".")[0]
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id_hash=?", (_sha256(sid),))

    def close(self) -> None:
        with self._lock:
            self._db.close()
