"""pytest plugin: no test may send a packet to (or resolve a name for) a non-loopback address.

Registered from ``tests/conftest.py``. In this process it wraps ``socket.connect``,
``connect_ex``, ``sendto`` and the resolver functions (``crawler.netguard``'s loopback
mode); child processes that call ``netguard.install()`` (every crawl runner) read the
same mode from ``NARCWATCH_NETGUARD_LOOPBACK`` and append their refusals to the file it
names. A test during which anything was refused fails, and the session fails with the
list. Chromium is a separate binary this cannot wrap: its proxying is tested in
tests/crawler (``direct_onion_connections() == []``) and tests/reliability/test_opsec.py.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from narcwatch.crawler import netguard

_LOG = Path(tempfile.gettempdir()) / f"narcwatch-netguard-{os.getpid()}.log"


def violations() -> list[str]:
    """Every refusal so far in this session, this process and its children alike."""
    try:
        return _LOG.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def pytest_configure(config: pytest.Config) -> None:
    _LOG.unlink(missing_ok=True)
    os.environ[netguard.LOOPBACK_ENV] = str(_LOG)
    netguard.install()  # dark-name guard + loopback-only mode, read from the env just set


@pytest.fixture(autouse=True)
def _no_packet_leaves() -> Iterator[None]:
    start = len(violations())
    yield
    new = violations()[start:]
    if new:
        pytest.fail("network guard: non-loopback destinations during this test:\n  " + "\n  ".join(new[:20]),
                    pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if violations() and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    found = violations()
    terminalreporter.write_line(f"network guard: {len(found)} non-loopback attempt(s) refused")
    for line in found[:50]:
        terminalreporter.write_line(f"  {line}")
