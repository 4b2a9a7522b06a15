"""Nebula Market: a client-rendered onion market. Without JavaScript there is nothing.

Every HTML page (``/``, ``/c/<cat>``, ``/item/<id>``, ``/vendor/<handle>``) is the same
shell: a ``<div id="app">``, a per-session token in ``<meta name="nb-token">`` and
``/static/app.js``, which builds the page from the JSON API:

* ``GET /api/listings?cursor=N&limit=24[&cat=]`` → ``{"items": [...], "next": N|null}``
  (infinite scroll: the script asks for the next cursor when the user nears the bottom);
* ``GET /api/listing/<id>``, ``GET /api/vendor/<handle>``.

The API answers 401 unless the ``X-NB-Token`` header matches the session cookie, so a
crawler needs a real browser or must discover the token the way the script does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from narcwatch.sandbox import lexicon
from narcwatch.sandbox._rng import h64
from narcwatch.sandbox.http import Request, Response, html
from narcwatch.sandbox.listings import ListingData, description, listing_truth
from narcwatch.sandbox.sites._base import Site
from narcwatch.sandbox.sites.vendor import market_truth, vendor_view

__all__ = ["SpaMarket"]

_JS = (Path(__file__).resolve().parent.parent / "static" / "nebula.js").read_bytes()
MAX_LIMIT = 48


def _json(data: object, status: int = 200) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False).encode(), [("Cache-Control", "no-store")],
                    "application/json; charset=utf-8")


class SpaMarket(Site):
    id = "nebula-market"
    name = "Nebula Market"
    kind = "market"
    network = "tor"
    profile = "sandbox_spa"
    cookie = "nb_sid"

    def token_for(self, sid: str) -> str:
        return f"{h64(self.seed, 'nb-token', sid):016x}"

    def route(self, req: Request) -> Response:
        if not self.world.markets[self.id].up(self.hours):
            return self.unavailable()
        path = req.path
        if path == "/static/app.js":
            return Response(200, _JS, [("Cache-Control", "max-age=3600")], "application/javascript; charset=utf-8")
        if path.startswith("/api/"):
            sid = req.cookies.get(self.cookie, "")
            if not sid or req.headers.get("x-nb-token") != self.token_for(sid):
                return _json({"error": "invalid or missing token"}, 401)
            return self.api(req, path[5:])
        return self.shell(req)

    def shell(self, req: Request) -> Response:
        sid = req.cookies.get(self.cookie)
        headers = []
        if not sid:
            with self._lock:
                self._counter += 1
                sid = f"{h64(self.seed, 'nb-sid', self._counter):016x}"
            headers.append(("Set-Cookie", f"{self.cookie}={sid}; Path=/; HttpOnly"))
        body = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Nebula Market</title>'
                f'<meta name="nb-token" content="{self.token_for(sid)}"></head>'
                '<body><header class="nb-header"><a href="/">Nebula Market</a></header>'
                '<noscript>Nebula Market needs JavaScript.</noscript><div id="app"></div>'
                '<script src="/static/app.js"></script></body></html>')
        return html(body, 200, headers)

    def _summary(self, d: ListingData) -> dict[str, object]:
        price = self.world.listings.tiers(d, self.hours, "EUR")[0][1]
        return {"id": d.site_id, "title": d.title + (self.hostile(d.key) or ""), "vendor": d.account.handle,
                "price": {"amount": price, "currency": "EUR"}, "ships_from": d.ships_from, "ships_to": d.ships_to,
                "category": d.category}

    def api(self, req: Request, what: str) -> Response:
        ls = self.world.listings
        h = self.hours
        if what == "listings":
            try:
                cursor = max(0, int(req.query.get("cursor", "0")))
                limit = max(1, min(MAX_LIMIT, int(req.query.get("limit", "24"))))
            except ValueError:
                return _json({"error": "bad cursor or limit"}, 400)
            cat = req.query.get("cat", "")
            if cat and cat not in lexicon.CATEGORY_SLOTS:
                return _json({"error": f"unknown category; valid: {sorted(lexicon.CATEGORY_SLOTS)}"}, 400)
            upper = ls.stream_bound(self.id, cat, h)
            items, pos = [], cursor
            while pos < upper and len(items) < limit:
                j = ls.stream_index(self.id, cat, pos, h)
                d = ls.get(self.id, j) if j is not None else None
                if d is not None and ls.visible(d, h):
                    items.append(self._summary(d))
                pos += 1
            trap = self.faults.config.pagination_trap and self.faults.applies(self.id)
            if trap and pos >= upper:
                self.faults.fire(self.id, "pagination_trap")
            return _json({"items": items, "next": pos if pos < upper or trap else None})
        if what.startswith("listing/"):
            j = ls.index_from_site_id(self.id, what[8:])
            d = ls.get(self.id, j) if j is not None else None
            if d is None or not ls.visible(d, h):
                return _json({"error": "not found"}, 404)
            return _json(self.detail(d, h))
        if what.startswith("vendor/"):
            acc = self.world.account_by_handle(self.id, what[7:])
            if acc is None or not acc.active(h):
                return _json({"error": "not found"}, 404)
            v = vendor_view(self.world, acc, h)
            return _json({"handle": acc.handle, "joined": v["joined"], "sales": v["sales"], "feedback": v["feedback"],
                          "about": v["about"], "pgp": v["pgp"]})
        return _json({"error": "unknown endpoint"}, 404)

    def detail(self, d: ListingData, h: float) -> dict[str, object]:
        ls = self.world.listings
        tiers = ls.tiers(d, h, "EUR")
        return {**self._summary(d), "tiers": [{"quantity": q, "price": p} for q, p in tiers], "escrow": d.escrow,
                "available": ls.available(d, h), "description": description(ls, d, h, "EUR") + (self.hostile(d.key + ":desc") or "")}

    def truth(self, hours: float) -> Iterator[dict[str, object]]:
        ls = self.world.listings

        def listing(d: ListingData) -> dict[str, object]:
            tiers = ls.tiers(d, hours, "EUR")
            return listing_truth(
                self.id, self.url(f"/item/{d.site_id}"), ls, d, hours, currency="EUR",
                category=lexicon.CATEGORIES[d.category], price=tiers[0][1],
                displayed=[{"amount": tiers[0][1], "currency": "EUR"}], tiers=tiers,
                available=ls.available(d, hours), description=description(ls, d, hours, "EUR"),
                api_url=self.url(f"/api/listing/{d.site_id}"))

        return market_truth(self, hours, listing, lambda acc: self.url(f"/vendor/{acc.handle}"))


