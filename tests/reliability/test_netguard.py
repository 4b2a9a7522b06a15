"""The loopback-only guard of the test run (``netguard_plugin``) really refuses and counts.

Destinations are documentation/reserved addresses (192.0.2.0/24 TEST-NET-1, ``.invalid``):
the guard refuses them before any packet or DNS query leaves, and a refusal is appended
to the session's violation log, which fails the test that caused it. Each case here
therefore removes its own lines from the log after checking them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from narcwatch.crawler import netguard


def _log_text() -> str:
    log = Path(os.environ[netguard.LOOPBACK_ENV])
    return log.read_text(encoding="utf-8") if log.exists() else ""


@pytest.fixture
def expect_violations() -> Iterator[Callable[[], list[str]]]:
    """``added()`` returns the log lines this test added; they are removed afterwards so the
    refusals it provokes on purpose do not fail it (anything else still does)."""
    before = _log_text()
    yield lambda: _log_text()[len(before):].splitlines()
    Path(os.environ[netguard.LOOPBACK_ENV]).write_text(before, encoding="utf-8")


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("api.localhost", True), ("::ffff:127.0.0.1", True), ("", True),
    ("192.0.2.1", False), ("10.0.0.1", False), ("::ffff:192.0.2.1", False), ("2001:db8::1", False),
    ("example.invalid", False), ("0.0.0.0", False), (b"127.0.0.1", True), (None, False),
])
def test_is_loopback_target(host, loopback: bool) -> None:
    assert netguard.is_loopback_target(host) is loopback


def test_guard_is_active_in_the_test_process() -> None:
    assert os.environ.get(netguard.LOOPBACK_ENV)
    assert netguard.installed()


@pytest.mark.parametrize("op, logged", [
    ("connect", "connect 192.0.2.1:80"), ("connect_ex", "connect_ex 192.0.2.1:80"), ("sendto", "sendto 192.0.2.1:53"),
    ("getaddrinfo", "getaddrinfo narcwatch-test.invalid"), ("gethostbyname", "gethostbyname narcwatch-test.invalid"),
    ("create_connection", "connect 192.0.2.1:80"),
])
def test_non_loopback_is_refused_and_logged(op: str, logged: str, expect_violations: Callable[[], list[str]]) -> None:
    with pytest.raises(OSError):
        if op == "getaddrinfo":
            socket.getaddrinfo("narcwatch-test.invalid", 80)
        elif op == "gethostbyname":
            socket.gethostbyname("narcwatch-test.invalid")
        elif op == "create_connection":
            socket.create_connection(("192.0.2.1", 80), timeout=1)
        elif op == "sendto":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"x", ("192.0.2.1", 53))
        else:
            with socket.socket() as s:
                s.settimeout(1)
                getattr(s, op)(("192.0.2.1", 80))
    (line,) = expect_violations()
    assert line == f"{os.getpid()} {logged}"


def test_loopback_traffic_passes() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        tx.sendto(b"ping", rx.getsockname())
        assert rx.recv(16) == b"ping"
    assert socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)


def test_child_processes_honour_the_guard(expect_violations: Callable[[], list[str]]) -> None:
    """A child that calls ``netguard.install()`` (as every crawl runner does) inherits the
    mode from the environment and reports into the same log."""
    code = ("import socket\nfrom narcwatch.crawler import netguard\nnetguard.install()\n"
            "s = socket.socket()\n"
            "try:\n    s.connect(('192.0.2.9', 80))\nexcept netguard.NonLoopbackRefused:\n    print('refused')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ)
    assert out.stdout.strip() == "refused", out.stderr
    (line,) = expect_violations()
    assert line.endswith(" connect 192.0.2.9:80") and not line.startswith(f"{os.getpid()} ")


def test_dark_names_are_counted_by_the_dark_guard_not_resolved(expect_violations: Callable[[], list[str]]) -> None:
    before = len(netguard.refused_lookups())
    with pytest.raises(netguard.DarkLookupRefused):
        socket.getaddrinfo("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz2345.onion", 80)
    assert netguard.refused_lookups()[before:] == ["abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz2345.onion"]
    assert expect_violations() == []  # refused before any resolver: not a packet
