"""Per-crawl shared state: frontier, spool, page ledger, errors and health, built once per crawler.

Middlewares and pipelines are separate Scrapy components, but "a page is done when its
items are in the spool" spans several of them; they meet here instead of reaching
into each other.

Durability is a group commit: items, discovered requests and page marks collect in
memory and are written together every ``NARCWATCH_COMMIT_INTERVAL`` seconds (or sooner
when a batch is large), in the order that keeps ``kill -9`` harmless: evidence (WARC
bytes, manifest rows) first, then the spool (fsync), then the frontier. A kill loses at
most the last batch's page marks, and those pages are simply fetched again on resume;
the spool's idempotency key absorbs their items. One fsync per batch instead of one per
page is what lets a crawl keep up with the network.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from narcwatch.crawler.frontier import DONE, FAILED, CrawlRecord, Frontier
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.spool import Spool

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

__all__ = ["PAGE_FP", "CrawlContext", "PageLedger", "get_context"]

_lock = threading.Lock()


PAGE_FP = "narcwatch_page_fp"  # request.meta: fingerprint of the request the scheduler handed out


@dataclass
class PageLedger:
    """Counts a page's items in flight; the page is done when all reached the spool."""

    expected: Counter[str] = field(default_factory=Counter)
    owner: dict[int, str] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)

    def expect(self, fp: str, item: object) -> None:
        self.owner[id(item)] = fp
        self.expected[fp] += 1

    def item_done(self, item: object) -> str | None:
        """Returns the page fingerprint if this item was its page's last outstanding one."""
        fp = self.owner.pop(id(item), None)
        if fp is None:
            return None
        self.expected[fp] -= 1
        if self.expected[fp] <= 0 and fp in self.closed:
            self._forget(fp)
            return fp
        return None

    def close_page(self, fp: str) -> bool:
        """The callback yielded everything; True if no item is still in flight."""
        if self.expected.get(fp, 0) <= 0:
            self._forget(fp)
            return True
        self.closed.add(fp)
        return False

    def _forget(self, fp: str) -> None:
        self.expected.pop(fp, None)
        self.closed.discard(fp)


class CrawlContext:
    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.crawler = crawler
        self.source: str = s.get("NARCWATCH_SOURCE_ID") or "default"
        self.crawl_id: str = s.get("NARCWATCH_CRAWL_ID") or "adhoc"
        self.data = DataDir.at(s.get("NARCWATCH_DATA_DIR") or None)
        self.frontier = Frontier(self.data.jobs / self.source / "frontier.sqlite", self.crawl_id, buffered=True)
        self.record: CrawlRecord = self.frontier.begin(s.getint("NARCWATCH_FULL_REFRESH_EVERY", 10))
        # A scale-out worker spools to its own file under the shared data dir (crawler.distributed).
        self.spool = Spool(s.get("NARCWATCH_SPOOL_PATH") or self.data.spool)
        self.ledger = PageLedger()
        self.buffer: list[tuple[str, str, dict[str, Any], str]] = []
        self.errors: Counter[str] = Counter()
        self.health: list[str] = []
        self.items = 0
        self.commit_interval = s.getfloat("NARCWATCH_COMMIT_INTERVAL", 0.5)
        self.commit_items = s.getint("NARCWATCH_COMMIT_MAX_ITEMS", 1000)
        self.commit_pages = s.getint("NARCWATCH_COMMIT_MAX_PAGES", 500)
        self.before_commit: list[Callable[[], None]] = []  # evidence: WARC + manifest durable first
        self.after_commit: list[Callable[[], None]] = []  # scale-out: ack settled requests to Redis
        self.on_page_end: list[Callable[[str], None]] = []  # each page marked done or failed (its fingerprint)
        self._pages_since = 0
        self._last_commit = time.monotonic()
        self.commits = 0

    def fingerprint(self, request: Request) -> str:
        return self.crawler.request_fingerprinter.fingerprint(request).hex()

    def page_fingerprint(self, request: Request) -> str:
        """The frontier row ``request`` answers for.

        A redirect replaces the scheduled request with one for the new URL (meta copied),
        so the page that ends is the *scheduled* one: without this, a market that
        redirects its listing links leaves every such row pending and no crawl of it is
        ever complete (so REMOVED never fires) and every resume fetches it all again."""
        fp = request.meta.get(PAGE_FP)
        return fp if isinstance(fp, str) else self.fingerprint(request)

    def flush(self) -> None:
        """Commit now: evidence, then items, then the frontier (see the module docstring)."""
        for hook in self.before_commit:
            hook()
        if self.buffer:
            new = self.spool.put_many(self.buffer)
            self.crawler.stats.inc_value("narcwatch/spool/new", new)
            self.crawler.stats.inc_value("narcwatch/spool/duplicate", len(self.buffer) - new)
            self.buffer.clear()
        self.frontier.commit()
        for hook in self.after_commit:
            hook()
        self._pages_since = 0
        self._last_commit = time.monotonic()
        self.commits += 1
        self.crawler.stats.inc_value("narcwatch/commits")

    def maybe_flush(self) -> None:
        """Commit when the batch is old or large enough; called per page and by a timer."""
        if not (self.buffer or self._pages_since or self.frontier.dirty):
            return
        if (len(self.buffer) >= self.commit_items or self._pages_since >= self.commit_pages
                or time.monotonic() - self._last_commit >= self.commit_interval):
            self.flush()

    def page_done(self, fp: str) -> None:
        # Marked in the frontier's buffer; it reaches disk only after this batch's items.
        self.frontier.mark(fp, DONE)
        for hook in self.on_page_end:
            hook(fp)
        self._pages_since += 1
        self.maybe_flush()

    def page_failed(self, fp: str, reason: str) -> None:
        self.errors[reason] += 1
        self.crawler.stats.inc_value(f"narcwatch/errors/{reason}")
        self.frontier.mark(fp, FAILED)
        for hook in self.on_page_end:
            hook(fp)
        self._pages_since += 1
        self.maybe_flush()

    def health_error(self, message: str) -> None:
        if message not in self.health:
            self.health.append(message)
            self.crawler.stats.inc_value("narcwatch/health_errors")

    def close(self) -> None:
        self.flush()
        self.before_commit.clear()
        self.after_commit.clear()
        self.spool.close()
        self.frontier.close()


def get_context(crawler: Crawler) -> CrawlContext:
    with _lock:
        ctx = crawler.__dict__.get("_narcwatch_context")
        if ctx is None:
            ctx = CrawlContext(crawler)
            crawler.__dict__["_narcwatch_context"] = ctx
        return ctx
