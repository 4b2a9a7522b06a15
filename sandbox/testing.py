"""Test helpers for any area: a pytest fixture and a small HTTP client that speaks SOCKS5.

Other areas' tests opt in with ``pytest_plugins = ["narcwatch.sandbox.testing"]`` in
their conftest and take the ``sandbox`` fixture (session-scoped, demo world, seed 1, no
faults) or build their own ``SandboxServer``. ``fetch()`` reaches onion URLs only through
the sandbox proxy (``socks5h`` semantics: the name is sent to the proxy, never resolved).
"""

from __future__ import annotations

import http.client
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from narcwatch.sandbox.server import SandboxServer
from narcwatch.sandbox.world import World

__all__ = ["Fetched", "SocksError", "fetch", "sandbox", "socks_connect"]


class SocksError(ConnectionError):
    def __init__(self, code: int) -> None:
        super().__init__(f"SOCKS5 refused the connection (reply {code})")
        self.code = code


def socks_connect(proxy: tuple[str, int], host: str, port: int, username: str | None = "test",
                  password: str | None = "test", timeout: float = 10.0) -> socket.socket:
    """A socket connected to ``host:port`` through a SOCKS5 proxy (domain-name ATYP)."""
    s = socket.create_connection(proxy, timeout=timeout)
    try:
        if username is not None:
            s.sendall(b"\x05\x01\x02")
        else:
            s.sendall(b"\x05\x01\x00")
        ver, method = s.recv(2)
        if method == 2:
            u, p = (username or "").encode(), (password or "").encode()
            s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
            if s.recv(2)[1] != 0:
                raise SocksError(-1)
        elif method != 0:
            raise SocksError(-2)
        name = host.encode()
        s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
        reply = b""
        while len(reply) < 10:
            chunk = s.recv(10 - len(reply))
            if not chunk:
                break
            reply += chunk
        if len(reply) < 2 or reply[1] != 0:
            raise SocksError(reply[1] if len(reply) > 1 else -3)
        return s
    except BaseException:
        s.close()
        raise


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def fetch(server: SandboxServer, url: str, method: str = "GET", body: bytes | None = None,
          cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None,
          username: str = "test", timeout: float = 10.0) -> Fetched:
    """One request; onion hosts go through ``server``'s SOCKS proxy, others directly."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    if host.endswith(".onion"):
        conn.sock = socks_connect(("127.0.0.1", server.socks_port), host, port, username, "pw", timeout)
    hdrs = dict(headers or {})
    if cookies:
        hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if body is not None:
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        got = {k.lower(): v for k, v in resp.getheaders()}
        jar = {}
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                jar[name.strip()] = rest.split(";", 1)[0]
        return Fetched(resp.status, got, data, jar)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """The demo world (seed 1), no faults, served for the whole test session."""
    with SandboxServer(World(seed=1, size="demo")) as server:
        yield server
