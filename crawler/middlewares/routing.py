"""Routing: onion/I2P only through SOCKS with remote DNS; a leak guard that refuses the rest.

Two middlewares, two walls. ``RoutingMiddleware`` (before Scrapy's HttpProxyMiddleware)
chooses the route: a dark host, or any host of a Tor/I2P source, gets a ``socks5h://``
proxy picked stickily per site, with per-source SOCKS credentials so Tor's
IsolateSOCKSAuth gives every source its own circuits; repeated failures on a source
bump a circuit epoch (new credentials = new circuit) and send NEWNYM. ``LeakGuardMiddleware``
runs last, just before the download handler, and re-checks the final request: anything
that would reach a dark host other than through a configured ``socks5h`` proxy is
dropped with ``IgnoreRequest`` and counted under ``narcwatch/leak_guard/refused/<reason>``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached

from narcwatch.crawler.netguard import is_dark_host
from narcwatch.crawler.tor import TorController, control_password, parse_control

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["LeakGuardMiddleware", "RoutingMiddleware", "RoutingConfig"]

log = logging.getLogger(__name__)

DARK_NETWORKS = frozenset({"tor", "i2p"})
STATS = "narcwatch/route"
GUARD = "narcwatch/leak_guard/refused"
HANDLER_HTTPX = "scrapy.core.downloader.handlers._httpx.HttpxDownloadHandler"
HANDLER_PLAYWRIGHT = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
# Chromium via a local SOCKS relay to NARCWATCH_BROWSER_UPSTREAM; everything else via httpx
HANDLER_BROWSER = "narcwatch.crawler.playwright_handler.BrowserDownloadHandler"


def _endpoint(proxy_url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a proxy URL without credentials; None if unparsable."""
    try:
        parts = urlsplit(proxy_url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or not port:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


class RoutingConfig:
    """The ``NARCWATCH_*`` routing settings, parsed and checked once."""

    def __init__(self, settings: Any):
        self.source: str = settings.get("NARCWATCH_SOURCE_ID") or "default"
        self.network: str = (settings.get("NARCWATCH_NETWORK") or "clearnet").lower()
        self.socks_urls: list[str] = [u for u in settings.getlist("NARCWATCH_SOCKS_URLS") if u]
        self.clearnet_proxy: str | None = settings.get("NARCWATCH_CLEARNET_PROXY") or None
        self.isolate: bool = settings.getbool("NARCWATCH_ISOLATE_PER_SOURCE", True)
        self.new_circuit_after: int = max(1, settings.getint("NARCWATCH_NEW_CIRCUIT_AFTER", 5))
        self.control = parse_control(settings.get("NARCWATCH_TOR_CONTROL"))
        self.control_password: str | None = settings.get("NARCWATCH_TOR_CONTROL_PASSWORD") or None
        self.render_js: bool = settings.getbool("NARCWATCH_RENDER_JS", False)
        bad = [u for u in self.socks_urls if (_endpoint(u) or ("",))[0] != "socks5h"]
        if bad:
            raise ValueError(f"NARCWATCH_SOCKS_URLS must be socks5h:// (remote DNS); got {bad}")
        if self.network not in DARK_NETWORKS | {"clearnet"}:
            raise ValueError(f"NARCWATCH_NETWORK must be tor, i2p or clearnet; got {self.network!r}")

    @property
    def endpoints(self) -> set[tuple[str, int]]:
        return {(e[1], e[2]) for u in self.socks_urls if (e := _endpoint(u))}


class RoutingMiddleware:
    """Chooses the proxy of every request; see the module docstring."""

    def __init__(self, crawler: Crawler, cfg: RoutingConfig):
        self.crawler = crawler
        self.stats = crawler.stats
        self.cfg = cfg
        self.epoch = 0
        self.failures = 0
        password = cfg.control_password
        if cfg.control and password is None:  # tor.control_password names a secret
            password = control_password(crawler.settings.get("NARCWATCH_TOR_CONTROL_PASSWORD_SECRET"),
                                        crawler.settings.get("NARCWATCH_SECRETS_FILE"))
        self.controller = TorController(cfg.control[0], cfg.control[1], password) if cfg.control else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RoutingMiddleware":
        if not crawler.settings.getbool("NARCWATCH_ROUTING_ENABLED", True):
            raise NotConfigured("NARCWATCH_ROUTING_ENABLED is off")
        return cls(crawler, RoutingConfig(crawler.settings))

    # choice -----------------------------------------------------------------------------
    def socks_for(self, host: str) -> str | None:
        """The sticky proxy of a site, with this source's isolation credentials."""
        if not self.cfg.socks_urls:
            return None
        index = int.from_bytes(hashlib.sha256(host.encode()).digest()[:4], "big") % len(self.cfg.socks_urls)
        parts = urlsplit(self.cfg.socks_urls[index])
        if not self.cfg.isolate or parts.username:
            return parts.geturl()
        user, password = quote(f"narcwatch-{self.cfg.source}"), quote(f"circuit-{self.epoch}")
        return parts._replace(netloc=f"{user}:{password}@{parts.netloc}").geturl()

    def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        dark = is_dark_host(host) or self.cfg.network in DARK_NETWORKS
        if dark:
            proxy = self.socks_for(host)
            if proxy is None:
                self._refuse(request, "no_socks_proxy")
            request.meta["proxy"] = proxy
            request.meta["narcwatch_route"] = "socks"
            self.stats.inc_value(f"{STATS}/socks")
        else:
            # An explicit None also stops HttpProxyMiddleware from picking up *_proxy env vars.
            request.meta["proxy"] = self.cfg.clearnet_proxy
            request.meta["narcwatch_route"] = "clearnet"
            self.stats.inc_value(f"{STATS}/clearnet")
        if self.cfg.render_js and request.meta.get("playwright") is None:
            request.meta["playwright"] = True

    def _refuse(self, request: Request, reason: str) -> None:
        self.stats.inc_value(f"{GUARD}/{reason}")
        self.stats.inc_value(GUARD)
        log.error("leak guard: refused %s (%s)", request.url, reason)
        raise IgnoreRequest(f"leak guard: {reason}: {request.url}")

    # circuit renewal ------------------------------------------------------------------
    def process_response(self, request: Request, response: Response) -> Response:
        if response.status < 500 and response.status != 429:
            self.failures = 0
        else:
            self._failed(request)
        return response

    def process_exception(self, request: Request, exception: BaseException) -> None:
        if not isinstance(exception, IgnoreRequest):
            self._failed(request)

    def _failed(self, request: Request) -> None:
        if request.meta.get("narcwatch_route") != "socks":
            return
        self.failures += 1
        if self.failures < self.cfg.new_circuit_after:
            return
        self.failures = 0
        self.epoch += 1
        self.stats.inc_value(f"{STATS}/new_circuit")
        log.info("source %s: %d failures, switching to circuit epoch %d", self.cfg.source,
                 self.cfg.new_circuit_after, self.epoch)
        if self.controller is not None:
            ok = self.controller.new_circuit()
            self.stats.inc_value(f"{STATS}/newnym/{'ok' if ok else 'failed'}")


class LeakGuardMiddleware:
    """Last check before the download handler: a dark request leaves only via our socks5h proxies."""

    def __init__(self, crawler: Crawler, cfg: RoutingConfig):
        self.stats = crawler.stats
        self.cfg = cfg
        handlers = {**crawler.settings.getdict("DOWNLOAD_HANDLERS_BASE"), **crawler.settings.getdict("DOWNLOAD_HANDLERS")}
        self.handlers = {scheme: handlers.get(scheme) for scheme in ("http", "https")}
        self.browser_proxy = _endpoint(str(
            (crawler.settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS").get("proxy") or {}).get("server", "")))
        self.browser_upstream = _endpoint(str(crawler.settings.get("NARCWATCH_BROWSER_UPSTREAM") or ""))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "LeakGuardMiddleware":
        # Deliberately not switchable: the guard is what makes a misconfiguration harmless.
        mw = cls(crawler, RoutingConfig(crawler.settings))
        crawler.signals.connect(mw._opened, signal=signals.spider_opened)
        return mw

    def _opened(self) -> None:
        self.stats.set_value(GUARD, 0)

    def check(self, request: Request) -> str | None:
        """Why this request must not be sent, or None if it may."""
        parsed = urlparse_cached(request)
        host = parsed.hostname or ""
        if not (is_dark_host(host) or self.cfg.network in DARK_NETWORKS):
            return None
        if parsed.scheme not in ("http", "https"):
            return "scheme"
        handler = self.handlers.get(parsed.scheme)
        if request.meta.get("playwright"):
            if handler not in (HANDLER_PLAYWRIGHT, HANDLER_BROWSER):
                return "no_browser_handler"
            # the relay handler refuses to start with a launch proxy of its own, so its upstream is the route
            proxy = self.browser_upstream if handler == HANDLER_BROWSER else self.browser_proxy
            if proxy is None or proxy[0] not in ("socks5", "socks5h") or (proxy[1], proxy[2]) not in self.cfg.endpoints:
                return "browser_not_proxied"
            return None
        if handler not in (HANDLER_HTTPX, HANDLER_BROWSER):
            return "handler_without_socks5h"  # Scrapy's default handler cannot do remote-DNS SOCKS
        proxy = request.meta.get("proxy")
        end = _endpoint(str(proxy)) if proxy else None
        if end is None:
            return "no_socks_proxy"
        if end[0] != "socks5h":
            return "not_socks5h"
        if (end[1], end[2]) not in self.cfg.endpoints:
            return "unknown_proxy"
        return None

    def process_request(self, request: Request) -> None:
        reason = self.check(request)
        if reason is not None:
            self.stats.inc_value(f"{GUARD}/{reason}")
            self.stats.inc_value(GUARD)
            log.error("leak guard: refused %s (%s)", request.url, reason)
            raise IgnoreRequest(f"leak guard: {reason}: {request.url}")
