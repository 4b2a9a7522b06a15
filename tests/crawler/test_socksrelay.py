"""The browser's SOCKS relay against the sandbox's real SOCKS5 proxy and onion listener."""

from __future__ import annotations

import asyncio

import pytest

from narcwatch.crawler.socksrelay import RelayError, SocksRelay
from narcwatch.sandbox import SandboxServer, World
from narcwatch.sandbox.testing import socks_connect

pytestmark = [pytest.mark.server]


@pytest.fixture(scope="module")
def server():
    with SandboxServer(World(seed=3, size=200)) as srv:
        yield srv


async def _get(relay_port: int, host: str, path: str = "/") -> tuple[int, bytes]:
    """A raw unauthenticated SOCKS5 CONNECT by name (as Chromium does), then one HTTP GET."""
    reader, writer = await asyncio.open_connection("127.0.0.1", relay_port)
    try:
        writer.write(b"\x05\x01\x00")
        assert await reader.readexactly(2) == b"\x05\x00"
        name = host.encode()
        writer.write(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + (80).to_bytes(2, "big"))
        reply = await reader.readexactly(10)
        if reply[1] != 0:
            return reply[1], b""
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return 0, await reader.read(-1)
    finally:
        writer.close()


def test_relay_reaches_onion_with_source_credentials(server) -> None:
    host = server.source("velvet-market").host

    async def run() -> tuple[int, bytes, dict]:
        async with SocksRelay(f"socks5h://narcwatch-velvet:browser@127.0.0.1:{server.socks_port}") as relay:
            code, body = await _get(relay.port, host)
            return code, body, dict(relay.stats)

    code, body, stats = asyncio.run(run())
    assert code == 0 and body.startswith(b"HTTP/1.1 200"), body[:200]
    assert stats["connected"] == 1
    mine = [r for r in server.proxy_log if r.host == host and r.username == "narcwatch-velvet"]
    assert mine and all(r.password == "browser" for r in mine)  # isolation credentials reached the proxy
    assert server.direct_onion_connections() == []


@pytest.mark.parametrize("host, code", [
    pytest.param("example.com", 2, id="clearnet-name-refused-by-proxy"),
    pytest.param("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.onion", 4, id="unknown-onion"),
])
def test_relay_passes_refusals_through_and_resolves_nothing(server, host: str, code: int) -> None:
    async def run() -> int:
        async with SocksRelay(server.socks_url) as relay:
            return (await _get(relay.port, host))[0]

    assert asyncio.run(run()) == code


def test_relay_refuses_udp_associate(server) -> None:
    async def run() -> bytes:
        async with SocksRelay(server.socks_url) as relay:
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(b"\x05\x01\x00")
            await reader.readexactly(2)
            writer.write(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")  # UDP ASSOCIATE: WebRTC's way out
            reply = await reader.readexactly(10)
            writer.close()
            return reply

    assert asyncio.run(run())[1] == 7


@pytest.mark.parametrize("url", ["http://127.0.0.1:9050", "socks5h://127.0.0.1", "socks4://127.0.0.1:9050",
                                 f"socks5h://{'u' * 300}:p@127.0.0.1:9050"])
def test_relay_rejects_bad_upstream(url: str) -> None:
    with pytest.raises(RelayError):
        SocksRelay(url)


def test_sandbox_proxy_is_reachable_directly_for_comparison(server) -> None:
    """Sanity: the same onion through the sandbox helper (authenticated) works."""
    s = socks_connect(("127.0.0.1", server.socks_port), server.source("taiga-market").host, 80)
    s.close()
