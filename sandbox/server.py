"""``SandboxServer``: every sandbox source on 127.0.0.1, plus the SOCKS proxy that plays Tor.

Addressing (what a crawler is configured with):

* **Onion sources** (markets, forum) have ``base_url = http://<56-char v3 name>.onion/``.
  All of them are served by one *onion listener* on an ephemeral port that routes on the
  ``Host`` header. The name resolves only inside the sandbox's SOCKS5 proxy
  (``socks_url``, ``socks5h://`` so DNS happens at the proxy); the system resolver has no
  idea what it is, and the onion listener closes any connection the proxy did not open and
  records it as a leak (``direct_onion_connections()``).
* **Clearnet sources** (the Telegram preview host, the precursor shop) each get their own
  listener and ``base_url = http://127.0.0.1:<port>/...``: reachable directly, no proxy, no
  name resolution, no ``/etc/hosts`` edits. The Telegram host serves ``/s/<channel>`` like
  ``t.me`` does.

The event loop runs in a background thread; ``start()`` returns once every socket is bound.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from narcwatch.sandbox.clock import Clock
from narcwatch.sandbox.faults import FaultConfig, FaultEngine
from narcwatch.sandbox.http import HttpListener, Request, Response, text
from narcwatch.sandbox.sites import SITE_CLASSES
from narcwatch.sandbox.sites._base import Site
from narcwatch.sandbox.socks import HOST_UNREACHABLE, NOT_ALLOWED, ProxyRecord, SocksProxy
from narcwatch.sandbox.world import World

__all__ = ["SandboxServer", "SandboxSource"]


@dataclass(frozen=True)
class SandboxSource:
    id: str
    name: str
    kind: str  # market | forum | telegram | shop
    network: str  # tor | clearnet
    base_url: str
    profile: str
    language: str
    start_urls: tuple[str, ...]

    @property
    def host(self) -> str:
        return self.base_url.split("/")[2]

    def as_source(self) -> "object":
        """This source as the crawler's ``Source`` config model."""
        from narcwatch.crawler.models import Source
        return Source(id=self.id, name=self.name, kind=self.kind, network=self.network, profile=self.profile,
                      start_urls=list(self.start_urls), language=self.language,
                      render_js=self.profile == "sandbox_spa")


