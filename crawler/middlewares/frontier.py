"""Frontier middlewares: record what each page discovered, skip what a resumed crawl finished."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from narcwatch.crawler.context import PAGE_FP, CrawlContext, get_context

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["FrontierSkipMiddleware", "FrontierSpiderMiddleware", "SkipRequest"]


class SkipRequest(IgnoreRequest):
    """Not fetched on purpose (already done, a trap, an unchanged listing): not a failure."""

# Statuses after which a page is finished without being a failure of the crawl.
_GONE = frozenset({404, 410})


class FrontierSpiderMiddleware:
    """Commits each page's discovered requests as pending, then closes the page in the ledger."""

    def __init__(self, crawler: Crawler, ctx: CrawlContext):
        self.crawler = crawler
        self.ctx = ctx

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierSpiderMiddleware:
        return cls(crawler, get_context(crawler))

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        fp = self.ctx.page_fingerprint(response.request) if response.request is not None else None
        discovered: list[Request] = []
        async for out in result:
            if isinstance(out, Request):
                out.meta.pop(PAGE_FP, None)  # a callback that copied response.meta must not inherit our page
                discovered.append(out)
            elif fp is not None:
                self.ctx.ledger.expect(fp, out)
            yield out
        if fp is None:
            return
        spider = self.crawler.spider
        rows = []
        for req in discovered:
            try:
                rows.append((self.ctx.fingerprint(req), req.to_dict(spider=spider)))
            except ValueError:  # a callback that is not a spider method cannot be resumed; it is re-found
                continue
        self.ctx.frontier.add_pending(rows)
        if self.ctx.ledger.close_page(fp):
            self.ctx.page_done(fp)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """Start requests are pending too: a start page that never completes leaves the crawl incomplete."""
        spider = self.crawler.spider
        async for out in start:
            if isinstance(out, Request):
                out.meta.pop(PAGE_FP, None)
                try:
                    self.ctx.frontier.add_pending([(self.ctx.fingerprint(out), out.to_dict(spider=spider))])
                except ValueError:
                    pass
            yield out

    def process_spider_output(self, response: Response, result: Any) -> Any:  # sync fallback
        raise NotImplementedError("FrontierSpiderMiddleware needs an async-capable chain")


class FrontierSkipMiddleware:
    """Drops requests already done in this crawl (resume) and records failed pages by reason."""

    def __init__(self, crawler: Crawler, ctx: CrawlContext):
        self.stats = crawler.stats
        self.ctx = ctx

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierSkipMiddleware:
        mw = cls(crawler, get_context(crawler))
        crawler.signals.connect(mw._dropped, signal=signals.request_dropped)
        return mw

    def process_request(self, request: Request) -> None:
        fp = request.meta.setdefault(PAGE_FP, self.ctx.fingerprint(request))  # kept across redirects
        if self.ctx.record.resumed and self.ctx.frontier.is_done(fp):
            self.stats.inc_value("narcwatch/frontier/skipped_done")
            raise SkipRequest("already done in this crawl")

    def _dropped(self, request: Request, **_: Any) -> None:
        """A redirect to a URL this crawl already has is dropped by the duplicate filter: the
        page it stood for is fetched under that URL, so its own row is done."""
        fp = request.meta.get(PAGE_FP)
        if isinstance(fp, str) and request.meta.get("redirect_urls") and fp != self.ctx.fingerprint(request):
            self.stats.inc_value("narcwatch/frontier/redirect_to_seen")
            self.ctx.page_done(fp)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status >= 400 and response.status not in request.meta.get("handle_httpstatus_list", ()):
            fp = self.ctx.page_fingerprint(request)
            if response.status in _GONE:
                self.stats.inc_value(f"narcwatch/gone/{response.status}")
                self.ctx.page_done(fp)
            else:
                self.ctx.page_failed(fp, f"http_{response.status}")
        return response

    def process_exception(self, request: Request, exception: BaseException) -> None:
        fp = self.ctx.page_fingerprint(request)
        if isinstance(exception, SkipRequest):
            if str(exception) != "already done in this crawl":
                self.ctx.page_done(fp)
            return
        if isinstance(exception, IgnoreRequest):
            reason = str(exception).split(":", 1)[0].replace(" ", "_")[:40] or "ignored"
        else:
            reason = type(exception).__name__
        self.ctx.page_failed(fp, reason)
