"""A SOCKS5 proxy (RFC 1928, RFC 1929 username/password) that plays Tor for the sandbox.

It resolves only the sandbox's onion names (domain-name ATYP, i.e. ``socks5h://``) to the
onion listener and refuses everything else, as Tor would refuse an unknown onion: an IP
literal, a clearnet name, an unknown ``.onion``, a market that is down. Every request is
recorded with the credentials offered (Tor uses them for stream isolation) and the local
(ip, port) of the upstream connection it opened, which is how the server tells proxied
connections from direct ones (``SandboxServer.direct_onion_connections``).
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ProxyRecord", "SocksProxy"]

# RFC 1928 reply codes
OK, GENERAL_FAILURE, NOT_ALLOWED, NET_UNREACHABLE, HOST_UNREACHABLE, REFUSED, TTL_EXPIRED, CMD_UNSUPPORTED, ATYP_UNSUPPORTED = range(9)


@dataclass(frozen=True)
class ProxyRecord:
    username: str | None
    password: str | None
    host: str
    port: int
    reply: int  # RFC 1928 reply code sent to the client
    upstream_local: tuple[str, int] | None  # the proxy's end of the connection it opened

    @property
    def ok(self) -> bool:
        return self.reply == OK


class SocksProxy:
    """``resolve(host, port)`` returns (ip, port) to connect to, or a reply code to refuse with."""

    def __init__(self, resolve: Callable[[str, int], tuple[str, int] | int], require_auth: bool = False) -> None:
        self.resolve = resolve
        self.require_auth = require_auth
        self.port = 0
        self.records: list[ProxyRecord] = []
        self.upstream_locals: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", port, backlog=512)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._tasks):
                t.cancel()
            await self._server.wait_closed()

    def _record(self, rec: ProxyRecord) -> None:
        with self._lock:
            self.records.append(rec)
            if rec.upstream_local:
                self.upstream_locals.add(rec.upstream_local)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        user = pw = None
        try:
            ver, nmethods = await reader.readexactly(2)
            methods = await reader.readexactly(nmethods)
            if ver != 5:
                return
            if 2 in methods:
                writer.write(b"\x05\x02")
                await writer.drain()
                sub, ulen = await reader.readexactly(2)
                user = (await reader.readexactly(ulen)).decode("utf-8", "replace")
                (plen,) = await reader.readexactly(1)
                pw = (await reader.readexactly(plen)).decode("utf-8", "replace")
                writer.write(b"\x01\x00")  # Tor accepts any credentials: they only isolate streams
            elif 0 in methods and not self.require_auth:
                writer.write(b"\x05\x00")
            else:
                writer.write(b"\x05\xff")
                await writer.drain()
                return
            await writer.drain()
            ver, cmd, _rsv, atyp = await reader.readexactly(4)
            if atyp == 3:
                (n,) = await reader.readexactly(1)
                host = (await reader.readexactly(n)).decode("ascii", "replace").lower()
            elif atyp == 1:
                host = ".".join(str(b) for b in await reader.readexactly(4))
            elif atyp == 4:
                raw = await reader.readexactly(16)
                host = ":".join(raw[i:i + 2].hex() for i in range(0, 16, 2))
            else:
                await self._reply(writer, ATYP_UNSUPPORTED)
                return
            (port,) = struct.unpack(">H", await reader.readexactly(2))
            if cmd != 1:
                self._record(ProxyRecord(user, pw, host, port, CMD_UNSUPPORTED, None))
                await self._reply(writer, CMD_UNSUPPORTED)
                return
            target = self.resolve(host, port) if atyp == 3 else NOT_ALLOWED
            if isinstance(target, int):
                self._record(ProxyRecord(user, pw, host, port, target, None))
                await self._reply(writer, target)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*target)
            except OSError:
                self._record(ProxyRecord(user, pw, host, port, HOST_UNREACHABLE, None))
                await self._reply(writer, HOST_UNREACHABLE)
                return
            local = up_writer.get_extra_info("sockname")
            self._record(ProxyRecord(user, pw, host, port, OK, (local[0], local[1])))
            await self._reply(writer, OK)
            await self._pipe(reader, writer, up_reader, up_writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, ValueError):
            pass  # a client that speaks garbage or hangs up is just gone
        finally:
            try:
                writer.close()
            except RuntimeError:
                pass

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
        writer.write(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
        await writer.drain()

    async def _pipe(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter,
                    ur: asyncio.StreamReader, uw: asyncio.StreamWriter) -> None:
        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                try:
                    if dst.can_write_eof():
                        dst.write_eof()
                except (OSError, RuntimeError):
                    pass

        a = asyncio.ensure_future(copy(cr, uw))
        b = asyncio.ensure_future(copy(ur, cw))
        for t in (a, b):
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
        await asyncio.gather(a, b, return_exceptions=True)
        uw.close()
