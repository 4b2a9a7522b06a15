"""Items to the spool, idempotently, and the crawl's outcome at the end.

Idempotency key ``{crawl_id}:{type}:{key}``: a resumed crawl re-yielding an item inserts
nothing. Items are buffered and committed when their page completes (one transaction
per page, then the page is marked done in the frontier), which is both the fast path
and the kill -9 safe order.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from scrapy import signals

from narcwatch.crawler.context import CrawlContext, get_context
from narcwatch.crawler.spoolitems import CrawlEnd

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["SpoolPipeline", "spool_key"]

log = logging.getLogger(__name__)

_FLUSH_AT = 500


def spool_key(crawl_id: str, item: Any) -> str:
    return f"{crawl_id}:{item.type}:{item.key}"


class SpoolPipeline:
    def __init__(self, crawler: Crawler, ctx: CrawlContext):
        self.crawler = crawler
        self.stats = crawler.stats
        self.ctx = ctx

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "SpoolPipeline":
        pipe = cls(crawler, get_context(crawler))
        crawler.signals.connect(pipe._released, signal=signals.item_dropped)
        crawler.signals.connect(pipe._released, signal=signals.item_error)
        crawler.signals.connect(pipe._closed, signal=signals.spider_closed)
        return pipe

    def _released(self, item: Any) -> None:
        if (fp := self.ctx.ledger.item_done(item)) is not None:
            self.ctx.page_done(fp)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, BaseModel) or not hasattr(item, "type"):
            self.stats.inc_value("narcwatch/items/unknown_type")
            return item
        payload = item.model_dump(mode="json")
        self.ctx.buffer.append((spool_key(self.ctx.crawl_id, item), item.type, payload, getattr(item, "source", "")))
        self.ctx.items += 1
        self.stats.inc_value(f"narcwatch/items/{item.type}")
        if (fp := self.ctx.ledger.item_done(item)) is not None:
            self.ctx.page_done(fp)
        elif len(self.ctx.buffer) >= _FLUSH_AT:
            self.ctx.flush()
        return item

    def close_spider(self) -> None:
        self.ctx.flush()

    def _closed(self, reason: str) -> None:
        """After the engine stopped (spider_closed carries why): write the crawl's outcome."""
        ctx = self.ctx
        ctx.flush()
        counts = ctx.frontier.counts()
        complete = counts["pending"] == 0 and counts["failed"] == 0 and not ctx.health and reason == "finished"
        errors = dict(ctx.errors)
        for key, value in (self.stats.get_stats() or {}).items():
            if key.startswith("narcwatch/leak_guard/refused/") and value:
                errors[f"leak_guard_{key.rsplit('/', 1)[1]}"] = int(value)
        end = CrawlEnd(source=ctx.source, crawl_id=ctx.crawl_id, complete=complete, full=ctx.record.full,
                       pages=counts["done"], items=ctx.items, errors=errors, health=list(ctx.health))
        ctx.frontier.finish(complete)
        ctx.spool.put(f"{ctx.crawl_id}:crawl_end:{time.time_ns()}", "crawl_end", end.model_dump(mode="json"), ctx.source)
        self.stats.set_value("narcwatch/complete", complete)
        self.stats.set_value("narcwatch/pages", counts["done"])
        self.stats.set_value("narcwatch/pending", counts["pending"])
        log.info("crawl %s of %s ended: complete=%s pages=%d items=%d errors=%s health=%s", ctx.crawl_id, ctx.source,
                 complete, counts["done"], ctx.items, errors, ctx.health)
        ctx.close()
