"""Which failures a crawl retries: Scrapy's own ``RetryMiddleware`` built from the settings
a source gets. A rendered page whose navigation failed outright (Playwright's base
``Error``: the connection dropped mid-load) is retried like a timeout; a bug is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright._impl._errors import Error as PlaywrightError
from playwright._impl._errors import TimeoutError as PlaywrightTimeout
from scrapy import Request, Spider
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionLost

from narcwatch.crawler.config import Config
from narcwatch.crawler.models import Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.settings import build_settings


def _retry(tmp_path: Path, render_js: bool) -> tuple[RetryMiddleware, Spider]:
    source = Source(id="m", profile="sandbox_classic", start_urls=["http://x.onion/"], network="tor",
                    render_js=render_js)
    settings = build_settings(source, Config(), DataDir.at(tmp_path), "c1", proxy_url="socks5h://127.0.0.1:9")
    crawler = get_crawler(Spider, settings_dict=settings)
    crawler.spider = crawler._create_spider("m")  # the retry middleware reads the spider's stats and logger
    return RetryMiddleware.from_crawler(crawler), crawler.spider


@pytest.mark.parametrize("exc,retried", [
    (PlaywrightError("net::ERR_EMPTY_RESPONSE at http://x.onion/"), True),
    (PlaywrightTimeout("Timeout 30000ms exceeded."), True),
    (ConnectionLost(), True),
    (ValueError("a bug, not the network"), False),
], ids=["navigation-error", "timeout", "connection-lost", "bug"])
def test_a_rendered_crawl_retries_network_failures_only(tmp_path: Path, exc: Exception, retried: bool) -> None:
    mw, spider = _retry(tmp_path, render_js=True)
    out = mw.process_exception(Request("http://x.onion/listing/1"), exc)
    assert isinstance(out, Request) is retried
    if retried:
        assert out.meta["retry_times"] == 1  # type: ignore[union-attr]


def test_a_plain_crawl_does_not_know_playwright_errors(tmp_path: Path) -> None:
    mw, spider = _retry(tmp_path, render_js=False)
    assert mw.process_exception(Request("http://x.onion/"), PlaywrightError("x")) is None
