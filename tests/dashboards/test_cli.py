"""``narcwatch users add|list|token`` and ``serve`` defaults."""

from __future__ import annotations

from typer.testing import CliRunner

from narcwatch.cli import app
from narcwatch.dashboards.audit import AuditLog
from narcwatch.dashboards.auth import Accounts


def test_first_admin_from_stdin_then_token(data_dir):
    runner = CliRunner()
    r = runner.invoke(app, ["users", "add", "chief", "--role", "admin", "--password-stdin"],
                      input="a long admin password\n")
    assert r.exit_code == 0, r.output
    assert "created admin chief" in r.output
    accounts = Accounts(data_dir)
    try:
        assert accounts.authenticate("chief", "a long admin password").role.value == "admin"
        assert accounts.authenticate("chief", "wrong") is None
    finally:
        accounts.close()
    listed = runner.invoke(app, ["users", "list"])
    assert "chief\tadmin\tactive" in listed.output
    token = runner.invoke(app, ["users", "token", "chief", "--label", "scripts"])
    assert token.exit_code == 0 and token.output.startswith("nw_")
    log = AuditLog(data_dir / "audit.sqlite")
    assert log.entries(action="user_add")[0].target == "chief"
    log.close()


def test_users_add_rejects_bad_input(data_dir):
    runner = CliRunner()
    short = runner.invoke(app, ["users", "add", "x", "--role", "admin", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    role = runner.invoke(app, ["users", "add", "x", "--role", "root", "--password-stdin"], input="long enough pw\n")
    assert role.exit_code == 1 and "roles: analyst, admin" in role.output
    runner.invoke(app, ["users", "add", "x", "--password-stdin"], input="long enough pw\n")
    dup = runner.invoke(app, ["users", "add", "x", "--password-stdin"], input="long enough pw\n")
    assert dup.exit_code == 1 and "already exists" in dup.output


def test_serve_binds_loopback_by_default():
    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "127.0.0.1" in r.output


def test_users_unlock_lifts_a_lock_and_is_audited(data_dir):
    from narcwatch.dashboards.throttle import LoginThrottle, Scope

    throttle = LoginThrottle(data_dir / "dashboard.sqlite")
    for _ in range(throttle.policy.max_failures):
        throttle.failure("chief", "10.1.1.1")
    assert throttle.locked("chief", "") is not None
    throttle.close()
    runner = CliRunner()
    r = runner.invoke(app, ["users", "unlock", "chief"])
    assert r.exit_code == 0 and r.output.strip() == "unlocked chief"
    assert runner.invoke(app, ["users", "unlock", "chief"]).output.strip() == "no lock on chief"
    throttle = LoginThrottle(data_dir / "dashboard.sqlite")
    assert throttle.locked("chief", "") is None and throttle.locks() == []
    assert not throttle.unlock(Scope.ADDRESS, "10.1.1.1")
    throttle.close()
    log = AuditLog(data_dir / "audit.sqlite")
    assert [e.target for e in log.entries(action="unlock")] == ["chief", "chief"]
    log.close()
