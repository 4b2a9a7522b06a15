"""Failed-login throttling: per user name and per client address, persisted, audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from narcwatch.crawler.config import Config, DashboardConfig
from narcwatch.dashboards.app import create_app
from narcwatch.dashboards.audit import AuditLog
from narcwatch.dashboards.auth import Accounts
from narcwatch.dashboards.throttle import LoginThrottle, Scope, ThrottlePolicy

from dash_helpers import ANALYST, FAST_ARGON2


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


# (steps, expected lock scopes after the last step); a step is ("fail"|"ok", user, address) or ("wait", seconds)
POLICY = ThrottlePolicy(max_failures=3, max_failures_per_address=5, window=600, lockout=900)
_CASES = [
    pytest.param([("fail", "ana", "10.0.0.1")] * 2, [], id="under-the-user-limit"),
    pytest.param([("fail", "ana", "10.0.0.1")] * 3, ["user"], id="user-limit-locks-the-name"),
    pytest.param([("fail", "ANA ", "10.0.0.1"), ("fail", "ana", "10.0.0.2"), ("fail", "Ana", "10.0.0.3")], ["user"],
                 id="name-case-and-space-folded-any-address"),
    pytest.param([("fail", "ana", "a"), ("fail", "ana", "a"), ("ok", "ana", "a"), ("fail", "ana", "a")], [],
                 id="success-forgives-the-name"),
    pytest.param([("fail", "ana", "a"), ("fail", "ana", "a"), ("wait", 601), ("fail", "ana", "a")], [],
                 id="failures-age-out-of-the-window"),
    pytest.param([("fail", f"user{i}", "10.9.9.9") for i in range(5)], ["address"], id="spray-locks-the-address"),
    pytest.param([*[("fail", f"user{i}", "10.9.9.9") for i in range(4)], ("ok", "ana", "10.9.9.9"),
                  ("fail", "user9", "10.9.9.9")], ["address"], id="a-valid-login-does-not-reset-the-address"),
    pytest.param([("fail", "ana", "a")] * 3 + [("wait", 899)], ["user"], id="still-locked-before-expiry"),
    pytest.param([("fail", "ana", "a")] * 3 + [("wait", 900)], [], id="lock-expires"),
    pytest.param([("fail", "ana", "a")] * 3 + [("wait", 900), ("fail", "ana", "a")], [],
                 id="count-starts-again-after-a-lock"),
    pytest.param([("fail", "x" * 10_000, "")] * 3, ["user"], id="huge-name-no-address"),
]


@pytest.mark.parametrize("steps, expected", _CASES)
def test_throttle_policy(tmp_path: Path, steps: list[tuple[Any, ...]], expected: list[str]) -> None:
    clock = Clock()
    throttle = LoginThrottle(tmp_path / "dashboard.sqlite", POLICY, clock=clock)
    try:
        for step in steps:
            if step[0] == "wait":
                clock.t += step[1]
            elif step[0] == "fail":
                throttle.failure(step[1], step[2])
            else:
                throttle.success(step[1])
        last = next(s for s in reversed(steps) if s[0] != "wait")
        assert sorted(lock.scope.value for lock in throttle.locks()) == expected
        assert (throttle.locked(last[1], last[2]) is not None) == bool(expected)
    finally:
        throttle.close()


def test_locks_survive_a_restart_and_can_be_lifted(tmp_path: Path) -> None:
    clock = Clock()
    first = LoginThrottle(tmp_path / "d.sqlite", POLICY, clock=clock)
    started = [lock for _ in range(3) for lock in first.failure("ana", "10.0.0.1")]
    assert [(lock.scope, lock.subject, lock.until) for lock in started] == [(Scope.USER, "ana", clock.t + 900)]
    first.close()
    second = LoginThrottle(tmp_path / "d.sqlite", POLICY, clock=clock)
    try:
        lock = second.locked("ana", "10.0.0.2")
        assert lock is not None and lock.retry_after(clock.t) == 900
        assert second.unlock(Scope.USER, "ANA") and second.locked("ana", "10.0.0.2") is None
        assert not second.unlock(Scope.USER, "ana")
    finally:
        second.close()


@pytest.mark.parametrize("kwargs", [{"max_failures": 0}, {"max_failures_per_address": 0}, {"window": 0},
                                    {"lockout": -1}])
def test_policy_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ThrottlePolicy(**kwargs)


# --- through the app -----------------------------------------------------------------

def _config(data_dir: Path, **dash: Any) -> Config:
    return Config(data_dir=data_dir, dashboard=DashboardConfig(**dash))


def _app(data_dir: Path, config: Config, hasher: PasswordHasher = FAST_ARGON2) -> FastAPI:
    return create_app(None, data_dir, config, password_hasher=hasher)


@pytest.fixture
def two_users(data_dir: Path) -> Path:
    accounts = Accounts(data_dir, hasher=FAST_ARGON2)
    accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
    accounts.add_user("bob", "analyst", "bob password 12")
    accounts.close()
    return data_dir


def _try(client: TestClient, user: str, password: str) -> Any:
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token
    return client.post("/login", data={"username": user, "password": password, "login_csrf": token.group(1)},
                       follow_redirects=False)


def _actions(data_dir: Path) -> list[tuple[str, str, str]]:
    log = AuditLog(data_dir / "audit.sqlite")
    try:
        return [(e.user, e.action, e.target) for e in reversed(log.entries(limit=100))
                if e.action.startswith(("login", "locked"))]
    finally:
        log.close()


@pytest.fixture
def client(two_users: Path) -> Iterator[TestClient]:
    with TestClient(_app(two_users, _config(two_users, login_max_failures=3)), base_url="http://127.0.0.1") as c:
        yield c


def test_user_locked_after_failures_even_with_the_right_password(client: TestClient, two_users: Path) -> None:
    for _ in range(3):
        assert _try(client, ANALYST[0], "wrong password!").status_code == 401
    r = _try(client, ANALYST[0], ANALYST[1])
    assert r.status_code == 429 and "Too many failed log-ins" in r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 15 * 60
    assert "nw_session" not in r.cookies
    assert _try(client, "bob", "bob password 12").status_code == 303  # another user is not affected
    assert _actions(two_users) == [
        *[(ANALYST[0], "login_failed", "")] * 3, (ANALYST[0], "locked_out", ANALYST[0]),
        (ANALYST[0], "login_locked", ""), ("bob", "login", "")]


def test_lock_persists_across_a_restart(client: TestClient, two_users: Path) -> None:
    for _ in range(3):
        _try(client, ANALYST[0], "wrong password!")
    with TestClient(_app(two_users, _config(two_users, login_max_failures=3)), base_url="http://127.0.0.1") as again:
        assert _try(again, ANALYST[0], ANALYST[1]).status_code == 429


def test_address_lock_stops_a_spray_over_many_names(two_users: Path) -> None:
    cfg = _config(two_users, login_max_failures=3, login_max_failures_per_address=4)
    with TestClient(_app(two_users, cfg), base_url="http://127.0.0.1") as c:
        for name in ("u1", "u2", "u3", "u4"):
            assert _try(c, name, "guess guess guess").status_code == 401
        assert _try(c, "bob", "bob password 12").status_code == 429  # same address, valid account
    acts = _actions(two_users)
    assert ("u4", "locked_out", "testclient") in acts  # TestClient's peer address
    assert acts[-1] == ("bob", "login_locked", "")


def test_unknown_and_known_names_answer_alike(two_users: Path) -> None:
    """No user enumeration: an unknown name costs an argon2 verify (against a dummy hash)
    like a known one, fails with the same page, and is locked after the same count."""

    class Counting(PasswordHasher):
        verifies = 0

        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
            Counting.verifies += 1
            return super().verify(hash, password)

    hasher = Counting(time_cost=1, memory_cost=1024, parallelism=1)
    with TestClient(_app(two_users, _config(two_users, login_max_failures=2), hasher), base_url="http://127.0.0.1") as c:
        answers = {}
        for name in ("bob", "nobody-here"):
            before = Counting.verifies
            first = _try(c, name, "wrong password!")
            assert Counting.verifies == before + 1, name
            second = _try(c, name, "wrong password!")
            third = _try(c, name, "wrong password!")
            answers[name] = [(r.status_code, re.sub(r'value="[^"]+"', "", r.text)) for r in (first, second, third)]
        assert answers["bob"] == answers["nobody-here"]
        assert [s for s, _ in answers["bob"]] == [401, 401, 429]


def test_wrong_api_tokens_lock_the_address_and_are_audited(two_users: Path) -> None:
    """A token names no user: wrong ones count against the address only; a locked
    address gets 429 even with a valid token, and a valid login elsewhere is unaffected."""
    accounts = Accounts(two_users, hasher=FAST_ARGON2)
    good = accounts.create_token("bob", "script")
    accounts.close()
    cfg = _config(two_users, login_max_failures=2, login_max_failures_per_address=3)
    with TestClient(_app(two_users, cfg), base_url="http://127.0.0.1") as c:
        assert c.get("/api/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
        for i in range(3):
            r = c.get("/api/me", headers={"Authorization": f"Bearer nw_guess{i}_xxxxxxxx"})
            assert r.status_code == 401
        r = c.get("/api/me", headers={"Authorization": f"Bearer {good}"})
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 15 * 60
        assert "Content-Security-Policy" in r.headers
    log = AuditLog(two_users / "audit.sqlite")
    try:
        acts = [(e.action, e.target) for e in reversed(log.entries(limit=100)) if "token" in e.action or "locked" in e.action]
    finally:
        log.close()
    assert acts == [*[("api_token_failed", "/api/me")] * 3, ("locked_out", "testclient"), ("api_token_locked", "/api/me")]
    throttle = LoginThrottle(two_users / "dashboard.sqlite")
    try:
        assert [(lock.scope, lock.subject) for lock in throttle.locks()] == [(Scope.ADDRESS, "testclient")]
    finally:
        throttle.close()
