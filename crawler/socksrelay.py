"""A local SOCKS5 relay that lets Chromium use an authenticated SOCKS proxy.

Chromium speaks SOCKS5 but not its username/password method (RFC 1929), and Tor's
IsolateSOCKSAuth needs exactly those credentials to give every source its own circuits.
``SocksRelay`` listens on 127.0.0.1 without authentication, accepts CONNECT requests and
replays each one to the upstream proxy *with* the source's credentials, then pipes the
bytes. It never resolves a name and never connects anywhere but the upstream proxy: the
address the browser asked for (a domain name, as Chromium sends with ``socks5://``) is
passed through untouched, so DNS stays at the proxy. One relay per crawl (per source)
keeps the isolation of the Scrapy side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import Counter
from urllib.parse import unquote, urlsplit

__all__ = ["RelayError", "SocksRelay"]

log = logging.getLogger(__name__)

_HANDSHAKE_TIMEOUT = 30.0
_CHUNK = 64 * 1024
# RFC 1928 reply codes we send ourselves
_GENERAL_FAILURE, _CMD_UNSUPPORTED, _ATYP_UNSUPPORTED = 1, 7, 8


class RelayError(ValueError):
    """The upstream proxy URL cannot be relayed to."""


def _upstream(url: str) -> tuple[str, int, bytes | None, bytes | None]:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("socks5", "socks5h"):
        raise RelayError(f"upstream must be socks5h://, got {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise RelayError(f"bad upstream port in {parts.netloc!r}") from exc
    if not parts.hostname or not port:
        raise RelayError("upstream needs host and port")
    user = unquote(parts.username).encode() if parts.username is not None else None
    password = unquote(parts.password or "").encode() if parts.username is not None else None
    if user is not None and (len(user) > 255 or len(password or b"") > 255):
        raise RelayError("SOCKS credentials are limited to 255 bytes each")
    return parts.hostname, port, user, password


class SocksRelay:
    """``await relay.start()`` -> port of an unauthenticated SOCKS5 listener on 127.0.0.1."""

    def __init__(self, upstream_url: str) -> None:
        self.host, self.port_up, self.user, self.password = _upstream(upstream_url)
        self.port = 0
        self.stats: Counter[str] = Counter()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """What the browser is given: no credentials, remote DNS."""
        return f"socks5://127.0.0.1:{self.port}"

    async def start(self) -> int:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=256)
            self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> "SocksRelay":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- one client -----------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            target = await asyncio.wait_for(self._client_handshake(reader, writer), _HANDSHAKE_TIMEOUT)
            if target is None:
                return
            try:
                upstream, reply = await asyncio.wait_for(self._upstream_connect(target), _HANDSHAKE_TIMEOUT)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                self.stats["upstream_failed"] += 1
                log.debug("relay: upstream failed: %s", exc)
                await self._reply(writer, _GENERAL_FAILURE)
                return
            await self._reply(writer, reply)
            if reply != 0:
                self.stats[f"refused/{reply}"] += 1
                return
            self.stats["connected"] += 1
            await asyncio.gather(self._pipe(reader, upstream[1]), self._pipe(upstream[0], writer))
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            self.stats["client_failed"] += 1
        finally:
            for w in (writer, upstream[1] if upstream else None):
                if w is not None:
                    w.close()
            if task is not None:
                self._tasks.discard(task)

    async def _client_handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes | None:
        """Greeting and CONNECT request; returns the raw ATYP+address+port to replay upstream."""
        ver, n = await reader.readexactly(2)
        methods = await reader.readexactly(n)
        if ver != 5 or 0 not in methods:
            writer.write(b"\x05\xff")
            await writer.drain()
            self.stats["bad_greeting"] += 1
            return None
        writer.write(b"\x05\x00")
        await writer.drain()
        ver, cmd, _rsv, atyp = await reader.readexactly(4)
        if atyp == 3:
            (length,) = await reader.readexactly(1)
            addr = bytes([length]) + await reader.readexactly(length)
        elif atyp == 1:
            addr = await reader.readexactly(4)
        elif atyp == 4:
            addr = await reader.readexactly(16)
        else:
            await self._reply(writer, _ATYP_UNSUPPORTED)
            return None
        port = await reader.readexactly(2)
        if ver != 5 or cmd != 1:  # CONNECT only: no BIND, no UDP ASSOCIATE (nothing leaves as UDP)
            self.stats["unsupported_command"] += 1
            await self._reply(writer, _CMD_UNSUPPORTED)
            return None
        return bytes([atyp]) + addr + port

    async def _upstream_connect(self, target: bytes) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], int]:
        reader, writer = await asyncio.open_connection(self.host, self.port_up)
        try:
            if self.user is not None:
                writer.write(b"\x05\x01\x02")
                await writer.drain()
                ver, method = await reader.readexactly(2)
                if method != 2:
                    raise ValueError(f"upstream refused user/password auth (method {method})")
                pw = self.password or b""
                writer.write(b"\x01" + bytes([len(self.user)]) + self.user + bytes([len(pw)]) + pw)
                await writer.drain()
                _v, status = await reader.readexactly(2)
                if status != 0:
                    raise ValueError("upstream rejected the credentials")
            else:
                writer.write(b"\x05\x01\x00")
                await writer.drain()
                ver, method = await reader.readexactly(2)
                if method != 0:
                    raise ValueError(f"upstream wants authentication (method {method})")
            writer.write(b"\x05\x01\x00" + target)
            await writer.drain()
            ver, reply, _rsv, atyp = await reader.readexactly(4)
            # skip BND.ADDR and BND.PORT: the browser gets our own (zero) bound address
            if atyp == 1:
                await reader.readexactly(4 + 2)
            elif atyp == 4:
                await reader.readexactly(16 + 2)
            elif atyp == 3:
                (length,) = await reader.readexactly(1)
                await reader.readexactly(length + 2)
            else:
                raise ValueError(f"upstream replied with address type {atyp}")
        except BaseException:
            writer.close()
            raise
        return (reader, writer), reply

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
        writer.write(b"\x05" + bytes([code]) + b"\x00\x01" + b"\x00\x00\x00\x00" + struct.pack(">H", 0))
        with contextlib.suppress(OSError):
            await writer.drain()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(_CHUNK):
                writer.write(chunk)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()
