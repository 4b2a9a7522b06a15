"""A bulk load's SQLite writes, run by a second process beside the planning in the first.

Why a process: planning a batch (documents, change detection, rows) is Python and holds
the GIL; executing its rows is SQLite, which releases the GIL only per row step, so a
writer *thread* would hand the GIL back and forth after every row. In a child process
the two run on two cores. The parent sends each batch's statements and rows, then
``commit`` once per group; the child runs them in one transaction per group and answers
every commit (or the first error, after which it rolls back and stops).

Protocol (``marshal`` frames with a 4-byte length over the child's stdin/stdout: rows are
tuples of str, bytes, int, float and None, which marshal writes 3.5x faster than pickle,
its memo being the cost; parent and child are the same interpreter):
``("open", path, pragmas)`` -> ``("opened",)`` first (the parent plans nothing before
it); then ``("ops", [(sql, rows), ...])``, ``("commit", token)`` -> ``("committed",
token, changelog_seq)``, ``("stop",)``. Any failure -> ``("error", exception class name,
message)``. The child refuses to write (``ConcurrentWrite``) when another connection
committed since it opened (``PRAGMA data_version``, checked at each BEGIN): the parent
planned against what it read, which would no longer be what is stored. The child is
started with ``python -m`` (no re-import of the parent's main module) and ends, rolling
back what it has not committed, when its parent's pipe closes.
"""

from __future__ import annotations

import marshal
import sqlite3
import struct
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any

__all__ = ["BulkWriter", "WriterError"]

_LEN = struct.Struct("<I")


class WriterError(sqlite3.OperationalError):
    """The writer process failed or died; the group it was writing is not committed."""


def _write_frame(out: IO[bytes], body: bytes) -> None:
    """One frame: the body's length, then the body (``_recv`` reads it back)."""
    out.write(_LEN.pack(len(body)))
    out.write(body)
    out.flush()


def _send(out: IO[bytes], msg: Any) -> None:
    _write_frame(out, marshal.dumps(msg))


class _Sender:
    """Writes the parent's frames to the child's stdin from a thread, up to ``budget`` bytes
    queued. Why: a batch's frame (~5 MB) is more than the pipe holds, so a direct write
    waits until the child has read it, which it does only between statements: while it
    commits a group and indexes its full text (1-2 s at 50,000 listings) the planner would
    stand still. Writing releases the GIL; the planner goes on with the next batch."""

    def __init__(self, out: IO[bytes], budget: int = 128 << 20):
        self._out, self._budget = out, budget
        self._frames: deque[bytes] = deque()
        self._queued = 0  # bytes in ``_frames``
        self._cv = threading.Condition()
        self.error: OSError | None = None  # the write that failed: the child is gone
        self._done = False
        self._thread = threading.Thread(target=self._run, name="bulk-writer-sender", daemon=True)
        self._thread.start()

    def put(self, msg: Any) -> None:
        """Queue ``msg`` (waiting while the budget is spent); the sender's error if it failed."""
        body = marshal.dumps(msg)
        with self._cv:
            while self._queued > self._budget and self.error is None:
                self._cv.wait()
            if self.error is not None:
                raise self.error
            self._frames.append(body)
            self._queued += len(body)
            self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._frames and not self._done:
                    self._cv.wait()
                if not self._frames:
                    return
                body = self._frames.popleft()
            try:
                _write_frame(self._out, body)
            except (OSError, ValueError) as e:  # the child closed its end (or ours is closed)
                with self._cv:
                    self.error = e if isinstance(e, OSError) else BrokenPipeError(str(e))
                    self._frames.clear()
                    self._queued = 0
                    self._cv.notify_all()
                return
            with self._cv:
                self._queued -= len(body)
                self._cv.notify_all()

    def close(self, last: Any = None) -> None:
        """Drop what is still queued, send ``last`` (if the child still reads), end the thread."""
        with self._cv:
            self._frames.clear()
            self._queued = 0
            if last is not None and self.error is None:
                self._frames.append(marshal.dumps(last))
            self._done = True
            self._cv.notify_all()
        self._thread.join(timeout=30)

    @property
    def stuck(self) -> bool:
        """Still writing after ``close``: the child is not reading (only its end ends the write)."""
        return self._thread.is_alive()


def _recv(inp: IO[bytes]) -> Any:
    head = inp.read(_LEN.size)
    if len(head) < _LEN.size:
        raise EOFError("pipe closed")
    size = _LEN.unpack(head)[0]
    body = inp.read(size)
    if len(body) < size:
        raise EOFError("pipe closed mid-frame")
    return marshal.loads(body)


