"""Stamp every item with the capture (id + sha256) of the page it was parsed from.

The spider passes the response in ``item`` creation; Scrapy does not tell a pipeline
which response an item came from, so the profile spider sets ``capture_id`` itself from
``response.meta`` and this pipeline refuses items that cite no capture when evidence
is on: an uncitable fact is not allowed into the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

from narcwatch.crawler.models import Listing, Post, VendorProfile

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["CapturePipeline"]


class CapturePipeline:
    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.required = crawler.settings.getbool("NARCWATCH_EVIDENCE_ENABLED", True)
        self.crawl_id = crawler.settings.get("NARCWATCH_CRAWL_ID") or ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "CapturePipeline":
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, (Listing, Post, VendorProfile)):
            if not item.crawl_id:
                item.crawl_id = self.crawl_id
            if self.required and not (item.capture_id and item.capture_sha256):
                self.stats.inc_value("narcwatch/items/dropped/no_capture")
                raise DropItem(f"item {item.key} cites no capture")
        return item
