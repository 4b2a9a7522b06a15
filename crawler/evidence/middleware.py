"""Downloader middleware: archive every response before anything parses it.

Sits at 870, near the download handler: responses travel back from high numbers to
low, so this sees the body exactly as transferred, before HttpCompressionMiddleware
(590) decodes it or a redirect (600) replaces it. That is what evidence must hold. The
capture id and sha256 go into ``request.meta`` for the capture pipeline to stamp on
every item parsed from the page. Records are made durable by the crawl's group commit
(``CrawlContext.before_commit``): WARC bytes and manifest rows before the items citing them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response

from narcwatch.crawler.context import get_context
from narcwatch.crawler.evidence.archive import EvidenceArchive
from narcwatch.crawler.paths import DataDir

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["EvidenceMiddleware"]

log = logging.getLogger(__name__)


REDACTED_BODY = b"[request body redacted: credentials]"


class EvidenceMiddleware:
    def __init__(self, crawler: Crawler, archive: EvidenceArchive):
        self.crawler = crawler
        self.stats = crawler.stats
        self.archive = archive

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "EvidenceMiddleware":
        s = crawler.settings
        if not s.getbool("NARCWATCH_EVIDENCE_ENABLED", True):
            raise NotConfigured("NARCWATCH_EVIDENCE_ENABLED is off")
        data_dir = s.get("NARCWATCH_DATA_DIR")
        if not data_dir:
            raise NotConfigured("NARCWATCH_DATA_DIR not set")
        archive = EvidenceArchive(DataDir.at(data_dir).evidence, s.get("NARCWATCH_SOURCE_ID") or "default",
                                  s.get("NARCWATCH_CRAWL_ID") or "adhoc",
                                  max_bytes=s.getint("NARCWATCH_WARC_MAX_BYTES", 256 * 1024 * 1024),
                                  autosync=False)
        get_context(crawler).before_commit.append(archive.sync)
        mw = cls(crawler, archive)
        crawler.signals.connect(mw._closed, signal=signals.spider_closed)
        return mw

    def _closed(self) -> None:
        self.archive.close()

    def process_response(self, request: Request, response: Response) -> Response:
        screenshot = response.meta.get("narcwatch_screenshot") if hasattr(response, "meta") else None
        capture = self.archive.record(
            url=response.url, method=request.method,
            request_headers=[(k, v) for k, vs in request.headers.items() for v in vs],
            # A login post carries credentials: never into evidence that is exported and shown.
            request_body=REDACTED_BODY if request.meta.get("narcwatch_redact_body") else (request.body or b""),
            status=response.status,
            response_headers=[(k, v) for k, vs in response.headers.items() for v in vs],
            body=response.body,
            protocol=response.protocol or "HTTP/1.1",
            rendered=bool(request.meta.get("playwright")),
            screenshot=screenshot,
        )
        request.meta["narcwatch_capture"] = (capture.id, capture.sha256)
        self.stats.inc_value("narcwatch/evidence/captures")
        self.stats.inc_value("narcwatch/evidence/bytes", len(response.body))
        return response
