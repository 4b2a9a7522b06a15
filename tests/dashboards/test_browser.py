"""The dashboard as an analyst uses it: Debian's Chromium (headless, through Playwright)
against a real ``narcwatch serve --port 0`` subprocess over the index's SQLite store.

Screenshots go to ``test-artifacts/dashboards/``. Charts are checked by reading the
canvas pixels in the page. Every request the browser makes is recorded: none may leave
127.0.0.1 (a scraped URL is never fetched), and any that tried would be aborted.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from narcwatch.dashboards.audit import AuditLog
from narcwatch.dashboards.auth import Accounts

from dash_helpers import ADMIN, ANALYST, FAST_ARGON2
from dash_index_world import build_index
from dash_world import XSS_KEY

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboards"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# Counts the painted pixels of a canvas: a chart that drew nothing has (almost) none.
PAINTED = """(sel) => { const c = document.querySelector(sel); if (!c) return -1;
  const ctx = c.getContext('2d'); const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; }"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian chromium not installed at {CHROMIUM}")
    data = tmp_path_factory.mktemp("served") / "data"
    build_index(data).close()
    accounts = Accounts(data, hasher=FAST_ARGON2)
    accounts.add_user(ADMIN[0], "admin", ADMIN[1])
    accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
    accounts.close()
    env = {**os.environ, "NARCWATCH_DATA_DIR": str(data)}
    out, err = data.parent / "serve.out", data.parent / "serve.err"
    with out.open("w") as fout, err.open("w") as ferr:
        proc = subprocess.Popen([sys.executable, "-m", "narcwatch", "serve", "--port", "0"], env=env, cwd=ROOT,
                                stdout=fout, stderr=ferr)
    match = None
    for _ in range(300):  # the URL line, printed once the socket is bound (up to 30 s on a busy machine)
        match = re.search(r"http://127\.0\.0\.1:\d+/", out.read_text())
        if match or proc.poll() is not None:
            break
        time.sleep(0.1)
    if not match:
        proc.kill()
        proc.wait()
        pytest.fail(f"serve did not start: {out.read_text()!r} {err.read_text()!r}")
    try:
        yield match.group(0).rstrip("/"), data
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Watch:
    """Everything a page did that a test cares about: dialogs, console errors, requests."""

    def __init__(self, base: str):
        self.base = base
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.sent: list[str] = []  # requests Chromium put on the network (seen by the router)
        self.blocked: list[tuple[str, str]] = []  # (url, reason) of loads refused before the network

    def attach(self, page: Any) -> None:
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.blocked.append((r.url, r.failure or "")))
        page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        self.sent.append(route.request.url)
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            route.abort()  # never reaches the internet even if the dashboard were wrong

    def foreign(self) -> list[str]:
        return [u for u in self.sent if not u.startswith(self.base)]


@pytest.fixture
def page(browser: Any, served: tuple[str, Path]) -> Iterator[tuple[Any, Watch]]:
    base, _ = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    watch = Watch(base)
    watch.attach(pg)
    yield pg, watch
    context.close()


def _login(pg: Any, base: str, user: tuple[str, str]) -> None:
    pg.goto(f"{base}/login")
    pg.fill("input[name=username]", user[0])
    pg.fill("input[name=password]", user[1])
    pg.click("section.login button[type=submit]")
    pg.wait_for_url(re.compile(r".*/search$"))


