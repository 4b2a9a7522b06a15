"""The declarative spider: one class runs every YAML site profile.

Index pages (start URLs, category links, pagination) yield requests for item pages;
item pages yield Listing / Post / VendorProfile items stamped with their capture. On
an incremental recrawl an item page is requested only if its index entry changed (or
this is a full-refresh crawl); unchanged ones are reported as ``listing_seen``. A
selector that stops matching (a redesign) becomes a per-source health error and makes
the crawl incomplete, instead of a quiet crawl with nothing in it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import scrapy
from parsel import Selector, SelectorList
from scrapy.http import Response
from scrapy.utils.request import request_from_dict

from narcwatch.crawler.context import get_context
from narcwatch.crawler.models import Listing, Post, Source, VendorProfile, listing_key, normalise_url
from narcwatch.crawler.netguard import is_dark_host
from narcwatch.crawler.spoolitems import CandidateSource, ListingSeen
from narcwatch.spiders._fields import ONION_RE, clean, parse_int, parse_money, parse_when
from narcwatch.spiders.profile import FieldSpec, ItemSpec, Profile, ProfileRegistry

__all__ = ["ProfileSpider"]

_MAX_FIELD = 200_000
# Stock text that means "not available", in the languages of the profiled sites.
_SOLD_OUT = re.compile(r"(?i)out of stock|sold out|unavailable|нет в наличии|закончил|распродан")


def _select(root: Selector | Response, fs: FieldSpec | str) -> list[str]:
    spec = FieldSpec(css=fs) if isinstance(fs, str) else fs
    sel: SelectorList[Any] = root.xpath(spec.xpath) if spec.xpath else root.css(spec.css or "")
    values = [v for v in sel.getall() if v is not None]
    if spec.re:
        out = []
        for v in values:
            m = re.search(spec.re, v[:_MAX_FIELD])
            if m:
                out.append(m.group(1) if m.groups() else m.group(0))
        values = out
    return values


class ProfileSpider(scrapy.Spider):
    name = "profile"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.source: Source
        self.profile: Profile
        self.item_links_seen = 0
        self.index_pages = 0

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> "ProfileSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        spider.source = Source(**s.getdict("NARCWATCH_SOURCE"))
        registry = ProfileRegistry(s.getlist("NARCWATCH_PROFILES_DIRS"))
        spider.profile = registry[spider.source.profile]
        spider.ctx = get_context(crawler)
        hosts = {urlsplit(u).hostname or "" for u in spider.source.start_urls} | set(spider.profile.allowed_hosts)
        spider.allowed_domains = sorted(h for h in hosts if h)
        crawler.signals.connect(spider._check_health, signal=scrapy.signals.spider_idle)
        return spider

    # start -------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        if self.ctx.record.resumed:
            for data in self.ctx.frontier.pending():
                try:
                    yield request_from_dict(data, spider=self)
                except (ValueError, KeyError, TypeError):
                    continue
        for url in self.source.start_urls:
            yield scrapy.Request(url, callback=self.parse_index, meta={"narcwatch_index_page": 1})

    # index pages ---------------------------------------------------------------------------
    def parse_index(self, response: Response) -> Iterator[Any]:
        if not hasattr(response, "css"):
            self.ctx.health_error(f"{response.url}: not an HTML page")
            return
        self.index_pages += 1
        page_no = int(response.meta.get("narcwatch_index_page", 1))
        found = 0  # links and items this page gave: a paginated page with none ends its chain
        for css in self.profile.index_pages:
            for href in response.css(css).xpath("@href").getall()[:1000]:
                found += 1
                yield response.follow(href, callback=self.parse_index, meta={"narcwatch_index_page": 1})
        for i, spec in enumerate(self.profile.items):
            produced = self._inline_items(response, spec) if spec.link == "self" else self._item_links(response, spec, i)
            for out in produced:
                found += 1
                yield out
        if self.profile.pagination:
            nxt = response.css(self.profile.pagination).xpath("@href").get()
            if nxt:
                if page_no >= self.profile.max_pages:
                    self.crawler.stats.inc_value("narcwatch/trap/max_pages")
                elif page_no > 1 and not found:
                    # a "next" link on a page with nothing on it: past the end (a pagination trap)
                    self.crawler.stats.inc_value("narcwatch/trap/empty_page")
                else:
                    yield response.follow(nxt, callback=self.parse_index, meta={"narcwatch_index_page": page_no + 1})

    def _item_links(self, response: Response, spec: ItemSpec, index: int) -> Iterator[Any]:
        full = self.ctx.record.full
        # With ``entry``, each index row is the unit: its text (price, stock, title) decides "changed".
        pairs = ([(e, e.css(spec.link)[:1]) for e in response.css(spec.entry)[:5000]] if spec.entry
                 else [(a, [a]) for a in response.css(spec.link)[:5000]])
        for entry, links in pairs:
            if not links:
                continue
            href = links[0].xpath("@href").get()
            if not href:
                continue
            url = response.urljoin(href)
            if spec.url_pattern and not re.search(spec.url_pattern, url):
                continue
            self.item_links_seen += 1
            text = clean(" ".join(entry.css("*::text").getall()), 5000)
            entry_fp = hashlib.sha256(f"{url}\n{text}".encode()).hexdigest()[:32]
            norm = normalise_url(url)
            state = self.ctx.frontier.entry(norm)
            site_id = self._site_id(spec, url)
            if not full and state is not None and state.entry_fp == entry_fp:
                self.crawler.stats.inc_value("narcwatch/incremental/unchanged")
                yield ListingSeen(source=self.source.id, url=url, crawl_id=self.ctx.crawl_id,
                                  listing_key=listing_key(self.source.id, site_id, url))
                continue
            headers = {}
            if not full and state is not None:
                if state.etag:
                    headers["If-None-Match"] = state.etag
                if state.modified:
                    headers["If-Modified-Since"] = state.modified
            yield scrapy.Request(url, callback=self.parse_item, headers=headers,
                                 cb_kwargs={"spec_index": index, "entry_fp": entry_fp},
                                 meta={"handle_httpstatus_list": [304]})

    @staticmethod
    def _site_id(spec: ItemSpec, url: str) -> str | None:
        if not spec.site_id:
            return None
        m = re.search(spec.site_id, url[:4000])
        found = (m.group(1) if m and m.groups() else m.group(0) if m else None) or None
        return unquote(found) if found else None  # /magazin/%D0%A1... -> the handle as the site shows it

    # item pages ----------------------------------------------------------------------------
    def parse_item(self, response: Response, spec_index: int, entry_fp: str) -> Iterator[Any]:
        spec = self.profile.items[spec_index]
        norm = normalise_url(response.url)
        etag = response.headers.get(b"ETag")
        modified = response.headers.get(b"Last-Modified")
        site_id = self._site_id(spec, response.url)
        if response.status == 304:
            self.crawler.stats.inc_value("narcwatch/incremental/not_modified")
            yield ListingSeen(source=self.source.id, url=response.url, crawl_id=self.ctx.crawl_id,
                              listing_key=listing_key(self.source.id, site_id, response.url), reason="not_modified")
            return
        if not hasattr(response, "css"):
            self.ctx.health_error(f"{response.url}: item page is not HTML")
            return
        item = self._build(spec, response, response.url, site_id)
        if item is not None:
            yield item
            yield from self._candidates(item, response)
            self.ctx.frontier.save_entry(norm, entry_fp, etag.decode("latin-1") if etag else None,
                                         modified.decode("latin-1") if modified else None)

    def _inline_items(self, response: Response, spec: ItemSpec) -> Iterator[Any]:
        blocks = response.css(spec.block) if spec.block else [response]
        for n, block in enumerate(blocks[:5000]):
            self.item_links_seen += 1
            site_id = None
            if spec.site_id:
                raw = block.xpath("@id").get() or block.xpath("@data-post").get() or ""
                m = re.search(spec.site_id, raw[:500])
                site_id = (m.group(1) if m and m.groups() else None)
            anchor = block.xpath("@id").get() if spec.block else None  # the site's own anchor for the block
            url = (response.url if site_id is None and spec.block is None
                   else f"{response.url.split('#', 1)[0]}#{(anchor or site_id or n)}")
            item = self._build(spec, block, url, site_id, response=response)
            if item is not None:
                yield item
                yield from self._candidates(item, response)

    def _build(self, spec: ItemSpec, root: Any, url: str, site_id: str | None,
               response: Response | None = None) -> Listing | Post | VendorProfile | None:
        response = response or root
        values: dict[str, Any] = {}
        for name, fs in spec.fields.items():
            found = _select(root, fs)
            many = isinstance(fs, FieldSpec) and fs.many
            required = (isinstance(fs, FieldSpec) and fs.required) or name in {"title", "text", "handle"}
            if not found or not any(v.strip() for v in found):
                if required:
                    self.crawler.stats.inc_value(f"narcwatch/health/missing/{spec.type}.{name}")
                    self.ctx.health_error(f"profile {self.profile.name}: selector for {spec.type}.{name} "
                                          f"matched nothing on {url} (site redesign?)")
                    return None
                continue
            if isinstance(fs, FieldSpec) and fs.pre:
                values[name] = _pre("".join(found[:5000]))
            else:
                values[name] = [clean(v, 20_000) for v in found[:500]] if many else clean(" ".join(found), _MAX_FIELD)
        capture = response.meta.get("narcwatch_capture") or ("", "")
        common = {"source": self.source.id, "url": url, "site_id": site_id or values.pop("site_id", None),
                  "crawl_id": self.ctx.crawl_id, "capture_id": capture[0], "capture_sha256": capture[1]}
        values.pop("site_id", None)
        try:
            if spec.type == "listing":
                price = parse_money(values.pop("price", None))
                available = values.pop("available", None)
                return Listing(**common, price=price, displayed_prices=[price] if price else [],
                               available=not (available and re.search(_SOLD_OUT,
                                                                        available)),
                               language=self.source.language, **_strs(values, {"language"}))
            if spec.type == "post":
                links = values.pop("links", [])
                links = [response.urljoin(h) for h in (links if isinstance(links, list) else [links])]
                return Post(**common, posted_at=parse_when(values.pop("posted_at", None)), links=links,
                            language=self.source.language, **_strs(values, {"language"}))
            sales = parse_int(values.pop("sales", None))
            return VendorProfile(**common, sales=sales, **_strs(values, set()))
        except ValueError as exc:  # pydantic ValidationError: hostile or odd content; count, keep crawling
            self.crawler.stats.inc_value(f"narcwatch/items/invalid/{spec.type}")
            self.logger.warning("invalid %s on %s: %s", spec.type, url, exc)
            return None

    def _candidates(self, item: Any, response: Response) -> Iterator[CandidateSource]:
        if not isinstance(item, Post):
            return
        hosts: dict[str, str] = {}
        for link in item.links:
            host = urlsplit(link).hostname or ""
            if is_dark_host(host):
                hosts.setdefault(host, link)
        for m in ONION_RE.finditer(item.text[:_MAX_FIELD]):
            host = m.group(0).lower()
            hosts.setdefault(host, f"http://{host}/")
        own = {urlsplit(u).hostname for u in self.source.start_urls}
        for host, link in hosts.items():
            if host in own:
                continue
            self.crawler.stats.inc_value("narcwatch/candidate_sources")
            yield CandidateSource(source=self.source.id, url=link, host=host, found_in=item.url,
                                  crawl_id=self.ctx.crawl_id, capture_id=item.capture_id)

    # health ----------------------------------------------------------------------------------
    def _check_health(self) -> None:
        """At idle: index pages were fetched but no selector found a single item."""
        if self.index_pages and not self.item_links_seen and self.profile.items:
            self.ctx.health_error(f"profile {self.profile.name}: {self.index_pages} index page(s) fetched, "
                                  "no item link or block matched (site redesign?)")


def _pre(text: str) -> str:
    """Preformatted text: line endings normalised, trailing blanks of the block dropped, lines kept."""
    return text[:_MAX_FIELD].replace("\r\n", "\n").replace("\r", "\n").strip()


def _strs(values: dict[str, Any], drop: set[str]) -> dict[str, Any]:
    return {k: (" ".join(v) if isinstance(v, list) else v) for k, v in values.items() if k not in drop}
