"""The bulk load's writer process (``narcwatch.index.sqlite_writer``): what a caller sees
when it dies, when its SQL fails, when another connection writes meanwhile, and when the
caller stops early. ``test_sqlite_batching`` checks what a pipelined load writes; these
check that a failure loses nothing committed, leaves no process behind and can be
replayed."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from narcwatch.index.sqlite import SqliteStore
from narcwatch.index.sqlite_schema import BULK_DEFERRED
from narcwatch.index.sqlite_writer import WriterError

from .conftest import extraction, listing, week


def _batches(n: int) -> list[list[tuple[Any, Any]]]:
    return [[(listing("alpha", str(i), f"Etonitazene lot{i}", crawl="c1", at=week(0)),
              extraction("etonitazene", "nitazene", grams="5", usd="200"))] for i in range(n)]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers kill(0): it is gone once its parent reaped it
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] == "Z"


def _after_failure(s: SqliteStore, committed: int, others: int = 0) -> None:
    """The store is usable, the load finished (indexes back, full text complete), the
    groups answered before the failure are there, and replaying everything loses nothing."""
    names = {r[0] for r in s._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(BULK_DEFERRED) <= names
    assert s._db.execute("SELECT count(*) FROM bulk_load").fetchone()[0] == 0
    before = s.counts()["listings"] - others
    assert before >= committed
    s._db.execute("INSERT INTO docs_fts(docs_fts) VALUES ('integrity-check')")
    replayed = [e for g in s.ingest_many(_batches(6), group=1, bulk=True) for e in g]
    assert s.counts()["listings"] == 6 + others
    assert s.search("etonitazene", limit=10).total == 6
    news = [e for e in s.events(limit=100) if e.type.value == "NEW" and e.source == "alpha"]
    assert len(news) == 6 and len({e.id for e in news}) == 6
    # the replay planned only what was missing: a NEW event for each listing not committed before
    assert sorted(e.listing_key for e in replayed if e.type.value == "NEW") == [f"alpha:{i}" for i in range(before, 6)]


def test_a_killed_writer_fails_the_load_and_keeps_what_it_committed(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.sqlite")
    s.warm()
    run = s.ingest_many(_batches(6), group=1, bulk=True)
    first = next(run)  # group 1 is committed and answered; the writer has group 2
    assert [e.type.value for e in first if e.type.value == "NEW"] == ["NEW"]
    writer = s._writer
    assert writer is not None
    os.kill(writer.pid, signal.SIGKILL)
    with pytest.raises(sqlite3.OperationalError, match="bulk writer process ended"):
        list(run)
    assert _gone(writer.pid) and s._writer is None
    assert s.search("lot0").total == 1
    _after_failure(s, committed=1)
    s.close()


def test_a_failing_statement_in_the_writer_is_raised_as_its_own_error(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.sqlite")
    s._db.execute("CREATE TRIGGER refuse BEFORE INSERT ON docs WHEN new.key = 'alpha:3' "
                  "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END")
    with pytest.raises(sqlite3.IntegrityError, match="refused by a test trigger"):
        list(s.ingest_many(_batches(6), group=2, bulk=True))
    # groups {0,1} committed; {2,3} rolled back with the failing row; nothing after
    assert sorted(r[0] for r in s._db.execute("SELECT key FROM docs")) == ["alpha:0", "alpha:1"]
    s._db.execute("DROP TRIGGER refuse")
    _after_failure(s, committed=2)
    s.close()


def test_another_writer_during_a_pipelined_load_stops_it(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    s, other = SqliteStore(path), SqliteStore(path)
    run = s.ingest_many(_batches(6), group=1, bulk=True)
    next(run)
    other.ingest([(listing("beta", "1", "Carfentanil sample"), extraction("carfentanil", "fentanyl_analogue"))])
    with pytest.raises(sqlite3.OperationalError, match="another connection wrote"):
        list(run)
    assert other.search("carfentanil").total == 1
    _after_failure(s, committed=1, others=1)
    other.close()
    s.close()


def test_a_caller_that_stops_early_leaves_no_writer_behind(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "s.sqlite")
    run = s.ingest_many(_batches(6), group=1, bulk=True)
    next(run)
    writer = s._writer
    assert writer is not None
    run.close()  # GeneratorExit inside the load: the writer is stopped, the load finished
    assert _gone(writer.pid) and s._writer is None
    _after_failure(s, committed=1)
    s.close()


def test_a_writer_error_reaches_the_caller_as_an_operational_error() -> None:
    from narcwatch.index.sqlite_writer import _error

    assert isinstance(_error("OperationalError", "disk I/O error"), sqlite3.OperationalError)
    assert isinstance(_error("IntegrityError", "x"), sqlite3.IntegrityError)
    odd = _error("MemoryError", "out of memory")
    assert isinstance(odd, WriterError) and isinstance(odd, sqlite3.OperationalError)


def test_the_sender_queues_frames_bigger_than_the_pipe_while_the_child_is_not_reading() -> None:
    """A frame larger than the pipe is handed over without waiting for the reader (the
    planner goes on while the child commits); the reader gets every frame, in order."""
    import threading

    from narcwatch.index.sqlite_writer import _recv, _Sender

    r, w = os.pipe()
    with os.fdopen(w, "wb") as out, os.fdopen(r, "rb") as inp:
        sender = _Sender(out, budget=64 << 20)
        frames = [("ops", [("INSERT", [(i, "x" * 4_000_000)])]) for i in range(3)] + [("commit", 7)]
        putter = threading.Thread(target=lambda: [sender.put(f) for f in frames])
        putter.start()
        putter.join(timeout=60)
        assert not putter.is_alive(), "put waited for the reader"
        assert [_recv(inp) for _ in frames] == frames
        sender.close()
        assert not sender.stuck


def test_the_sender_raises_once_the_child_stopped_reading() -> None:
    from narcwatch.index.sqlite_writer import _Sender

    r, w = os.pipe()
    os.close(r)
    out = os.fdopen(w, "wb")
    sender = _Sender(out)
    sender.put(("ops", [("INSERT", [(1, "x" * 100_000)])]))  # queued: the thread's write fails
    sender._thread.join(timeout=60)  # and ends it
    assert not sender._thread.is_alive() and isinstance(sender.error, BrokenPipeError)
    with pytest.raises(BrokenPipeError):
        sender.put(("commit", 1))
    sender.close()
    assert not sender.stuck
    with contextlib.suppress(OSError):  # what the failed write left buffered cannot be flushed
        out.close()
