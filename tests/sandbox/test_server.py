"""The server, the SOCKS proxy and leak detection, against real sockets on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from narcwatch.sandbox import SandboxServer, World
from narcwatch.sandbox.ids.onion import valid_onion_v3
from narcwatch.sandbox.testing import SocksError, fetch, socks_connect

pytestmark = pytest.mark.server


def test_sources_have_the_documented_addresses(sandbox: SandboxServer) -> None:
    for s in sandbox.sources:
        if s.network == "tor":
            assert s.base_url.startswith("http://") and s.host.endswith(".onion")
            assert len(s.host) == 62 and valid_onion_v3(s.host)
        else:
            assert s.base_url.startswith("http://127.0.0.1:")
    assert sandbox.socks_url.startswith("socks5h://") and sandbox.socks_url.endswith(f":{sandbox.socks_port}")


def test_onion_reached_through_socks_and_credentials_recorded(sandbox: SandboxServer) -> None:
    market = sandbox.source("velvet-market")
    r = fetch(sandbox, market.base_url, username="isolation-42")
    assert r.status == 200 and "Velvet Bazaar" in r.text
    rec = [x for x in sandbox.proxy_log if x.username == "isolation-42"]
    assert rec and rec[-1].host == market.host and rec[-1].ok and rec[-1].upstream_local is not None


def test_onion_name_does_not_resolve_outside_the_proxy(sandbox: SandboxServer) -> None:
    host = sandbox.source("velvet-market").host
    with pytest.raises(OSError):
        socket.getaddrinfo(host, 80)


def test_direct_connection_to_onion_listener_is_refused_and_recorded() -> None:
    with SandboxServer(World(seed=1, size="tiny"), grace=0.05) as server:
        assert server.direct_onion_connections() == []
        assert server.onion_listener is not None
        with socket.create_connection(("127.0.0.1", server.onion_listener.port), timeout=5) as c:
            local = c.getsockname()
            c.sendall(b"GET / HTTP/1.1\r\nHost: " + server.source("velvet-market").host.encode() + b"\r\n\r\n")
            assert c.recv(100) == b""  # closed without a page
        assert (local[0], local[1]) in server.direct_onion_connections()
        fetch(server, server.source("velvet-market").base_url)  # a proxied request is not a leak
        assert len(server.direct_onion_connections()) == 1


@pytest.mark.parametrize(("host", "code"), [
    ("example.com", 2),  # clearnet through the Tor proxy: not allowed by ruleset
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.onion", 4),  # unknown onion: unreachable
])
def test_proxy_refuses_anything_but_sandbox_onions(sandbox: SandboxServer, host: str, code: int) -> None:
    with pytest.raises(SocksError) as err:
        socks_connect(("127.0.0.1", sandbox.socks_port), host, 80)
    assert err.value.code == code
    assert any(r.host == host and r.reply == code for r in sandbox.proxy_log)


def test_garbage_on_the_wire_does_not_kill_the_server(sandbox: SandboxServer) -> None:
    for blob in (b"\x05\xff\x00garbage", b"\x04\x01\x00\x50", b"GET / HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", sandbox.socks_port), timeout=5) as c:
            c.sendall(blob)
            c.shutdown(socket.SHUT_WR)  # a client that sends a fragment and hangs up
            c.recv(64)
    assert fetch(sandbox, sandbox.source("velvet-market").base_url).status == 200
