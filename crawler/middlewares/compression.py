"""Scrapy's HttpCompressionMiddleware, with decompression bombs counted and closed in the frontier.

Scrapy refuses a compressed body that inflates past DOWNLOAD_MAXSIZE by raising
``IgnoreRequest`` from ``process_response``; an exception raised there reaches neither the
other middlewares' ``process_exception`` nor a stat, so the page stayed *pending* in the
frontier (re-fetched on every resume, the crawl never complete) and the drop was
invisible. This subclass marks the page failed under ``decompression_maxsize``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest

from narcwatch.crawler.context import get_context

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = ["CountedHttpCompressionMiddleware"]


class CountedHttpCompressionMiddleware(HttpCompressionMiddleware):
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        mw = super().from_crawler(crawler)
        mw._nw_ctx = get_context(crawler)
        return mw

    def process_response(self, request: Request, response: Response) -> Request | Response:
        try:
            return super().process_response(request, response)
        except IgnoreRequest:
            ctx = self._nw_ctx  # type: ignore[attr-defined]
            ctx.page_failed(ctx.page_fingerprint(request), "decompression_maxsize")
            raise
