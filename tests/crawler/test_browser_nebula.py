"""Nebula (client-rendered market) through Chromium: incremental recrawl and ``render_all``.

Real crawls (subprocess) of the sandbox's Nebula Market through its SOCKS proxy, with
Debian's Chromium behind the crawl's SOCKS relay. The smallest world the sandbox makes
(50 listings a market) keeps each crawl to seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import CrawlResult, crawl_source
from narcwatch.crawler.spool import Spool

sandbox = pytest.importorskip("narcwatch.sandbox")

pytestmark = [pytest.mark.server, pytest.mark.browser, pytest.mark.slow]  # 20-35 s each on the shared machine

SOURCE = "nebula-market"
FAST = {"NARCWATCH_BACKOFF_BASE": 0.05, "NARCWATCH_BACKOFF_MAX": 0.5, "AUTOTHROTTLE_ENABLED": False}


@pytest.fixture(scope="module")
def server() -> Any:
    with sandbox.SandboxServer(sandbox.World(seed=3, size=50)) as srv:
        yield srv


def _crawl(server: Any, root: Path, crawl_id: str, **extra: Any) -> tuple[CrawlResult, dict[str, list[dict[str, Any]]]]:
    src = server.source(SOURCE).as_source().model_copy(update={"concurrency": 8, "delay": 0.0})
    cfg = Config(data_dir=root, tor=TorConfig(socks_url=server.socks_url, control=None))
    data = DataDir.at(root)
    result = crawl_source(src, cfg, data, crawl_id=crawl_id, proxy_url=server.socks_url,
                          extra_settings={**FAST, **extra}, timeout=300)
    assert result.complete, (result.errors, result.health, Path(result.log_file).read_text()[-3000:])
    with Spool(data.spool) as spool:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for e in spool.iter_all():
            if e.payload.get("crawl_id") == crawl_id:
                by_kind.setdefault(e.kind, []).append(e.payload)
    return result, by_kind


def _truth_ids(server: Any) -> set[str]:
    return {str(t["site_id"]) for t in server.truth() if t.get("source") == SOURCE and t.get("kind") == "listing"}


def test_recrawl_of_an_unchanged_market_fetches_no_listing_again(server: Any, tmp_path: Path) -> None:
    first, items = _crawl(server, tmp_path, "full")
    truth = _truth_ids(server)
    assert {x["site_id"] for x in items["listing"]} == truth
    api_first = int(first.stats.get("downloader/response_count", 0))

    again, items2 = _crawl(server, tmp_path, "again")
    assert "listing" not in items2  # nothing re-read ...
    seen = [x for kind, xs in items2.items() if kind != "listing" for x in xs if x.get("listing_key")]
    assert len(seen) == len(truth)  # ... yet every listing is confirmed present (no false "removed")
    assert again.stats.get("narcwatch/incremental/unchanged") == len(truth)
    # the recrawl fetches what the full crawl fetched less one API call per listing, plus one:
    # the canary's own /api/listing/<id> check (in the full crawl the duplicate filter merged it
    # with that listing's fetch)
    assert int(again.stats.get("downloader/response_count", 0)) == api_first - len(truth) + 1
    assert server.direct_onion_connections() == []


def test_render_all_renders_every_listing_with_a_screenshot_reusing_tabs(server: Any, tmp_path: Path) -> None:
    result, items = _crawl(server, tmp_path, "rendered", NARCWATCH_NEBULA_RENDER_ALL=True)
    truth = _truth_ids(server)
    st = result.stats
    listings = items["listing"]
    assert {x["site_id"] for x in listings} == truth and len(listings) == len(truth)
    assert all(x["title"] and x["capture_id"] for x in listings)
    assert st.get("narcwatch/nebula/rendered_listing") == len(truth)
    assert "narcwatch/nebula/canary" not in st  # every listing was read from the DOM: no separate canary
    pages = st.get("narcwatch/browser/pages")
    assert pages == len(truth) + 1  # the start page and every listing page
    assert st.get("narcwatch/browser/screenshots") == pages
    # tabs are reused: Chromium opened at most PLAYWRIGHT_MAX_PAGES_PER_CONTEXT tabs for the listings
    assert st.get("narcwatch/browser/page_reused", 0) >= len(truth) - 4
    assert st.get("playwright/page_count", 0) <= 4 + 1
    shots = list((tmp_path / "evidence" / "screenshots" / SOURCE).glob("*.png"))
    assert len(shots) >= len(truth)  # content-addressed: one picture per distinct rendered page
    assert server.direct_onion_connections() == []


def test_render_all_survives_dropped_and_cut_responses(tmp_path: Path) -> None:
    """Drops and truncated bodies hit the rendered pages' own fetches: a failed tab is closed
    (never reused), the page is rendered again, and every listing still arrives once."""
    faults = sandbox.FaultConfig.parse(f"drop_every=23,truncate_every=29,error_burst_every=31,only_sources={SOURCE}")
    with sandbox.SandboxServer(sandbox.World(seed=3, size=50), faults) as srv:
        result, items = _crawl(srv, tmp_path, "faulty", NARCWATCH_NEBULA_RENDER_ALL=True, RETRY_TIMES=8,
                               PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT=10_000, NARCWATCH_NEBULA_RENDER_WAIT_MS=4000)
        truth = _truth_ids(srv)
        fired = {fault for (src, fault), n in srv.faults.fired.items() if src == SOURCE and n}
        assert srv.direct_onion_connections() == []
    assert {"drop", "truncate"} <= fired, fired
    listings = items["listing"]
    assert sorted(x["site_id"] for x in listings) == sorted(truth)  # each once
    assert result.stats.get("narcwatch/browser/page_reused", 0) > 0
