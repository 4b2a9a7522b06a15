"""Items to the spool, idempotently, and the crawl's outcome at the end.

Idempotency key ``{crawl_id}:{type}:{key}``: a resumed crawl re-yielding an item inserts
nothing. Items are buffered and group-committed by the crawl context (spool before the
frontier marks the pages done, see ``crawler.context``), on size, on a timer, when the
crawl goes idle and when it closes, which is both the fast path and the kill -9 safe order.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from scrapy import signals
from twisted.internet.task import LoopingCall

from narcwatch.crawler.context import CrawlContext, get_context
from narcwatch.crawler.spoolitems import CrawlEnd

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["SpoolPipeline", "spool_key"]

log = logging.getLogger(__name__)


def spool_key(crawl_id: str, item: Any) -> str:
    return f"{crawl_id}:{item.type}:{item.key}"


class SpoolPipeline:
    def __init__(self, crawler: Crawler, ctx: CrawlContext):
        self.crawler = crawler
        self.stats = crawler.stats
        self.ctx = ctx
        self._timer: LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "SpoolPipeline":
        pipe = cls(crawler, get_context(crawler))
        crawler.signals.connect(pipe._released, signal=signals.item_dropped)
        crawler.signals.connect(pipe._released, signal=signals.item_error)
        crawler.signals.connect(pipe._closed, signal=signals.spider_closed)
        crawler.signals.connect(pipe._idle, signal=signals.spider_idle)
        return pipe

    def open_spider(self) -> None:
        # A batch must not wait for the next page forever (a paused source, a slow site).
        self._timer = LoopingCall(self.ctx.maybe_flush)
        self._timer.start(max(0.05, self.ctx.commit_interval), now=False)

    def _idle(self) -> None:
        self.ctx.flush()

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
        else:
            self.ctx.maybe_flush()
        return item

    def close_spider(self) -> None:
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        self.ctx.flush()

    def _closed(self, reason: str) -> None:
        """After the engine stopped (spider_closed carries why): write the crawl's outcome."""
        ctx = self.ctx
        if self._timer is not None and self._timer.running:
            self._timer.stop()
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
