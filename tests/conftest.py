"""Test-wide fixtures: a data directory per test, the real-data folder, free ports."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

# Fixtures shared by every area: the sandbox world (``sandbox``) and its SOCKS client.
pytest_plugins = ["narcwatch.sandbox.testing", "tests.reliability.netguard_plugin"]

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("NARCWATCH_DATA_DIR", str(d))
    return d


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` read in place; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server per test module (free port, no persistence)."""
    from narcwatch.sandbox.redis_server import REDIS_SERVER, local_redis

    if REDIS_SERVER is None:
        pytest.skip("redis-server not installed (Debian package redis-server)")
    with local_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url
