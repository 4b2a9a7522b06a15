"""The hostile corpus through the whole product: crawler -> spool -> extraction -> SQLite store
-> search -> dashboard, without a crash, a hang or unbounded memory, and with every
scraped string rendered as text.

One crawl (a subprocess, as in production) of a local HTTP server that serves every page
of ``tests/fixtures/hostile`` plus a 50 MB page, a gzip bomb (256 MB of zeros as a 256 kB
body) and 100,000 nested ``<div>``s. Hangs are bounded by the crawl's subprocess timeout
and pytest-timeout; memory by the crawl child's own peak RSS (``narcwatch/peak_rss_kb``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from narcwatch.crawler.config import Config
from narcwatch.crawler.models import Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import CrawlResult, crawl_source
from narcwatch.crawler.spool import Spool
from narcwatch.dashboards.app import create_app
from narcwatch.index import open_store
from narcwatch.index.sqlite import SqliteStore
from narcwatch.ingest import Ingestor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboards"))
from dash_helpers import ANALYST, FAST_ARGON2, login  # noqa: E402

pytestmark = [pytest.mark.server, pytest.mark.timeout(600)]

RSS_BOUND_KB = 500 * 1024  # a memory bound, not a timing one
MAXSIZE = 16 * 1024 * 1024  # crawler/settings.py DOWNLOAD_MAXSIZE


class Crawled:
    def __init__(self, result: CrawlResult, data: DataDir, config: Config, source: Source, served: Any) -> None:
        self.result, self.data, self.config, self.source, self.served = result, data, config, source, served


@pytest.fixture(scope="module")
def crawled(corpus: ModuleType, hostile_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    serve_hostile, PROFILE = hostile_server  # noqa: N806

    tmp = tmp_path_factory.mktemp("hostile")
    server, state = serve_hostile(corpus)
    profiles = tmp / "profiles"
    profiles.mkdir()
    (profiles / "hostile_local.yaml").write_text(PROFILE, encoding="utf-8")
    data = DataDir.at(tmp / "data")
    cfg = Config(data_dir=data.root, profiles_dirs=[profiles])
    src = Source(id="hostile-local", profile="hostile_local", start_urls=[state.url],
                 concurrency=4, delay=0.0, autothrottle=False)
    try:
        result = crawl_source(src, cfg, data, crawl_id="hostile-1", timeout=420)
    finally:
        server.shutdown()
        server.server_close()
    yield Crawled(result, data, cfg, src, state)


def _listings(data: DataDir) -> dict[str, dict[str, Any]]:
    with Spool(data.spool) as spool:
        return {e.payload["site_id"]: e.payload for e in spool.iter_all("listing")}


def test_crawl_survives_and_finishes(crawled: Crawled, corpus: ModuleType) -> None:
    r = crawled.result
    assert r.returncode == 0 and "crawler_crashed" not in r.errors, (r.errors, r.health)
    assert r.finish_reason == "finished", r
    requested = {p.rsplit("/", 1)[-1] for p in crawled.served.paths}
    expected = {p.name for p in corpus.PAGES} | set(corpus.LARGE)
    assert expected <= requested, sorted(expected - requested)


def test_crawl_memory_stays_bounded(crawled: Crawled) -> None:
    peak = int(crawled.result.stats["narcwatch/peak_rss_kb"])
    assert 0 < peak < RSS_BOUND_KB, f"crawl child peak RSS {peak} kB"


@pytest.mark.parametrize("name, reason", [
    ("big-50mb", "DownloadCancelledError"),  # Content-Length over DOWNLOAD_MAXSIZE: cancelled before the body
    ("gzip-bomb", "decompression_maxsize"),  # inflates past DOWNLOAD_MAXSIZE: refused while decompressing
])
def test_oversized_pages_are_dropped_counted_and_not_stored(crawled: Crawled, name: str, reason: str) -> None:
    assert name not in _listings(crawled.data)
    assert crawled.result.errors.get(reason) == 1, crawled.result.errors


def test_no_page_is_left_pending(crawled: Crawled) -> None:
    """Every page ends done or failed under a reason; a dropped bomb once stayed pending forever."""
    assert crawled.result.stats.get("narcwatch/pending", 0) == 0, crawled.result.stats


def test_ordinary_hostile_pages_become_listings(crawled: Crawled, corpus: ModuleType) -> None:
    got = _listings(crawled.data)
    for name, text in corpus.STRINGS.items():
        item = got.get(f"str-{name}")
        assert item is not None, f"str-{name} not collected"
        assert item["title"].startswith("Hostile " + name)


def test_nothing_is_stored_beyond_the_page_limit(crawled: Crawled) -> None:
    for site_id, item in _listings(crawled.data).items():
        size = sum(len(str(v)) for v in item.values())
        assert size < MAXSIZE, site_id


@pytest.fixture(scope="module")
def store(crawled: Crawled) -> Iterator[SqliteStore]:
    store = open_store(crawled.config.store, crawled.data)
    with Spool(crawled.data.spool) as spool:
        stats = Ingestor(spool, store).drain()
    assert stats.items > 0
    yield store
    store.close()


def test_ingest_extracts_and_stores_every_listing(store: SqliteStore, crawled: Crawled) -> None:
    assert store.counts()["listings"] == len(_listings(crawled.data))


@pytest.mark.parametrize("query", [
    "fentanyl", "nitazene", "vendor:fict_vendor_1", "title:Hostile", '"<script>"', "@fict_vendor_1",
    "class:nitazene", "1" * 300, "\u202e", "(((((", "title:" + "a" * 500, "*",
])
def test_search_over_hostile_store_answers(store: SqliteStore, query: str) -> None:
    from narcwatch.index.query import QueryError

    try:
        store.search(query)
    except QueryError:
        pass  # a bad query is an answer (the dashboard shows it), not a crash


@pytest.fixture(scope="module")
def dashboard(store: SqliteStore, crawled: Crawled) -> Iterator[TestClient]:
    app = create_app(store, crawled.data, crawled.config.model_copy(update={"sources": [crawled.source]}),
                     password_hasher=FAST_ARGON2)
    app.state.ctx.accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
    with TestClient(app, base_url="http://127.0.0.1") as c:
        login(c, ANALYST)
        yield c


def test_dashboard_renders_hostile_listings_as_text(dashboard: TestClient, crawled: Crawled, corpus: ModuleType) -> None:
    keys = [f"hostile-local:{sid}" for sid in _listings(crawled.data)]
    assert keys
    for key in keys:
        page = dashboard.get("/listing", params={"key": key})
        assert page.status_code == 200, (key, page.status_code)
        for marker in corpus.SCRIPT_MARKERS:
            assert marker not in page.text, (key, marker)
    search = dashboard.get("/search", params={"q": "Hostile"})
    assert search.status_code == 200
    assert "&lt;script&gt;" in search.text or "narcwatch-xss" not in search.text
    for marker in corpus.SCRIPT_MARKERS:
        assert marker not in search.text
    assert not re.search(r"<[a-z]+[^>]*\son(error|load)=", search.text, re.I)


def test_request_headers_match_the_profile(crawled: Crawled) -> None:
    """Every request the site saw carries the configured browser user agent and nothing that
    names the tool (Scrapy, python, httpx, narcwatch) or forwards an address."""
    from narcwatch.crawler.settings import build_settings

    ua = build_settings(crawled.source, crawled.config, crawled.data, "headers")["USER_AGENT"]
    seen = crawled.served.headers
    assert seen and {h.get("user-agent") for h in seen} == {ua}
    for h in seen:
        assert not {"x-forwarded-for", "via", "forwarded", "x-real-ip"} & set(h)
        flat = " ".join(f"{k}: {v}" for k, v in h.items()).lower()
        for word in ("scrapy", "python", "httpx", "narcwatch", "twisted"):
            assert word not in flat, h
