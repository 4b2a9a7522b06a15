"""Download handler for JavaScript sources: Chromium for rendered pages, httpx for the rest.

scrapy-playwright sends requests without ``meta["playwright"]`` to Scrapy's default
HTTP/1.1 handler, which cannot speak ``socks5h`` (remote DNS): for an onion source that
would be a leak, and the leak guard refuses it. This handler keeps the browser for the
pages that need it and sends every other request (a JSON API, an image) through the same
httpx handler the non-JS sources use.

Chromium cannot authenticate to SOCKS5, so its proxy is a :class:`SocksRelay` started
with the handler: an unauthenticated listener on 127.0.0.1 that replays every CONNECT
to ``NARCWATCH_BROWSER_UPSTREAM`` with this source's credentials (Tor stream isolation
per source, as on the httpx side). Names go to the proxy unresolved; Chromium is
additionally told to resolve nothing itself (``--host-resolver-rules``) and to keep
WebRTC off the network (see ``crawler.settings.CHROMIUM_ARGS``).

Pages are reused (``NARCWATCH_BROWSER_REUSE_PAGES``, on by default): scrapy-playwright
opens a new tab for every request and closes it after; a finished tab is instead kept
and the next rendered request navigates it, which saves Chromium a tab (and often a
renderer process) per page. A request that asks for its page
(``playwright_include_page``), brings one, or attaches page event handlers is left to
scrapy-playwright as before. At most ``PLAYWRIGHT_MAX_PAGES_PER_CONTEXT`` rendered
requests per context are in flight, so a request never waits for a tab slot that an
idle pooled tab holds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers._httpx import HttpxDownloadHandler
from scrapy.exceptions import NotConfigured
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from narcwatch.crawler.socksrelay import RelayError, SocksRelay

if TYPE_CHECKING:
    from playwright.async_api import Page
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

__all__ = ["BrowserDownloadHandler"]

log = logging.getLogger(__name__)


class BrowserDownloadHandler(ScrapyPlaywrightDownloadHandler):
    """``meta["playwright"]`` -> Chromium through the relay; anything else -> httpx."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._httpx = HttpxDownloadHandler.from_crawler(crawler)
        self.reuse_pages = crawler.settings.getbool("NARCWATCH_BROWSER_REUSE_PAGES", True)
        self._idle: dict[str, list[Page]] = {}  # context name -> tabs free for the next request
        self._slots: dict[str, asyncio.Semaphore] = {}
        upstream = crawler.settings.get("NARCWATCH_BROWSER_UPSTREAM") or None
        self.relay: SocksRelay | None = None
        if upstream:
            try:
                self.relay = SocksRelay(upstream)
            except RelayError as exc:
                raise NotConfigured(f"NARCWATCH_BROWSER_UPSTREAM: {exc}") from None
            if (self.config.launch_options or {}).get("proxy"):
                raise NotConfigured("PLAYWRIGHT_LAUNCH_OPTIONS has its own proxy and NARCWATCH_BROWSER_UPSTREAM is "
                                    "set: the browser would bypass the relay; set only one")

    async def _launch(self) -> None:
        if self.relay is not None:
            await self.relay.start()
            # the browser is launched lazily, on the first rendered page: the relay is up by then
            self.config.launch_options = {**(self.config.launch_options or {}), "proxy": {"server": self.relay.url}}
            self.stats.set_value("narcwatch/browser/relay_port", self.relay.port)
            log.info("browser proxy: relay %s -> %s:%d", self.relay.url, self.relay.host, self.relay.port_up)
        await super()._launch()

    @property
    def browser_proxy(self) -> str | None:
        """The proxy Chromium was (or will be) launched with; the leak guard checks it."""
        proxy = (self.config.launch_options or {}).get("proxy") or {}
        return proxy.get("server")

    async def download_request(self, request: Request, *args: Any) -> Response:  # type: ignore[override]
        if request.meta.get("playwright"):
            if self.relay is not None and not self.relay.port:
                raise NotConfigured("browser relay is not running")  # never launch Chromium unproxied
            self.stats.inc_value("narcwatch/browser/pages")
            if self.reuse_pages and self._poolable(request):
                return await self._maybe_future_from_coro(self._render_pooled(request))
            return await self._maybe_future_from_coro(self._download_request(request))
        return await self._httpx.download_request(request)

    @staticmethod
    def _poolable(request: Request) -> bool:
        meta = request.meta
        return not (meta.get("playwright_include_page") or meta.get("playwright_page")
                    or meta.get("playwright_page_event_handlers") or meta.get("playwright_context_kwargs"))

    async def _render_pooled(self, request: Request) -> Response:
        context = request.meta.setdefault("playwright_context", "default")
        slots = self._slots.setdefault(context, asyncio.Semaphore(max(1, self.config.max_pages_per_context or 8)))
        async with slots:
            idle = self._idle.setdefault(context, [])
            while idle:
                page = idle.pop()
                if not page.is_closed():
                    request.meta["playwright_page"] = page
                    self.stats.inc_value("narcwatch/browser/page_reused")
                    break
            request.meta["playwright_include_page"] = True  # scrapy-playwright leaves the tab open for us
            try:
                response = await self._download_request(request)
            except BaseException:
                page = request.meta.pop("playwright_page", None)
                if page is not None and not page.is_closed():
                    await page.close()  # a failed tab is not trusted again
                raise
            finally:
                request.meta.pop("playwright_include_page", None)
            page = request.meta.pop("playwright_page", None)
            if page is not None and not page.is_closed():
                idle.append(page)
            return response

    async def close(self) -> None:  # type: ignore[override]
        try:
            for pages in self._idle.values():
                for page in pages:
                    if not page.is_closed():
                        await page.close()
            self._idle.clear()
            await self._httpx.close()
            await super().close()
        finally:
            if self.relay is not None:
                for key, value in self.relay.stats.items():
                    self.stats.set_value(f"narcwatch/browser/relay/{key}", value)
                await self.relay.close()