def _shot(pg: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000
    return path


def test_analyst_searches_opens_listing_and_vendor_and_acknowledges(page, served):
    pg, watch = page
    base, _ = served
    _login(pg, base, ANALYST)
    pg.fill("input[name=q]", "protonitazene")
    pg.press("input[name=q]", "Enter")
    pg.wait_for_selector("ol.results li.hit")
    assert pg.locator("ol.results mark").first.inner_text().lower() == "protonitazene"
    assert int(pg.inner_text("#total")) >= 1
    pg.wait_for_selector("aside.facets section[data-facet='classes'] a")  # htmx loaded the facets
    assert "nitazene" in pg.inner_text("aside.facets")
    _shot(pg, "search")

    pg.locator("ol.results a.title").first.click()
    pg.wait_for_selector("canvas#price-chart[data-drawn='1']")
    assert pg.evaluate(PAINTED, "canvas#price-chart") > 500
    assert "protonitazene" in pg.inner_text("#facts")
    tiers = pg.locator("table#offers tbody tr")  # the extracted tiers, from the SQLite document
    assert tiers.count() >= 1
    cells = tiers.first.locator("td").all_inner_texts()
    assert re.fullmatch(r"\d+ g", cells[0].strip()) and cells[1].strip().endswith("USD"), cells
    assert re.fullmatch(r"[\d,]+\.\d\d /g", cells[3].strip()), cells
    _shot(pg, "listing")

    pg.click("dl.facts a[href^='/vendor']")
    pg.wait_for_selector("#vendor-handle")
    assert pg.inner_text("#vendor-handle") == "GreenLeafPharma"
    assert "market-b" in pg.inner_text("main")
    # htmx loads the actor behind the handle: both accounts, one strong link (the shared Telegram ID)
    pg.wait_for_selector("#actor section.actor-panel")
    assert pg.locator("#actor table.actor-accounts tbody tr").count() == 2
    link = pg.locator("#actor table.actor-links tr.link.strong")
    assert link.count() == 1 and "telegram" in link.inner_text()
    _shot(pg, "vendor")
    link.locator("input[name=note]").fill("same Telegram contact on both markets")
    link.get_by_role("button", name="Confirm").click()  # a CSRF-protected POST from the page
    pg.wait_for_selector("tr.link.decided-confirmed")  # the actor page, with the decision on the link
    decided = pg.inner_text("tr.link.decided-confirmed")
    assert "confirmed by ana" in decided and "same Telegram contact" in decided, decided
    _shot(pg, "actor")

    pg.goto(f"{base}/trends")
    pg.wait_for_selector("canvas#class-chart[data-drawn='1']")
    assert pg.evaluate(PAINTED, "canvas#class-chart") > 500
    assert pg.evaluate(PAINTED, "canvas#ppg-chart") > 500
    _shot(pg, "trends")

    pg.goto(f"{base}/alerts")
    row = pg.locator("tr[data-alert='al-1']")
    row.get_by_role("button", name="Acknowledge").click()  # htmx swaps the row in place
    pg.wait_for_selector("tr[data-alert='al-1'] td.status:has-text('acknowledged by ana')")
    _shot(pg, "alerts")
    pg.goto(f"{base}/alerts?status=acknowledged")
    assert pg.locator("tr[data-alert='al-1']").count() == 1

    # plain (non-htmx) forms pass the Origin check too: a token from the account page, then log out
    pg.goto(f"{base}/account")
    pg.fill("input[name=label]", "case-2291 export")
    pg.get_by_role("button", name="Create token").click()
    pg.wait_for_selector("#new-token")
    assert len(pg.inner_text("#new-token")) >= 20 and "case-2291 export" in pg.inner_text("main")
    pg.get_by_role("button", name="Log out").click()
    pg.wait_for_selector("form[action='/login']")

    assert watch.errors == [], watch.errors  # includes any CSP violation
    assert watch.dialogs == []
    assert watch.foreign() == []


def test_script_payloads_are_text_and_never_run(page, served):
    pg, watch = page
    base, _ = served
    _login(pg, base, ANALYST)
    pg.goto(f"{base}/search?q=Oxy")
    pg.wait_for_selector("ol.results li.hit")
    assert "<img src=x onerror=" in pg.locator("ol.results a.title").first.inner_text()
    pg.goto(f"{base}/listing?key={XSS_KEY.replace(':', '%3A')}")
    title = pg.inner_text("#listing-title")
    assert title.startswith('<img src=x onerror="window.__pwned=1;alert(1)"><script>')
    assert pg.locator("main img").count() == 0 and pg.locator("main script:not([type='application/json'])").count() == 0
    pg.goto(f"{base}/listing/evidence?key={XSS_KEY.replace(':', '%3A')}&capture=cap-666")
    frame = pg.locator("iframe.evidence")
    assert frame.get_attribute("sandbox") == ""
    pg.wait_for_timeout(300)  # give a script, if one could run, the chance to
    assert "<script>window.parent.__pwned=3" in pg.inner_text("pre.source")
    pg.goto(f"{base}/alerts")
    assert "<script>window.__pwned=6</script>" in pg.inner_text("table.alerts")
    _shot(pg, "hostile")
    assert pg.evaluate("typeof window.__pwned") == "undefined"
    assert watch.dialogs == []
    assert watch.foreign() == [], "the dashboard fetched a scraped URL"
    # the captured page's tracker image was refused by the frame's CSP, before the network
    assert ("http://tracker.invalid/pixel.png", "csp") in watch.blocked


def test_analyst_cannot_reach_admin_pages(page, served):
    pg, _ = page
    base, _ = served
    _login(pg, base, ANALYST)
    assert pg.locator("header nav a[href='/sources']").count() == 0
    for path in ("/sources", "/admin/users", "/admin/audit", "/admin/rules"):
        response = pg.goto(f"{base}{path}")
        assert response is not None and response.status == 403, path
        assert "Not allowed" in pg.inner_text("h1")


def test_every_search_lands_in_the_audit_log(page, served):
    pg, _ = page
    base, data = served
    _login(pg, base, ANALYST)
    queries = ["cocaine", "class:nitazene", 'vendor:"NordicChem"', "nosuchfield:1"]
    for q in queries:
        pg.fill("input[name=q]", q)
        pg.press("input[name=q]", "Enter")
        pg.wait_for_selector("p.summary, #query-error")
    log = AuditLog(data / "audit.sqlite")
    try:
        searched = [e.target for e in reversed(log.entries(user=ANALYST[0], action="search", limit=50))]
        assert searched[-len(queries):] == queries
        assert log.verify()[0]
    finally:
        log.close()
    _login(pg, base, ADMIN)
    pg.goto(f"{base}/admin/audit?action=search")
    assert "hash chain intact" in pg.inner_text("#chain")
    assert "nosuchfield:1" in pg.inner_text("table.audit")
    _shot(pg, "audit")
