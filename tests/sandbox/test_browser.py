"""The client-rendered market in a real browser (Debian's Chromium via Playwright), with
all traffic through the sandbox SOCKS proxy: the JS builds the grid, infinite scroll
loads more, and item pages show what the truth says."""

from __future__ import annotations

import shutil

import pytest

from narcwatch.sandbox import SandboxServer, World

pytestmark = [pytest.mark.browser, pytest.mark.server]
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")
def test_spa_renders_scrolls_and_shows_item_through_socks() -> None:
    from playwright.sync_api import sync_playwright

    with SandboxServer(World(1, "tiny")) as server:
        base = server.source("nebula-market").base_url
        truth = [r for r in server.truth() if r.get("source") == "nebula-market" and r["kind"] == "listing"]
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                      "--disable-sync"],
                proxy={"server": f"socks5://127.0.0.1:{server.socks_port}"})
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 700})
                page.goto(base, wait_until="load")
                page.wait_for_selector(".nb-card")
                first = page.locator(".nb-card").count()
                for _ in range(20):
                    if page.locator(".nb-card").count() >= len(truth):
                        break
                    page.mouse.wheel(0, 20000)
                    page.wait_for_timeout(150)
                assert page.locator(".nb-card").count() > first
                ids = page.locator(".nb-card").evaluate_all("els => els.map(e => e.dataset.id)")
                assert ids == [r["site_id"] for r in truth][: len(ids)]
                rec = truth[3]
                page.goto(rec["url"], wait_until="load")
                page.wait_for_selector(".nb-item-title")
                assert page.locator(".nb-item-title").inner_text() == rec["fields"]["title"]
                assert page.locator(".nb-tier-price").all_inner_texts()[0] == f"{rec['fields']['tiers'][0]['price']} EUR"
            finally:
                browser.close()
        assert server.direct_onion_connections() == []
        assert any(r.host == server.source("nebula-market").host and r.ok for r in server.proxy_log)