class SandboxServer:
    """Serve ``world`` with ``faults``; use as a context manager or ``start()``/``stop()``."""

    def __init__(self, world: World, faults: FaultConfig | None = None, *, clock: Clock | None = None,
                 require_login: bool = False, port: int = 0, socks_port: int = 0, grace: float = 0.5,
                 enforce_proxy: bool = True) -> None:
        self.world = world
        self.faults = FaultEngine(faults or FaultConfig())
        self.clock = clock or Clock()
        self.require_login = require_login
        self._want_port, self._want_socks = port, socks_port
        self._grace = grace
        self.enforce_proxy = enforce_proxy  # False only for benchmarks that fetch onion pages by Host header
        self.sites: list[Site] = [cls(world, self.clock, self.faults, require_login=require_login) for cls in SITE_CLASSES]
        self._onion_sites: dict[str, Site] = {}
        self._listeners: list[HttpListener] = []
        self.onion_listener: HttpListener | None = None
        self.proxy = SocksProxy(self._resolve)
        self._direct: list[tuple[str, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._sources: list[SandboxSource] = []

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "SandboxServer":
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="narcwatch-sandbox", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"sandbox failed to start: {self._error}") from self._error
        if not self._ready.is_set():
            raise RuntimeError("sandbox did not start within 30 s")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._aclose(), loop)
        try:
            fut.result(10)
        except Exception:  # noqa: BLE001 - stopping must not raise over a half-closed socket
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = self._loop = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._astart())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _astart(self) -> None:
        latency = 0.0  # per-response latency comes from FaultConfig.throttle_seconds
        check = self._check_onion_peer if self.enforce_proxy else None
        onion = HttpListener(self._route_onion, "onion", on_accept=check, latency=latency)
        await onion.start()
        self.onion_listener = onion
        self._listeners.append(onion)
        for site in self.sites:
            if site.network == "tor":
                site.host = self._onion_name(site)
                site.base_url = f"http://{site.host}/"
                self._onion_sites[site.host] = site
            else:
                listener = HttpListener(site, site.id, latency=latency)
                port = await listener.start(self._want_port + len(self._listeners) - 1 if self._want_port else 0)
                site.host = f"127.0.0.1:{port}"
                site.base_url = f"http://127.0.0.1:{port}/"
                self._listeners.append(listener)
        await self.proxy.start(self._want_socks)
        self._sources = [SandboxSource(s.id, s.name, s.kind, s.network, s.base_url, s.profile, s.language,
                                       tuple(s.start_urls())) for s in self.sites]

    async def _aclose(self) -> None:
        await self.proxy.close()
        for listener in self._listeners:
            await listener.close()

    def _onion_name(self, site: Site) -> str:
        if site.id in self.world.markets:
            return self.world.markets[site.id].onion
        return self.world.forum_onion

    # -- onion routing and leak detection -----------------------------------------------------------
    def _resolve(self, host: str, port: int) -> tuple[str, int] | int:
        site = self._onion_sites.get(host)
        if site is None:
            return HOST_UNREACHABLE if host.endswith(".onion") else NOT_ALLOWED
        market = self.world.markets.get(site.id)
        if market is not None and not market.up(self.clock.hours):
            return HOST_UNREACHABLE
        if port != 80 or self.onion_listener is None:
            return HOST_UNREACHABLE
        return ("127.0.0.1", self.onion_listener.port)

    async def _check_onion_peer(self, peer: tuple[str, int]) -> bool:
        deadline = time.monotonic() + self._grace
        key = (peer[0], peer[1])
        while True:
            if key in self.proxy.upstream_locals:
                return True
            if time.monotonic() >= deadline:
                self._direct.append(key)
                return False
            await asyncio.sleep(0.005)

    def _route_onion(self, req: Request) -> Response:
        site = self._onion_sites.get(req.host)
        if site is None:
            return text("unknown onion service", 404)
        return site(req)

    # -- public API ---------------------------------------------------------------------------------
    @property
    def sources(self) -> list[SandboxSource]:
        return list(self._sources)

    def source(self, source_id: str) -> SandboxSource:
        for s in self._sources:
            if s.id == source_id:
                return s
        raise KeyError(f"unknown sandbox source {source_id!r}; available: {', '.join(s.id for s in self._sources)}")

    def site(self, source_id: str) -> Site:
        for s in self.sites:
            if s.id == source_id:
                return s
        raise KeyError(f"unknown sandbox source {source_id!r}; available: {', '.join(s.id for s in self.sites)}")

    @property
    def socks_port(self) -> int:
        return self.proxy.port

    @property
    def socks_url(self) -> str:
        return f"socks5h://sandbox:sandbox@127.0.0.1:{self.proxy.port}"

    @property
    def proxy_log(self) -> list[ProxyRecord]:
        return list(self.proxy.records)

    def direct_onion_connections(self) -> list[tuple[str, int]]:
        """Peers that reached the onion listener without going through the SOCKS proxy (leaks)."""
        return list(self._direct)

    def fault_counts(self) -> dict[tuple[str, str], int]:
        return dict(self.faults.fired)

    def captcha_answer(self, source_id: str, challenge: str) -> str | None:
        return self.site(source_id).captcha_answer(challenge)

    def truth(self, hours: float | None = None) -> Iterator[dict[str, object]]:
        from narcwatch.sandbox.truth import iter_truth
        return iter_truth(self.world, self.clock.hours if hours is None else hours, sites=self.sites, faults=self.faults.config)

    @property
    def requests_served(self) -> int:
        return sum(listener.requests for listener in self._listeners)

    def __repr__(self) -> str:
        return f"SandboxServer(seed={self.world.seed}, size={self.world.size}, socks={self.socks_url})"
