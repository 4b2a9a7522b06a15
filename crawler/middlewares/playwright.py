"""Screenshots of browser-rendered pages, kept with their evidence record.

For every request rendered by Chromium (``meta["playwright"]``) this middleware asks
scrapy-playwright for a PNG of the page as rendered (a ``screenshot`` page method, run
after the page's own methods), writes it content-addressed under
``evidence/screenshots/<source>/<sha256>.png`` and hands its path to the evidence
middleware through ``meta["narcwatch_screenshot"]``, so the manifest entry of the capture
names the picture an investigator saw. It sits at 880: responses travel from high
numbers to low, so it runs just before ``EvidenceMiddleware`` (870) records the page.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy_playwright.page import PageMethod

from narcwatch.crawler.paths import DataDir

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["BrowserScreenshotMiddleware"]

_MARK = "narcwatch_screenshot_method"


class BrowserScreenshotMiddleware:
    def __init__(self, crawler: Crawler, folder: Path, full_page: bool):
        self.stats = crawler.stats
        self.folder = folder
        self.root = folder.parent.parent  # the evidence folder: paths in the manifest are relative to it
        self.full_page = full_page

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "BrowserScreenshotMiddleware":
        s = crawler.settings
        if not s.getbool("NARCWATCH_SCREENSHOTS", True) or not s.getbool("NARCWATCH_EVIDENCE_ENABLED", True):
            raise NotConfigured("screenshots or evidence are off")
        if not s.get("NARCWATCH_DATA_DIR"):
            raise NotConfigured("NARCWATCH_DATA_DIR not set")
        source = s.get("NARCWATCH_SOURCE_ID") or "default"
        folder = DataDir.at(s.get("NARCWATCH_DATA_DIR")).evidence / "screenshots" / source
        return cls(crawler, folder, s.getbool("NARCWATCH_SCREENSHOT_FULL_PAGE", True))

    def process_request(self, request: Request) -> None:
        if not request.meta.get("playwright") or request.meta.get(_MARK) is not None:
            return
        methods = list(request.meta.get("playwright_page_methods") or [])
        methods.append(PageMethod("screenshot", type="png", full_page=self.full_page))
        request.meta["playwright_page_methods"] = methods
        request.meta[_MARK] = len(methods) - 1

    def process_response(self, request: Request, response: Response) -> Response:
        index = request.meta.get(_MARK)
        if index is None:
            return response
        methods = request.meta.get("playwright_page_methods") or []
        png = getattr(methods[index], "result", None) if 0 <= index < len(methods) else None
        if not isinstance(png, bytes) or not png:
            self.stats.inc_value("narcwatch/browser/screenshot_missing")
            return response
        path = self.save(png)
        request.meta["narcwatch_screenshot"] = str(path.relative_to(self.root))
        self.stats.inc_value("narcwatch/browser/screenshots")
        return response

    def save(self, png: bytes) -> Path:
        """Content-addressed, written atomically: a kill mid-write leaves no half picture."""
        digest = hashlib.sha256(png).hexdigest()
        path = self.folder / f"{digest}.png"
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(png)
            os.replace(tmp, path)
        return path
