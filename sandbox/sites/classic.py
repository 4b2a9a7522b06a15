"""Velvet Bazaar: a classic server-rendered onion market (2014–2024 style).

Pages: ``/`` (category tree, latest), ``/category/<slug>?page=N`` (20 a page, 1-based),
``/search?q=&page=``, ``/listing/<id>``, ``/vendor/<handle>?page=N``, ``/login`` (username,
password, image CAPTCHA at ``/captcha/<id>.svg``), ``/logout``. Prices in USD with BTC and
XMR at the market's displayed rate of the day.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from narcwatch.sandbox import lexicon
from narcwatch.sandbox.http import Request, Response, html, redirect, text
from narcwatch.sandbox.listings import ListingData, description, fmt_money, listing_truth
from narcwatch.sandbox.sites._base import Site, esc
from narcwatch.sandbox.sites.vendor import market_truth, vendor_view
from narcwatch.sandbox.world import Account

__all__ = ["ClassicMarket"]

PER_PAGE = 20
SEARCH_WINDOW = 5000  # search scans the newest listings only (as real markets' search does)


def _page(n: str | None) -> int:
    try:
        return max(1, min(int(n or 1), 10**6))
    except ValueError:
        return 1


class ClassicMarket(Site):
    id = "velvet-market"
    name = "Velvet Bazaar"
    kind = "market"
    network = "tor"
    profile = "sandbox_classic"
    cookie = "vb_session"

    # -- chrome --------------------------------------------------------------------------------
    def page(self, body: str, title: str = "", status: int = 200) -> Response:
        h = self.hours
        btc = fmt_money(1 / self.world.rate("BTC", h), "USD")
        xmr = fmt_money(1 / self.world.rate("XMR", h), "USD")
        cats = "".join(f'<li><a href="/category/{c}">{esc(lexicon.CATEGORIES[c])}</a></li>' for c in lexicon.CATEGORY_SLOTS)
        return html(
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title or self.name)} | {self.name}</title>"
            "<link rel='stylesheet' href='/static/style.css'></head><body>"
            f"<div id='header'><a href='/' class='logo'>{self.name}</a>"
            f"<span class='rates'>1 BTC = <b class='rate-btc'>{btc}</b> USD · 1 XMR = <b class='rate-xmr'>{xmr}</b> USD</span>"
            "<form action='/search' class='search'><input name='q'><button>Search</button></form>"
            "<a href='/login' class='login-link'>Login</a></div>"
            f"<div id='sidebar'><h3>Categories</h3><ul class='categories'>{cats}</ul></div>"
            f"<div id='content'>{body}</div><div id='footer'>{self.name} · escrow · PGP · since 2019</div>"
            "</body></html>", status)

    # -- routes --------------------------------------------------------------------------------
    def route(self, req: Request) -> Response:
        m = self.world.markets[self.id]
        if not m.up(self.hours):
            return self.unavailable()
        gated = self.gate(req)
        if gated is not None:
            return gated
        path = req.path
        if path == "/":
            return self.home()
        if path.startswith("/category/"):
            return self.category(path[len("/category/"):].strip("/"), _page(req.query.get("page")))
        if path.startswith("/listing/"):
            return self.listing(req, path[len("/listing/"):].strip("/"))
        if path.startswith("/vendor/"):
            return self.vendor(path[len("/vendor/"):].strip("/"), _page(req.query.get("page")))
        if path == "/search":
            return self.search(req.query.get("q", ""), _page(req.query.get("page")))
        if path == "/login":
            return self.login(req, lambda body, status=200: self.page(body, "Login", status))
        if path.startswith("/captcha/") and path.endswith(".svg"):
            return self.captcha_svg(path[len("/captcha/"):-4])
        if path == "/logout":
            return redirect("/", headers=[("Set-Cookie", f"{self.cookie}=; Path=/; Max-Age=0")])
        if path == "/static/style.css":
            return text("body{font-family:sans-serif}.listing-row{border-bottom:1px solid #ccc}", content_type="text/css")
        return self.page("<h1>404</h1><p>Page not found</p>", "Not found", 404)

    def home(self) -> Response:
        h = self.hours
        ls = self.world.listings
        tree = []
        for c in lexicon.CATEGORY_SLOTS:
            n = ls.category_upper(self.id, c, h)
            tree.append(f'<li class="cat"><a href="/category/{c}">{esc(lexicon.CATEGORIES[c])}</a> <span class="count">({n})</span></li>')
        n = self.world.markets[self.id].created_count(h)
        latest = [d for j in range(n - 1, max(-1, n - 40), -1) if (d := ls.get(self.id, j)) and ls.visible(d, h)][:10]
        return self.page(f'<h1>Welcome to {self.name}</h1><ul class="category-tree">{"".join(tree)}</ul>'
                         f'<h2>Latest listings</h2><div class="listings">{"".join(self._row(d) for d in latest)}</div>')

    def _row(self, d: ListingData) -> str:
        h = self.hours
        usd = self.world.listings.tiers(d, h, "USD")[0][1]
        title = self._title(d)
        return (f'<div class="listing-row" data-id="{d.site_id}"><a class="listing-link" href="/listing/{d.site_id}">{title}</a>'
                f' <span class="row-vendor">by <a href="/vendor/{esc(d.account.handle)}">{esc(d.account.handle)}</a></span>'
                f' <span class="row-price">USD {usd}</span> <span class="row-ships">{esc(d.ships_from)} → {esc(d.ships_to)}</span>'
                + ("" if self.world.listings.available(d, h) else ' <span class="sold-out">SOLD OUT</span>') + "</div>")

    def _title(self, d: ListingData) -> str:
        payload = self.hostile(d.key)
        return esc(d.title) + (payload if payload else "")

    def _pager(self, base: str, page: int, pages: int) -> str:
        links = []
        if page > 1:
            links.append(f'<a class="prev" rel="prev" href="{base}page={page - 1}">&laquo; Prev</a>')
        links.append(f'<span class="page-info">Page {page} of {pages}</span>')
        trap = self.faults.config.pagination_trap and self.faults.applies(self.id)
        if page < pages or trap:
            if trap and page >= pages:
                self.faults.fire(self.id, "pagination_trap")
            links.append(f'<a class="next" rel="next" href="{base}page={page + 1}">Next &raquo;</a>')
        return f'<div class="pagination">{"".join(links)}</div>'

    def category(self, slug: str, page: int) -> Response:
        if slug not in lexicon.CATEGORY_SLOTS:
            return self.page("<h1>404</h1><p>No such category</p>", "Not found", 404)
        rows, pages = self.world.listings.category_page(self.id, slug, page - 1, PER_PAGE, self.hours)
        trap = self.faults.config.pagination_trap and self.faults.applies(self.id)
        if page > pages and not trap:
            return self.page("<h1>404</h1><p>No such page</p>", "Not found", 404)
        body = (f'<h1 class="category-title">{esc(lexicon.CATEGORIES[slug])}</h1>'
                f'<div class="listings">{"".join(self._row(d) for d in rows) or "<p class=empty>No listings</p>"}</div>'
                + self._pager(f"/category/{slug}?", page, pages))
        return self.page(body, lexicon.CATEGORIES[slug])

    def search(self, q: str, page: int) -> Response:
        q = q.strip().lower()[:100]
        h = self.hours
        ls = self.world.listings
        n = self.world.markets[self.id].created_count(h)
        hits = []
        if q:
            for j in range(n - 1, max(-1, n - 1 - SEARCH_WINDOW), -1):
                d = ls.get(self.id, j)
                if d and ls.visible(d, h) and q in d.title.lower():
                    hits.append(d)
        pages = max(1, math.ceil(len(hits) / PER_PAGE))
        rows = hits[(page - 1) * PER_PAGE: page * PER_PAGE]
        body = (f'<h1>Search: {esc(q)}</h1><p class="hits">{len(hits)} results</p>'
                f'<div class="listings">{"".join(self._row(d) for d in rows)}</div>'
                + self._pager(f"/search?q={esc(q)}&", page, pages))
        return self.page(body, "Search")

    def _find(self, site_id: str) -> ListingData | None:
        ls = self.world.listings
        j = ls.index_from_site_id(self.id, site_id)
        d = ls.get(self.id, j) if j is not None else None
        return d if d is not None and ls.visible(d, self.hours) else None

    def listing(self, req: Request, site_id: str) -> Response:
        every = self.faults.config.redirect_loop_every if self.faults.applies(self.id) else 0
        if every and site_id.isdigit() and int(site_id) % every == 0:
            self.faults.fire(self.id, "redirect_loop")
            hop = int(req.query.get("r", "0") or 0) if req.query.get("r", "0").isdigit() else 0
            return redirect(f"/listing/{site_id}?r={(hop + 1) % 2}")
        d = self._find(site_id)
        if d is None:
            return self.page("<h1>Listing not found</h1><p>This listing was removed or never existed.</p>", "Not found", 404)
        v = self.view(d, self.hours)
        tiers = "".join(f'<tr class="tier"><td class="qty">{esc(q)}</td><td class="tier-price">{p} USD</td></tr>' for q, p in v["tiers"])
        payload = self.hostile(d.key + ":desc")
        desc = esc(v["description"]).replace("\n", "<br>") + (payload or "")
        body = (
            f'<div class="listing" id="listing-{d.site_id}" data-listing-id="{d.site_id}">'
            f'<div class="breadcrumb"><a href="/">Home</a> › <a href="/category/{d.category}">{esc(lexicon.CATEGORIES[d.category])}</a></div>'
            f'<h1 class="listing-title">{self._title(d)}</h1><table class="listing-info">'
            f'<tr><th>Vendor</th><td class="vendor"><a href="/vendor/{esc(d.account.handle)}">{esc(d.account.handle)}</a></td></tr>'
            f'<tr><th>Price</th><td class="price"><span class="usd">USD {v["usd"]}</span> '
            f'<span class="btc">{v["btc"]} BTC</span> <span class="xmr">{v["xmr"]} XMR</span></td></tr>'
            f'<tr><th>Ships from</th><td class="ships-from">{esc(d.ships_from)}</td></tr>'
            f'<tr><th>Ships to</th><td class="ships-to">{esc(d.ships_to)}</td></tr>'
            f'<tr><th>Escrow</th><td class="escrow">{"Yes" if d.escrow else "No (FE)"}</td></tr>'
            f'<tr><th>Stock</th><td class="stock">{"In stock" if v["available"] else "SOLD OUT"}</td></tr></table>'
            f'<h3>Price tiers</h3><table class="tiers">{tiers}</table>'
            f'<h3>Description</h3><div class="description">{desc}</div></div>')
        return self.page(body, d.title)

    def view(self, d: ListingData, h: float) -> dict[str, object]:
        ls = self.world.listings
        usd_tiers = ls.tiers(d, h, "USD")
        usd1 = float(usd_tiers[0][1])
        return {"tiers": usd_tiers, "usd": usd_tiers[0][1], "btc": fmt_money(usd1 * self.world.rate("BTC", h), "BTC"),
                "xmr": fmt_money(usd1 * self.world.rate("XMR", h), "XMR"), "available": ls.available(d, h),
                "description": description(ls, d, h, "USD")}

    def vendor(self, handle: str, page: int) -> Response:
        acc = self.world.account_by_handle(self.id, handle)
        h = self.hours
        if acc is None or not acc.active(h):
            return self.page("<h1>Vendor not found</h1><p>This vendor does not exist or was banned.</p>", "Not found", 404)
        rows, pages = self.world.listings.vendor_page(acc, page - 1, PER_PAGE, h)
        v = self.vendor_view(acc, h)
        body = (f'<div class="vendor-profile" data-vendor="{esc(acc.handle)}"><h1 class="vendor-name">{esc(acc.handle)}</h1>'
                f'<table class="vendor-info"><tr><th>Joined</th><td class="joined">{v["joined"]}</td></tr>'
                f'<tr><th>Sales</th><td class="sales">{v["sales"]}</td></tr>'
                f'<tr><th>Feedback</th><td class="feedback">{v["feedback"]}</td></tr></table>'
                f'<h3>About</h3><div class="about">{esc(v["about"]).replace(chr(10), "<br>")}</div>'
                f'<h3>PGP</h3><pre class="pgp-key">{esc(v["pgp"])}</pre>'
                f'<h3>Listings</h3><div class="listings">{"".join(self._row(d) for d in rows)}</div>'
                + self._pager(f"/vendor/{esc(acc.handle)}?", page, pages) + "</div>")
        return self.page(body, acc.handle)

    def vendor_view(self, acc: Account, h: float) -> dict[str, object]:
        return vendor_view(self.world, acc, h)

    # -- ground truth --------------------------------------------------------------------------
    def truth(self, hours: float) -> Iterator[dict[str, object]]:
        ls = self.world.listings

        def listing(d: ListingData) -> dict[str, object]:
            v = self.view(d, hours)
            return listing_truth(
                self.id, self.url(f"/listing/{d.site_id}"), ls, d, hours, currency="USD",
                category=lexicon.CATEGORIES[d.category], price=v["usd"],  # type: ignore[arg-type]
                displayed=[{"amount": v["usd"], "currency": "USD"}, {"amount": v["btc"], "currency": "BTC"},  # type: ignore[list-item]
                           {"amount": v["xmr"], "currency": "XMR"}],
                tiers=v["tiers"], available=v["available"], description=v["description"])  # type: ignore[arg-type]

        return market_truth(self, hours, listing, lambda acc: self.url(f"/vendor/{acc.handle}"))
