import sqlite3

import pytest
from narcwatch.crawler.sqlitetx import immediate


@pytest.fixture
def db(tmp_path):
    c = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    c.execute("CREATE TABLE t(x)")
    yield c
    c.close()


def test_commits_on_success(db):
    with immediate(db):
        db.execute("INSERT INTO t VALUES (1)")
    assert db.execute("SELECT count(*) FROM t").fetchone() == (1,)
    assert not db.in_transaction


@pytest.mark.parametrize("exc", [ValueError, KeyboardInterrupt])
def test_rolls_back_on_any_exception(db, exc):
    with pytest.raises(exc), immediate(db):
        db.execute("INSERT INTO t VALUES (1)")
        raise exc()
    assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert not db.in_transaction


def test_holds_the_write_lock_from_the_start(db, tmp_path):
    other = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None, timeout=0)
    with immediate(db):
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("COMMIT")
    other.close()
