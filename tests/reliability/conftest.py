"""Reliability fixtures: the hostile corpus (tests/fixtures/hostile) and a server that serves it.

The corpus module is loaded by path (the suite runs with ``--import-mode=importlib``).
The hostile server is a real HTTP server on 127.0.0.1 port 0; its index links every page
of the corpus, so the profile spider crawls all of them like a market's listing rows.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from narcwatch.crawler.config import Config
from narcwatch.crawler.models import Network, Source

HERE = Path(__file__).resolve().parent
CORPUS_FILE = HERE.parent / "fixtures" / "hostile" / "corpus.py"


def load_corpus() -> ModuleType:
    name = "narcwatch_tests_hostile_corpus"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CORPUS_FILE)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


# A profile in the markup of corpus.listing_page: index rows link to /item/<name>.
PROFILE = """\
name: hostile_local
kind: market
pagination: "a.next"
max_pages: 500
items:
  - type: listing
    link: "a.item"
    url_pattern: "/item/[^/]+$"
    site_id: "/item/([^/?#]+)"
    fields:
      title: {css: "h1.title ::text", required: true}
      price: "span.price::text"
      vendor: "a.vendor::text"
      description: "div.desc ::text"
"""


@dataclass
class HostileServer:
    port: int
    pages: dict[str, tuple[bytes, str, str | None]]
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def _large(corpus: ModuleType, name: str) -> tuple[bytes, str, str | None]:
    if name == "big-50mb":
        filler = ("<p>" + "fictional filler text " * 40 + "</p>") * (50 * 1024 * 1024 // 900)
        return corpus.listing_page(1, "Big page", "x").replace("</body>", filler + "</body>").encode(), "text/html", None
    if name == "gzip-bomb":
        return corpus.gzip_bomb(256), "text/html; charset=utf-8", "gzip"
    if name == "deep-nesting":
        deep = "<div>" * 100_000 + "<h1 class='title'>Deep listing</h1><div class='desc'>deep</div>" + "</div>" * 100_000
        return f"<html><body>{deep}</body></html>".encode(), "text/html; charset=utf-8", None
    raise KeyError(name)


def serve_hostile(corpus: ModuleType, large: bool = True,
                  set_cookie: bool = False) -> tuple[ThreadingHTTPServer, HostileServer]:
    pages = {p.name: (p.body, p.content_type, p.encoding) for p in corpus.PAGES}
    names = list(pages) + (list(corpus.LARGE) if large else [])
    index = ("<html><body><ul>" + "".join(f"<li><a class='item' href='/item/{n}'>{n}</a></li>" for n in names)
             + "</ul></body></html>").encode()
    state = HostileServer(0, pages)
    cache: dict[str, tuple[bytes, str, str | None]] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            state.paths.append(self.path)
            name = self.path.rsplit("/", 1)[-1]
            if self.path == "/":
                body, ctype, enc = index, "text/html; charset=utf-8", None
            elif name in pages:
                body, ctype, enc = pages[name]
            elif name in corpus.LARGE:
                with lock:
                    if name not in cache:
                        cache[name] = _large(corpus, name)
                body, ctype, enc = cache[name]
            else:
                body, ctype, enc = b"not found", "text/plain", None
            self.send_response(200 if body != b"not found" else 404)
            self.send_header("Content-Type", ctype)
            if enc:
                self.send_header("Content-Encoding", enc)
            if set_cookie:  # a site cookie makes Scrapy's cookie middleware look up the public suffix
                self.send_header("Set-Cookie", "nw_session=fictional; Path=/")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:  # the crawler hung up on an oversized page: that is the point
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state


@pytest.fixture(scope="session")
def corpus() -> ModuleType:
    return load_corpus()


@pytest.fixture
def hostile_site(corpus: ModuleType, tmp_path: Path) -> Iterator[tuple[HostileServer, Config, Source]]:
    server, state = serve_hostile(corpus)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "hostile_local.yaml").write_text(PROFILE, encoding="utf-8")
    cfg = Config(data_dir=tmp_path / "data", profiles_dirs=[profiles])
    src = Source(id="hostile-local", network=Network.CLEARNET, profile="hostile_local", start_urls=[state.url],
                 concurrency=4, delay=0.0, autothrottle=False)
    yield state, cfg, src
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def hostile_server() -> Any:
    """``serve_hostile`` and ``PROFILE``, for module-scoped fixtures in this folder."""
    return serve_hostile, PROFILE
