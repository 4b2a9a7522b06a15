"""Client-rendered markets (Nebula-style): render in Chromium, then read the app's own JSON API.

The HTML of such a market is an empty shell; the script reads a per-session token from
the page and pages through ``/api/listings?cursor=`` ("infinite scroll"), then fetches
``/api/listing/<id>`` and ``/api/vendor/<handle>``. This spider does what the script
does, with a real browser where the site insists on one:

1. the start page is rendered by Chromium (scrapy-playwright, through the source's
   proxy; a screenshot goes to the evidence archive). The profile's listing ``link``
   selector must find cards in the rendered DOM, else the source reports a health error
   (a redesign). The token and the session cookie are taken from the rendered page;
2. the API is then read over the ordinary (httpx, socks5h) path with that token: one
   request per 48 listings instead of one browser page per listing;
3. one listing page per crawl is also rendered and read with the profile's listing
   fields, as a canary: if the DOM stops matching the profile or disagrees with the API,
   the source gets a health error instead of quietly drifting;
4. a 401 (token or session expired) renders the start page again for a new token.

With ``render_all`` (spider argument, or the ``NARCWATCH_NEBULA_RENDER_ALL`` setting) every
listing page is rendered in Chromium instead (a screenshot of each as the analyst would
see it, read with the profile's fields); the API still supplies the index and vendors.
Slower by far, so off by default; the browser benchmark uses it.

Listings and vendors are keyed by the site's ids and point at the human URL
(``/item/<id>``, ``/vendor/<handle>``); their capture is the API response they came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote, urlencode, urljoin

import scrapy
from scrapy.http import Response
from scrapy_playwright.page import PageMethod

from narcwatch.crawler.models import Listing, Money, PriceTier, VendorProfile, listing_key, normalise_url
from narcwatch.crawler.spoolitems import ListingSeen
from narcwatch.spiders._fields import clean, parse_int, parse_money
from narcwatch.spiders.profile_spider import ProfileSpider

__all__ = ["NebulaSpider"]

PAGE_SIZE = 48  # the API's maximum
MAX_RENDERS = 20  # token refreshes per crawl before the source is reported broken
RENDER_WAIT_MS = 20_000  # the app's content must appear within this; else the render is retried
# the app's content is awaited with wait_for_selector; the "load" event adds nothing to that
_GOTO = {"wait_until": "domcontentloaded"}
_TOKEN_JS = "() => (document.querySelector('meta[name=\"nb-token\"]') || {}).content || ''"


def _s(value: Any, limit: int = 20_000) -> str:
    return clean(value if isinstance(value, str) else "" if value is None else str(value), limit)


def _css_of(fs: Any) -> str | None:
    """The element part of a profile field's CSS selector (``h1.t::text`` -> ``h1.t``)."""
    css = fs if isinstance(fs, str) else getattr(fs, "css", None)
    return css.split("::", 1)[0].strip() or None if css else None


def _money(value: Any) -> Money | None:
    if not isinstance(value, dict):
        return None
    try:
        return Money(amount=str(value.get("amount")), currency=str(value.get("currency") or ""))
    except ValueError:
        return None


