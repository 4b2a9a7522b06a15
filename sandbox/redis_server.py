"""A throwaway local ``redis-server`` for scale-out tests and benchmarks.

Real Redis (Debian's ``redis-server``), not a stand-in: on a free 127.0.0.1 port, with
no persistence, stopped when the block ends. Like the sandbox itself, it exists so the
Redis-backed crawl runs here exactly as it would against an operator's Redis.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["REDIS_SERVER", "local_redis"]

REDIS_SERVER = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_redis(workdir: Path, ready_timeout: float = 10.0) -> Iterator[str]:
    """Start ``redis-server`` in ``workdir``; yields its ``redis://127.0.0.1:PORT/0`` URL."""
    import redis

    if REDIS_SERVER is None:
        raise RuntimeError("redis-server not installed (Debian package redis-server)")
    port = _free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + ready_timeout
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
