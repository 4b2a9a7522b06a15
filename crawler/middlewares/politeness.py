"""Politeness and resilience: Retry-After and backoff, pagination traps, redirect loops, page budget."""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached

from narcwatch.crawler.middlewares.frontier import SkipRequest

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["RetryAfterMiddleware", "TrapGuardMiddleware", "retry_after_seconds"]

_SEGMENT = re.compile(r"[^/]{1,200}")


def retry_after_seconds(value: bytes | str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds (delta or HTTP date); None if absent or garbage."""
    if not value:
        return None
    text = value.decode("latin-1", "replace") if isinstance(value, bytes) else value
    text = text.strip()[:64]
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryAfterMiddleware:
    """Waits before a retryable status reaches RetryMiddleware: Retry-After if sent, else 2^n backoff."""

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.stats = crawler.stats
        self.codes = set(s.getlist("RETRY_HTTP_CODES"))
        self.base = s.getfloat("NARCWATCH_BACKOFF_BASE", 1.0)
        self.cap = s.getfloat("NARCWATCH_BACKOFF_MAX", 60.0)
        self.retry_after_max = s.getfloat("NARCWATCH_RETRY_AFTER_MAX", 300.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RetryAfterMiddleware":
        return cls(crawler)

    def delay_for(self, request: Request, response: Response) -> float:
        advised = retry_after_seconds(response.headers.get(b"Retry-After"))
        if advised is not None:
            self.stats.inc_value("narcwatch/politeness/retry_after")
            return min(advised, self.retry_after_max)
        return min(self.cap, self.base * (2 ** int(request.meta.get("retry_times", 0))))

    async def process_response(self, request: Request, response: Response) -> Response:
        if response.status in self.codes and not request.meta.get("dont_retry"):
            delay = self.delay_for(request, response)
            self.stats.inc_value("narcwatch/politeness/backoff_seconds", int(delay))
            if delay > 0:
                await asyncio.sleep(delay)
        return response


class TrapGuardMiddleware:
    """Refuses URLs that look like crawler traps and redirects that loop; caps pages per crawl."""

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.stats = crawler.stats
        self.max_pages = s.getint("NARCWATCH_MAX_PAGES", 200_000)
        self.max_repeats = s.getint("NARCWATCH_TRAP_SEGMENT_REPEATS", 3)
        self.max_query_params = s.getint("NARCWATCH_TRAP_QUERY_PARAMS", 25)
        self.sent = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "TrapGuardMiddleware":
        return cls(crawler)

    def trap_reason(self, request: Request) -> str | None:
        parsed = urlparse_cached(request)
        segments = _SEGMENT.findall(parsed.path[:4000])
        counts: dict[str, int] = {}
        for seg in segments:
            counts[seg] = counts.get(seg, 0) + 1
            if counts[seg] > self.max_repeats:
                return "repeated_path_segment"
        if parsed.query.count("&") + 1 > self.max_query_params:
            return "too_many_query_params"
        chain = request.meta.get("redirect_urls") or []
        if request.url in chain:
            return "redirect_loop"
        return None

    def process_request(self, request: Request) -> None:
        reason = self.trap_reason(request)
        if reason:
            self.stats.inc_value(f"narcwatch/trap/{reason}")
            raise SkipRequest(f"trap: {reason}")
        self.sent += 1
        if self.sent > self.max_pages:
            self.stats.inc_value("narcwatch/trap/page_budget")
            raise IgnoreRequest("page_budget: exhausted")  # a failure: the crawl is incomplete
