"""Spool item kinds the crawler writes besides Listing, Post and VendorProfile.

``listing_seen``: an incremental recrawl saw a listing's unchanged index entry and did
not refetch it; ingest treats it as present (removal needs it missing). ``crawl_end``:
the crawl's outcome, so ingest marks removals only after complete crawls.
``candidate_source``: an onion/I2P link found in a post or message, for an analyst to
approve; it is never crawled automatically.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from narcwatch.crawler.models import utcnow

__all__ = ["CandidateSource", "CrawlEnd", "ListingSeen"]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListingSeen(_M):
    type: Literal["listing_seen"] = "listing_seen"
    source: str
    url: str
    listing_key: str
    crawl_id: str = ""
    seen_at: datetime = Field(default_factory=utcnow)
    reason: Literal["index_unchanged", "not_modified"] = "index_unchanged"

    @property
    def key(self) -> str:
        return self.listing_key


class CandidateSource(_M):
    type: Literal["candidate_source"] = "candidate_source"
    source: str  # where it was found
    url: str  # the onion/I2P link
    host: str
    found_in: str  # URL of the post/message
    crawl_id: str = ""
    capture_id: str = ""
    seen_at: datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        return self.host


class CrawlEnd(_M):
    type: Literal["crawl_end"] = "crawl_end"
    source: str
    crawl_id: str
    complete: bool
    full: bool = True
    pages: int = 0
    items: int = 0
    errors: dict[str, int] = Field(default_factory=dict)
    health: list[str] = Field(default_factory=list)
    finished_at: datetime = Field(default_factory=utcnow)

    @property
    def key(self) -> str:
        return self.source
