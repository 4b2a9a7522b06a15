"""The audit log is append-only: SQL cannot change it, and an edit below SQL is found."""

from __future__ import annotations

import sqlite3

import pytest

from narcwatch.dashboards.audit import GENESIS, AuditLog


@pytest.fixture
def log(tmp_path):
    log = AuditLog(tmp_path / "audit.sqlite")
    for i, q in enumerate(["class:nitazene", "vendor:x", "<script>", "ü ✓ 漢字"]):
        log.record("ana", "search", q, n=i)
    yield log
    log.close()


def test_chain_links_rows(log):
    rows = list(reversed(log.entries()))
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert rows[0].prev == GENESIS and all(b.prev == a.hash for a, b in zip(rows, rows[1:]))
    assert log.verify() == (True, None, 4)
    assert rows[2].target == "<script>" and rows[3].details == {"n": 3}


@pytest.mark.parametrize("sql", ["UPDATE audit SET target='nothing' WHERE seq=2", "DELETE FROM audit WHERE seq=4",
                                 "DELETE FROM audit"])
def test_sql_cannot_edit_or_delete(log, sql):
    db = sqlite3.connect(log.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute(sql)
    db.close()
    assert log.verify() == (True, None, 4)


@pytest.mark.parametrize("tamper, bad_seq", [
    ("UPDATE audit SET target='class:cannabis' WHERE seq=1", 1),
    ("UPDATE audit SET user='someone-else' WHERE seq=3", 3),
    ("UPDATE audit SET details='{}' WHERE seq=4", 4),
    ("DELETE FROM audit WHERE seq=2", 3),
])
def test_edit_below_the_triggers_is_detected(log, tamper, bad_seq):
    db = sqlite3.connect(log.path)
    db.executescript(f"DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; {tamper};")
    db.close()
    intact, seq, _ = log.verify()
    assert not intact and seq == bad_seq


def test_details_are_bounded(log):
    entry = log.record("ana", "search", "x" * 5000, blob="y" * 10_000)
    assert len(entry.target) == 1000 and "truncated" in log.entries(limit=1)[0].details
    assert log.verify()[0]


def test_no_route_can_change_the_audit_log(app):
    """The product has no write path to the audit log besides record(): no route mentions it."""
    from fastapi.routing import iter_route_contexts

    for r in iter_route_contexts(app.routes):
        if "audit" in (r.path or ""):
            assert r.methods == {"GET"} or r.methods == {"GET", "HEAD"}, r.path