class NebulaSpider(ProfileSpider):
    name = "nebula"
    cookie = "nb_sid"

    def __init__(self, *args: Any, render_all: bool | str = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.render_all = str(render_all).lower() in ("1", "true", "yes", "on")
        self.render_wait_ms = RENDER_WAIT_MS
        self.token = ""
        self.session: dict[str, str] = {}
        self.renders = 0
        self.canary_done = False

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> "NebulaSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.render_all = spider.render_all or crawler.settings.getbool("NARCWATCH_NEBULA_RENDER_ALL", False)
        spider.render_wait_ms = max(1000, crawler.settings.getint("NARCWATCH_NEBULA_RENDER_WAIT_MS", RENDER_WAIT_MS))
        return spider  # type: ignore[return-value]

    # rendering ---------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        yield self._render_start()

    @property
    def base(self) -> str:
        return self.source.start_urls[0]

    def _render_start(self, then: dict[str, Any] | None = None) -> scrapy.Request:
        self.renders += 1
        spec = self.profile.items[0]
        return scrapy.Request(
            self.base, callback=self.parse_shell, dont_filter=True,
            meta={"playwright": True, "playwright_include_page": True, "narcwatch_then": then,
                  "playwright_page_methods": [PageMethod("wait_for_selector", f"{spec.link}, #nb-end",
                                                         timeout=self.render_wait_ms)]},
            errback=self._render_failed)

    async def _render_failed(self, failure: Any) -> None:
        """A render that failed after the downloader's retries (a timeout is retried there,
        see ``crawler.settings``): close the page; the frontier already counts the failure."""
        page = failure.request.meta.pop("playwright_page", None)
        if page is not None:
            await page.close()
        self.crawler.stats.inc_value(f"narcwatch/nebula/render_failed/{type(failure.value).__name__}")

    async def parse_shell(self, response: Response) -> AsyncIterator[Any]:
        page = response.meta.get("playwright_page")
        try:
            if page is not None:
                self.token = str(await page.evaluate(_TOKEN_JS) or "")[:200]
                cookies = await page.context.cookies()
                self.session = {c["name"]: c["value"] for c in cookies if c.get("name") == self.cookie}
        finally:
            if page is not None:
                await page.close()
        self.index_pages += 1
        spec = self.profile.items[0]
        cards = response.css(spec.link).xpath("@href").getall()
        if not self.token or not self.session:
            self.ctx.health_error(f"profile {self.profile.name}: no session token on the rendered start page")
            return
        self.crawler.stats.inc_value("narcwatch/nebula/token")
        then = response.meta.get("narcwatch_then")
        if then is not None:  # a refresh after a 401: repeat the request that failed
            yield self._api(then["path"], then["callback"], then.get("cb_kwargs") or {})
            return
        if not cards:
            self.ctx.health_error(f"profile {self.profile.name}: rendered start page shows no listing card "
                                  f"({spec.link!r}; site redesign?)")
            return
        if not self.canary_done and not self.render_all:  # with render_all every listing is a canary
            self.canary_done = True
            title_css = _css_of(spec.fields.get("title")) or "h1"
            yield scrapy.Request(response.urljoin(cards[0]), callback=self.parse_canary, dont_filter=True,
                                 errback=self._render_failed,
                                 meta={"playwright": True, "playwright_page_methods": [
                                     PageMethod("wait_for_selector", title_css, timeout=self.render_wait_ms)]})
        yield self._api(f"/api/listings?{urlencode({'limit': PAGE_SIZE, 'cursor': 0})}", "parse_listings")

    def parse_canary(self, response: Response) -> Iterator[Any]:
        """The rendered listing page, read with the profile's fields, must agree with the API."""
        spec = self.profile.items[0]
        site_id = self._site_id(spec, response.url)
        item = self._build(spec, response, response.url, site_id)
        self.crawler.stats.inc_value("narcwatch/nebula/canary")
        if item is None:
            return  # _build reported which field stopped matching
        yield self._api(f"/api/listing/{quote(site_id or '', safe='')}", "parse_canary_api",
                        {"title": item.title})

    def parse_canary_api(self, response: Response, title: str) -> None:
        data = self._json(response)
        if isinstance(data, dict) and _s(data.get("title"), 5000) != title:
            self.ctx.health_error(f"profile {self.profile.name}: rendered title {title[:80]!r} differs from the "
                                  f"API's {_s(data.get('title'), 80)!r}")

    # the API --------------------------------------------------------------------------------
    def _api(self, path: str, callback: str, cb_kwargs: dict[str, Any] | None = None) -> scrapy.Request:
        return scrapy.Request(
            urljoin(self.base, path), callback=getattr(self, callback), cb_kwargs=cb_kwargs or {},
            headers={"X-NB-Token": self.token, "Accept": "application/json", "Referer": self.base},
            cookies=dict(self.session),
            meta={"playwright": False, "handle_httpstatus_list": [401], "narcwatch_api": callback})

    def _expired(self, response: Response, cb_kwargs: dict[str, Any] | None = None) -> Iterator[Any]:
        """401: the token or the session died; render the start page again, then repeat."""
        self.crawler.stats.inc_value("narcwatch/nebula/token_expired")
        if self.renders >= MAX_RENDERS:
            self.ctx.health_error(f"profile {self.profile.name}: {self.renders} token refreshes, still 401")
            return
        path = response.url.split("://", 1)[-1]
        path = "/" + path.split("/", 1)[1] if "/" in path else "/"
        yield self._render_start({"path": path, "callback": response.meta["narcwatch_api"],
                                  "cb_kwargs": cb_kwargs or {}})

    def _json(self, response: Response) -> Any:
        try:
            return json.loads(response.body[:16 * 1024 * 1024])
        except (ValueError, UnicodeDecodeError):
            self.crawler.stats.inc_value("narcwatch/nebula/bad_json")
            self.ctx.health_error(f"{response.url}: not JSON (API changed?)")
            return None

    def parse_listings(self, response: Response) -> Iterator[Any]:
        if response.status == 401:
            yield from self._expired(response)
            return
        data = self._json(response)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            return
        self.index_pages += 1
        items = [x for x in data["items"][:PAGE_SIZE * 2] if isinstance(x, dict)]
        for summary in items:
            yield from self._listing_link(summary)
        cursor = parse_int(str(response.url.rsplit("cursor=", 1)[-1])) or 0
        nxt = data.get("next")
        if nxt is None:
            return
        if not isinstance(nxt, int) or nxt <= cursor or not items:
            # an endless cursor: "more" that never advances or comes back empty (a pagination trap)
            self.crawler.stats.inc_value("narcwatch/trap/empty_page")
            return
        yield self._api(f"/api/listings?{urlencode({'limit': PAGE_SIZE, 'cursor': nxt})}", "parse_listings")

    def _listing_link(self, summary: dict[str, Any]) -> Iterator[Any]:
        sid = _s(summary.get("id"), 100)
        if not sid:
            return
        self.item_links_seen += 1
        url = urljoin(self.base, f"/item/{quote(sid, safe='')}")
        entry_fp = hashlib.sha256(json.dumps(summary, sort_keys=True, default=str).encode()).hexdigest()[:32]
        state = self.ctx.frontier.entry(normalise_url(url))
        if not self.ctx.record.full and state is not None and state.entry_fp == entry_fp:
            self.crawler.stats.inc_value("narcwatch/incremental/unchanged")
            yield ListingSeen(source=self.source.id, url=url, crawl_id=self.ctx.crawl_id,
                              listing_key=listing_key(self.source.id, sid, url))
        elif self.render_all:
            yield self._render_listing(url, entry_fp)
        else:
            yield self._api(f"/api/listing/{quote(sid, safe='')}", "parse_listing", {"entry_fp": entry_fp})
        vendor = _s(summary.get("vendor"), 200)
        if vendor:
            yield self._api(f"/api/vendor/{quote(vendor, safe='')}", "parse_vendor")

    def _render_listing(self, url: str, entry_fp: str) -> scrapy.Request:
        title_css = _css_of(self.profile.items[0].fields.get("title")) or "h1"
        return scrapy.Request(url, callback=self.parse_rendered_listing, cb_kwargs={"entry_fp": entry_fp},
                              errback=self._render_failed,
                              meta={"playwright": True, "playwright_page_goto_kwargs": _GOTO,
                                    "playwright_page_methods": [
                                        PageMethod("wait_for_selector", title_css, timeout=self.render_wait_ms)]})

    def parse_rendered_listing(self, response: Response, entry_fp: str) -> Iterator[Any]:
        """A listing page as Chromium rendered it, read with the profile's fields."""
        spec = self.profile.items[0]
        item = self._build(spec, response, response.url, self._site_id(spec, response.url))
        self.crawler.stats.inc_value("narcwatch/nebula/rendered_listing")
        if item is None:
            return  # _build counted and reported the field that stopped matching
        yield item
        self.ctx.frontier.save_entry(normalise_url(response.url), entry_fp, None, None)

    def parse_listing(self, response: Response, entry_fp: str) -> Iterator[Any]:
        if response.status == 401:
            yield from self._expired(response, {"entry_fp": entry_fp})
            return
        d = self._json(response)
        if not isinstance(d, dict) or not _s(d.get("id"), 100):
            return
        sid = _s(d.get("id"), 100)
        url = urljoin(self.base, f"/item/{quote(sid, safe='')}")
        price = _money(d.get("price"))
        tiers = []
        for t in (d.get("tiers") or [])[:100]:
            if isinstance(t, dict) and price is not None:
                m = parse_money(f"{t.get('price')} {price.currency}")
                if m is not None:
                    tiers.append(PriceTier(quantity=_s(t.get("quantity"), 100), price=m))
        capture = response.meta.get("narcwatch_capture") or ("", "")
        try:
            item = Listing(source=self.source.id, url=url, site_id=sid, crawl_id=self.ctx.crawl_id,
                           capture_id=capture[0], capture_sha256=capture[1], title=_s(d.get("title"), 5000),
                           vendor=_s(d.get("vendor"), 200) or None, category=_s(d.get("category"), 200) or None,
                           price=price, displayed_prices=[price] if price else [], tiers=tiers,
                           ships_from=_s(d.get("ships_from"), 500) or None, ships_to=_s(d.get("ships_to"), 2000) or None,
                           escrow=_s(d.get("escrow"), 100) or None, available=d.get("available") is not False,
                           description=d.get("description") if isinstance(d.get("description"), str) else "",
                           language=self.source.language)
        except ValueError as exc:
            self.crawler.stats.inc_value("narcwatch/items/invalid/listing")
            self.logger.warning("invalid listing %s: %s", response.url, exc)
            return
        if not item.title:
            self.crawler.stats.inc_value("narcwatch/health/missing/listing.title")
            self.ctx.health_error(f"{response.url}: listing without a title (API changed?)")
            return
        yield item
        self.ctx.frontier.save_entry(normalise_url(url), entry_fp, None, None)

    def parse_vendor(self, response: Response) -> Iterator[Any]:
        if response.status == 401:
            yield from self._expired(response)
            return
        v = self._json(response)
        if not isinstance(v, dict) or not _s(v.get("handle"), 200):
            return
        handle = _s(v.get("handle"), 200)
        capture = response.meta.get("narcwatch_capture") or ("", "")
        pgp = v.get("pgp") if isinstance(v.get("pgp"), str) else None
        try:
            yield VendorProfile(source=self.source.id, url=urljoin(self.base, f"/vendor/{quote(handle, safe='')}"),
                                site_id=handle, crawl_id=self.ctx.crawl_id, capture_id=capture[0],
                                capture_sha256=capture[1], handle=handle, pgp_key=pgp.strip() if pgp else None,
                                joined=_s(v.get("joined"), 100) or None, sales=parse_int(_s(v.get("sales"), 50)),
                                feedback=_s(v.get("feedback"), 100) or None,
                                description=v.get("about") if isinstance(v.get("about"), str) else "")
        except ValueError as exc:
            self.crawler.stats.inc_value("narcwatch/items/invalid/vendor")
            self.logger.warning("invalid vendor %s: %s", response.url, exc)
