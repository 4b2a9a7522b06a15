"""Each source serves, paginates and shows exactly what the ground truth says."""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

import pytest
from parsel import Selector

from narcwatch.sandbox import SandboxServer, World
from narcwatch.sandbox.testing import fetch

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def truth(sandbox: SandboxServer) -> list[dict]:
    return list(sandbox.truth(0.0))


def _sample(truth: list[dict], source: str, kind: str, n: int = 12) -> list[dict]:
    rows = [r for r in truth if r.get("source") == source and r["kind"] == kind]
    assert rows, f"no {kind} records for {source}"
    step = max(1, len(rows) // n)
    return rows[::step][:n]


def _text(sel: Selector, css: str) -> str:
    return "".join(sel.css(css + " ::text").getall()).strip()


def _follow(server: SandboxServer, url: str, next_css: str, limit: int = 200) -> list[str]:
    seen = []
    while url and len(seen) < limit:
        r = fetch(server, url)
        assert r.status == 200, url
        seen.append(url)
        nxt = Selector(text=r.text).css(next_css + "::attr(href)").get()
        url = urljoin(url, nxt) if nxt else ""
    return seen


# -- pagination -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("source", "start", "next_css"), [
    ("velvet-market", "category/nitazenes", "a.next"),
    ("taiga-market", "catalog/cathinones", "a.dalee"),
    ("dredge-forum", "d/DarkNetMarkets", "a.next-page"),
    ("lotus-chem", "products", "a.next"),
])
def test_index_pages_paginate_to_an_end(sandbox: SandboxServer, source: str, start: str, next_css: str) -> None:
    pages = _follow(sandbox, sandbox.source(source).base_url + start, next_css)
    assert 2 <= len(pages) < 200
    assert len(set(pages)) == len(pages)


def test_category_pages_cover_the_truth(sandbox: SandboxServer, truth: list[dict]) -> None:
    base = sandbox.source("velvet-market").base_url
    ids = set()
    for url in _follow(sandbox, base + "category/fentanyl", "a.next"):
        ids |= set(Selector(text=fetch(sandbox, url).text).css(".listing-row::attr(data-id)").getall())
    expected = {r["site_id"] for r in truth if r.get("source") == "velvet-market" and r["kind"] == "listing"
                and r["fields"]["category"] == "Fentanyl & Analogues"}
    assert ids == expected


def test_telegram_before_pagination_reaches_the_first_message(sandbox: SandboxServer, truth: list[dict]) -> None:
    src = sandbox.source("telegram")
    url, posts = src.start_urls[0], []
    while url:
        sel = Selector(text=fetch(sandbox, url).text)
        posts = sel.css(".tgme_widget_message::attr(data-post)").getall() + posts
        prev = sel.css('link[rel="prev"]::attr(href)').get()
        url = urljoin(url, prev) if prev else ""
    channel = src.start_urls[0].rsplit("/", 1)[1]
    expected = [r["site_id"] for r in truth if r["kind"] == "message" and r["fields"]["channel"] == channel]
    assert posts == expected and len(posts) > 100


def test_spa_api_needs_the_session_token_and_scrolls_to_the_end(sandbox: SandboxServer, truth: list[dict]) -> None:
    base = sandbox.source("nebula-market").base_url
    shell = fetch(sandbox, base)
    assert 'id="app"' in shell.text and "/static/app.js" in shell.text
    assert fetch(sandbox, base + "static/app.js").headers["content-type"].startswith("application/javascript")
    token = Selector(text=shell.text).css('meta[name="nb-token"]::attr(content)').get()
    assert fetch(sandbox, base + "api/listings", cookies=shell.cookies).status == 401
    assert fetch(sandbox, base + "api/listings", cookies={"nb_sid": "forged"}, headers={"X-NB-Token": token}).status == 401
    got, cursor = [], 0
    while cursor is not None:
        r = fetch(sandbox, f"{base}api/listings?limit=48&cursor={cursor}", cookies=shell.cookies, headers={"X-NB-Token": token})
        data = json.loads(r.body)
        got += [i["id"] for i in data["items"]]
        cursor = data["next"]
    expected = [r["site_id"] for r in truth if r.get("source") == "nebula-market" and r["kind"] == "listing"]
    assert got == expected


# -- truth matches pages --------------------------------------------------------------------------------
def test_classic_listing_pages_match_truth(sandbox: SandboxServer, truth: list[dict]) -> None:
    for rec in _sample(truth, "velvet-market", "listing"):
        sel = Selector(text=fetch(sandbox, rec["url"]).text)
        f = rec["fields"]
        assert _text(sel, "h1.listing-title") == f["title"]
        assert _text(sel, "td.vendor") == f["vendor"]
        assert _text(sel, "span.usd") == f"USD {f['price']}"
        assert _text(sel, "span.btc") == f"{f['displayed_prices'][1]['amount']} BTC"
        assert _text(sel, "td.ships-from") == f["ships_from"] and _text(sel, "td.ships-to") == f["ships_to"]
        tiers = [(q, p.removesuffix(" USD")) for q, p in zip(sel.css("td.qty::text").getall(), sel.css("td.tier-price::text").getall())]
        assert tiers == [(t["quantity"], t["price"]) for t in f["tiers"]]
        desc = "\n".join(sel.css("div.description::text").getall())
        assert desc == f["description"]
        for w in rec["wallets"]:
            assert w["address"] in desc
        assert rec["substances"][0]["surface"] in f["title"]