class BulkWriter:
    """The parent's handle on a writer process for one store file."""

    def __init__(self, path: Path, pragmas: list[str]):
        self._proc = subprocess.Popen([sys.executable, "-m", "narcwatch.index.sqlite_writer"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in, self._out = self._proc.stdout, self._proc.stdin
        _widen(self._out)  # a batch's rows are ~5 MB: fewer hand-overs through the pipe
        self._sender = _Sender(self._out)
        self.pending = 0  # commits sent and not yet answered
        self._send(("open", str(path), pragmas))
        self._reply("opened")

    def _reply(self, kind: str) -> Any:
        try:
            msg = _recv(self._in)
        except (EOFError, OSError) as e:
            raise self._died() from e
        if msg[0] == "error":
            self.close()
            raise _error(msg[1], msg[2])
        assert msg[0] == kind, msg
        return msg

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _send(self, msg: Any) -> None:
        try:
            self._sender.put(msg)
        except OSError as e:
            raise self._died() from e

    def ops(self, ops: list[tuple[str, list[Any]]]) -> None:
        """Statements to run, in order, in the current group's transaction."""
        if ops:
            self._send(("ops", ops))

    def commit(self, token: Any) -> None:
        self._send(("commit", token))
        self.pending += 1

    def answer(self) -> tuple[Any, int]:
        """Wait for the next commit's answer: (token, changelog seq after it)."""
        msg = self._reply("committed")
        self.pending -= 1
        return msg[1], msg[2]

    def _died(self) -> sqlite3.Error:
        """The child is gone or stopped reading: its own error report if it left one."""
        try:
            msg = _recv(self._in)
        except (EOFError, OSError, ValueError):
            msg = None
        self.close()
        if msg is not None and msg[0] == "error":
            return _error(msg[1], msg[2])
        return WriterError(f"bulk writer process ended (exit {self._proc.returncode}); "
                           "its open group was not committed")

    def close(self) -> None:
        """Stop the child (a group not committed is rolled back) and reap it."""
        self._sender.close(("stop",) if self._proc.poll() is None else None)
        if self._sender.stuck:
            self._proc.kill()  # closing our end would wait on the blocked write's lock
        for stream in (self._out, self._in):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _widen(pipe: IO[bytes], size: int = 1 << 20) -> None:
    """Grow a pipe's kernel buffer (Linux ``F_SETPIPE_SZ``; 64 KiB by default) where allowed."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (OSError, ImportError, ValueError):
        pass  # not Linux, or above the system's pipe-max-size: the default buffer works, slower


def _error(name: str, message: str) -> sqlite3.Error:
    """The child's error as the parent's exception: the same sqlite3 class where there is one
    (callers treat ``OperationalError`` as "store unavailable, retry"), else ``WriterError``."""
    cls = getattr(sqlite3, name, None)
    if isinstance(cls, type) and issubclass(cls, sqlite3.Error):
        return cls(f"bulk writer: {message}")
    return WriterError(f"bulk writer: {name}: {message}")


class ConcurrentWrite(sqlite3.OperationalError):
    """Another connection wrote to the store during a pipelined bulk load."""


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """The child's loop (see the module docstring)."""
    db: sqlite3.Connection | None = None
    in_tx = False
    expected = -1
    try:
        while True:
            try:
                msg = _recv(inp)
            except EOFError:
                break  # the parent is gone: roll back below
            kind = msg[0]
            if kind == "open":
                db = sqlite3.connect(msg[1], isolation_level=None)
                for pragma in msg[2]:
                    db.execute(f"PRAGMA {pragma}")
                expected = _data_version(db)
                _send(out, ("opened",))
            elif kind == "ops":
                assert db is not None
                if not in_tx:
                    db.execute("BEGIN IMMEDIATE")
                    in_tx = True
                    if _data_version(db) != expected:
                        raise ConcurrentWrite("another connection wrote to the store during the bulk load")
                for sql, rows in msg[1]:
                    db.executemany(sql, rows)
            elif kind == "commit":
                assert db is not None
                if not in_tx:  # an empty group
                    db.execute("BEGIN IMMEDIATE")
                    in_tx = True
                seq = int(db.execute("SELECT coalesce(max(seq), 0) FROM changelog").fetchone()[0])
                db.execute("COMMIT")
                in_tx = False
                expected = _data_version(db)
                _send(out, ("committed", msg[1], seq))
            elif kind == "stop":
                break
    except BaseException as e:  # noqa: BLE001 - every failure is reported to the parent
        try:
            _send(out, ("error", type(e).__name__, str(e)))
        except OSError:
            pass
    finally:
        if db is not None:
            if in_tx:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            db.close()


def _data_version(db: sqlite3.Connection) -> int:
    """Changes when *another* connection commits (this connection's own commits leave it)."""
    return int(db.execute("PRAGMA data_version").fetchone()[0])


def main() -> None:
    import os

    out = os.fdopen(os.dup(1), "wb")  # the protocol's channel; stray prints go to stderr
    os.dup2(2, 1)
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
