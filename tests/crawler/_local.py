"""Local stand-ins used until/besides the sandbox: a tiny fictional market and a SOCKS5 proxy.

Both are real servers on 127.0.0.1 port 0 (threads): the crawler talks real HTTP and
real SOCKS5 to them. The SOCKS server maps ``*.onion`` names to the market, as Tor
would resolve them remotely, and records every CONNECT so tests can prove onion names
arrived as names (remote DNS) with per-source credentials.
"""

from __future__ import annotations

import html
import select
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ONION = "marketabcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqr.onion"  # fictional, 56 chars
assert len(ONION) == 62


class Market:
    """``/`` lists ``per_page`` listings a page with a next link; ``/item/N`` is a listing."""

    def __init__(self, n: int = 25, per_page: int = 10):
        self.n, self.per_page = n, per_page
        self.prices = {i: 100 + i for i in range(1, n + 1)}
        self.hits: list[str] = []
        self.redesigned = False

    def page(self, path: str) -> tuple[int, str]:
        self.hits.append(path)
        if path.startswith("/item/"):
            try:
                i = int(path.rsplit("/", 1)[1])
            except ValueError:
                return 404, "no"
            if not 1 <= i <= self.n:
                return 404, "gone"
            title_cls = "name" if self.redesigned else "title"
            return 200, (f"<html><body><h1 class='{title_cls}'>Fictional product {i}</h1>"
                         f"<span class='price'>${self.prices[i]}.00</span><a class='vendor'>vendor{i % 3}</a>"
                         f"<div class='desc'>Lorem ipsum {i}</div></body></html>")
        page = 1
        if "page=" in path:
            try:
                page = int(path.split("page=", 1)[1].split("&", 1)[0])
            except ValueError:
                page = 1
        lo = (page - 1) * self.per_page + 1
        rows = "".join(f"<li class='row'><a class='item' href='/item/{i}'>Product {i}</a> "
                       f"<b>${self.prices[i]}</b></li>" for i in range(lo, min(self.n, lo + self.per_page - 1) + 1))
        nxt = f"<a class='next' href='/?page={page + 1}'>next</a>" if lo + self.per_page <= self.n else ""
        return 200, f"<html><body><ul>{rows}</ul>{nxt}</body></html>"


def serve_market(market: Market) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            status, body = market.page(self.path)
            self.send_response(status)
            if status in (301, 302, 303, 307, 308):  # a redirect's "body" is its Location
                self.send_header("Location", body)
                body = ""
            data = body.encode()
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@dataclass
class Socks5:
    target_port: int
    connects: list[tuple[str, int, str, int]] = field(default_factory=list)  # (host, port, user, atyp)
    server: socketserver.ThreadingTCPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"socks5h://127.0.0.1:{self.server.server_address[1]}"


def serve_socks(target_port: int) -> Socks5:
    state = Socks5(target_port)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            c: socket.socket = self.request
            try:
                ver, nmethods = c.recv(2)
                methods = c.recv(nmethods)
                user = ""
                if 2 in methods:
                    c.sendall(b"\x05\x02")
                    _, ulen = c.recv(2)
                    user = c.recv(ulen).decode()
                    plen = c.recv(1)[0]
                    c.recv(plen)
                    c.sendall(b"\x01\x00")
                else:
                    c.sendall(b"\x05\x00")
                _, cmd, _, atyp = c.recv(4)
                if atyp == 3:
                    host = c.recv(c.recv(1)[0]).decode()
                elif atyp == 1:
                    host = socket.inet_ntoa(c.recv(4))
                else:
                    return
                port = struct.unpack(">H", c.recv(2))[0]
                state.connects.append((host, port, user, atyp))
                if host.endswith(".onion"):
                    dest = ("127.0.0.1", state.target_port)  # "Tor" resolves the onion remotely
                elif host == "127.0.0.1":
                    dest = (host, port)
                else:
                    c.sendall(b"\x05\x04\x00\x01" + b"\x00" * 6)
                    return
                up = socket.create_connection(dest)
                c.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", dest[1]))
                pipe(c, up)
            except (OSError, ValueError):
                return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.server = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state


def pipe(a: socket.socket, b: socket.socket) -> None:
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 30)
            if not r:
                return
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    finally:
        b.close()


PROFILE = """
name: localmarket
kind: market
pagination: "a.next"
max_pages: 50
items:
  - type: listing
    link: "a.item"
    entry: "li.row"
    url_pattern: "/item/\\\\d+$"
    site_id: "/item/(\\\\d+)"
    fields:
      title: {css: "h1.title::text", required: true}
      price: ".price::text"
      vendor: "a.vendor::text"
      description: ".desc::text"
"""


def escape(s: str) -> str:
    return html.escape(s)
