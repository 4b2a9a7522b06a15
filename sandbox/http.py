"""A small asyncio HTTP/1.1 server: keep-alive, Host routing, and hooks for faults.

Hand-written rather than an ASGI stack because the faults need the wire: a dropped
connection, a body cut short of its Content-Length, a per-connection latency. A site is
any callable ``Request -> Response``; rendering is synchronous and cheap, the server only
awaits the socket and the configured delays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["Handler", "HttpListener", "Request", "Response", "html", "redirect", "text"]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 1024 * 1024


@dataclass
class Request:
    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int]
    host: str  # Host header without port, lower-case
    conn_id: int

    @property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookies
            return {}
        return {k: m.value for k, m in jar.items()}

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without answering
    truncate_to: int | None = None  # send only this many body bytes, then close


def html(body: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, body.encode("utf-8"), headers or [])


def text(body: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(status, body.encode("utf-8"), [], content_type)


def redirect(location: str, status: int = 302, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, b"", [("Location", location), *(headers or [])])


Handler = Callable[[Request], Response]


class HttpListener:
    """One listening socket on 127.0.0.1; ``route(request)`` picks the response."""

    def __init__(self, route: Handler, name: str, on_accept: Callable[[tuple[str, int]], "asyncio.Future[bool] | None"] | None = None,
                 latency: float = 0.0) -> None:
        self.route = route
        self.name = name
        self.on_accept = on_accept
        self.latency = latency
        self.port = 0
        self.requests = 0
        self.connections = 0
        # Requests being answered now, and the most ever at once, per Host: lets tests check
        # that a crawler keeps to its per-site concurrency limit.
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port, limit=_MAX_HEAD, backlog=512)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn_id = self.connections
        peer = writer.get_extra_info("peername") or ("?", 0)
        self._writers.add(writer)
        try:
            if self.on_accept is not None:
                allowed = self.on_accept(peer)
                if asyncio.isfuture(allowed) or asyncio.iscoroutine(allowed):
                    allowed = await allowed
                if not allowed:
                    return
            while True:
                req = await self._read(reader, peer, conn_id)
                if req is None:
                    return
                self.requests += 1
                host = req.host
                now = self.in_flight[host] = self.in_flight.get(host, 0) + 1
                self.max_in_flight[host] = max(now, self.max_in_flight.get(host, 0))
                try:
                    resp = await self._answer(req)
                finally:
                    self.in_flight[host] -= 1
                if resp.drop:
                    writer.transport.abort()
                    return
                keep = req.headers.get("connection", "").lower() != "close" and resp.truncate_to is None
                writer.write(self._head(resp, req.method, keep))
                body = resp.body if req.method != "HEAD" else b""
                if resp.truncate_to is not None:
                    writer.write(body[: resp.truncate_to])
                    await writer.drain()
                    writer.transport.abort()
                    return
                writer.write(body)
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return
        finally:
            self._writers.discard(writer)
            try:
                writer.close()
            except RuntimeError:  # loop shutting down
                pass

    async def _answer(self, req: Request) -> Response:
        """The route's response after its delay; counted in flight until then."""
        try:
            resp = self.route(req)
        except Exception as exc:  # noqa: BLE001 - a bug in a page must not kill the server
            resp = text(f"internal error: {type(exc).__name__}: {exc}", 500)
        delay = resp.delay + self.latency
        if delay > 0:
            await asyncio.sleep(delay)
        return resp

    @staticmethod
    def _head(resp: Response, method: str, keep: bool) -> bytes:
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {resp.status} {reason}", f"Content-Length: {len(resp.body)}",
                 f"Content-Type: {resp.content_type}", "Server: nginx", "Connection: " + ("keep-alive" if keep else "close")]
        lines += [f"{k}: {v}" for k, v in resp.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")

    @staticmethod
    async def _read(reader: asyncio.StreamReader, peer: tuple[str, int], conn_id: int) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise ValueError("bad request line")
        method, target, _ = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length < 0 or length > _MAX_BODY:
            raise ValueError("body too large")
        body = await reader.readexactly(length) if length else b""
        split = urlsplit(target)
        path = unquote(split.path) or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        host = headers.get("host", "").rsplit(":", 1)[0].lower() if not headers.get("host", "").startswith("[") else ""
        return Request(method.upper(), target, path, query, headers, body, peer, host, conn_id)