def test_russian_listing_pages_match_truth(sandbox: SandboxServer, truth: list[dict]) -> None:
    for rec in _sample(truth, "taiga-market", "listing"):
        sel = Selector(text=fetch(sandbox, rec["url"]).text)
        f = rec["fields"]
        assert _text(sel, "h1.nazvanie") == f["title"]
        assert _text(sel, "dd.gorod") == f["ships_from"]
        assert sel.css("li.fasovka span.cena::text").getall() == [f"{t['price']} ₽" for t in f["tiers"]]
        assert re.search(r"[а-яё]", f["description"])


def test_spa_listing_api_matches_truth(sandbox: SandboxServer, truth: list[dict]) -> None:
    base = sandbox.source("nebula-market").base_url
    shell = fetch(sandbox, base)
    token = Selector(text=shell.text).css('meta[name="nb-token"]::attr(content)').get()
    for rec in _sample(truth, "nebula-market", "listing"):
        page = fetch(sandbox, rec["url"], cookies=shell.cookies)
        assert page.status == 200 and 'id="app"' in page.text
        d = json.loads(fetch(sandbox, rec["api_url"], cookies=shell.cookies, headers={"X-NB-Token": token}).body)
        f = rec["fields"]
        assert (d["title"], d["vendor"], d["price"]["amount"], d["description"]) == (f["title"], f["vendor"], f["price"], f["description"])
        assert [(t["quantity"], t["price"]) for t in d["tiers"]] == [(t["quantity"], t["price"]) for t in f["tiers"]]


@pytest.mark.parametrize("source", ["velvet-market", "taiga-market"])
def test_vendor_pages_show_the_key_of_truth(sandbox: SandboxServer, truth: list[dict], source: str) -> None:
    for rec in _sample(truth, source, "vendor", 5):
        sel = Selector(text=fetch(sandbox, rec["url"]).text)
        key = (sel.css("pre.pgp-key::text").get() or sel.css("pre.pgp::text").get() or "").strip()
        assert key == rec["fields"]["pgp_key"]


def test_forum_posts_match_truth(sandbox: SandboxServer, truth: list[dict]) -> None:
    for rec in _sample(truth, "dredge-forum", "post", 20):
        url, _, anchor = rec["url"].partition("#")
        sel = Selector(text=fetch(sandbox, url).text)
        post = sel.css(f"div.comment#{anchor}")
        assert "".join(post.css("pre.md ::text").getall()) == rec["fields"]["text"]
        assert _text(post, "a.user") == f"/u/{rec['fields']['author']}"


def test_forum_announcements_are_signed_and_carry_wallets(truth: list[dict]) -> None:
    ann = [r for r in truth if r["kind"] == "post" and r["fields"]["subforum"] == "Vendors" and r["site_id"].endswith("-0")]
    assert ann
    for r in ann:
        assert r["fields"]["text"].startswith("-----BEGIN PGP SIGNED MESSAGE-----")
        assert r["wallets"] and any(i["kind"] == "pgp_fingerprint" for i in r["identifiers"])


def test_telegram_messages_match_truth(sandbox: SandboxServer, truth: list[dict]) -> None:
    src = sandbox.source("telegram")
    for rec in _sample(truth, "telegram", "message", 8):
        sel = Selector(text=fetch(sandbox, rec["url"]).text)
        msg = sel.css(f'.tgme_widget_message[data-post="{rec["site_id"]}"]')
        assert "\n".join(msg.css(".tgme_widget_message_text::text").getall()) == rec["fields"]["text"]
        assert msg.css("time::attr(datetime)").get() == rec["fields"]["posted_at"]
    assert src.network == "clearnet"


def test_shop_products_match_truth(sandbox: SandboxServer, truth: list[dict]) -> None:
    for rec in _sample(truth, "lotus-chem", "product", 30):
        sel = Selector(text=fetch(sandbox, rec["url"]).text)
        assert _text(sel, "td.cas-number") == rec["fields"]["cas_shown"]
        assert _text(sel, "h1.product_title") == rec["fields"]["title"]
        codes = sel.css("p.payment code::text").getall()
        assert codes == [w["address"] for w in rec["wallets"]]


# -- determinism of served bytes --------------------------------------------------------------------------
def _snapshot(server: SandboxServer) -> list[bytes]:
    out = []
    for s in server.sources:
        for path in ("", "category/opioids", "catalog/opioids", "d/Vendors", "products"):
            out.append(fetch(server, s.start_urls[0] if not path else s.base_url + path).body)
    vel = server.source("velvet-market").base_url
    for sid in ("100000", "100417", "100899"):
        out.append(fetch(server, vel + "listing/" + sid).body)
    return out


def test_same_seed_same_bytes_different_seed_differs() -> None:
    with SandboxServer(World(3, "tiny")) as a, SandboxServer(World(3, "tiny")) as b, SandboxServer(World(4, "tiny")) as c:
        sa = [x.replace(a.source("telegram").host.encode(), b"H").replace(a.source("lotus-chem").host.encode(), b"H") for x in _snapshot(a)]
        sb = [x.replace(b.source("telegram").host.encode(), b"H").replace(b.source("lotus-chem").host.encode(), b"H") for x in _snapshot(b)]
        sc = _snapshot(c)
        assert sa == sb
        assert sum(x != y for x, y in zip(sa, sc)) > len(sa) // 2
