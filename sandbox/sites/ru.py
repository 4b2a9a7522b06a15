"""Тайга: a Russian-language onion market (cyrillic slang, grams, cities, dead drops).

``/`` витрина with sections, ``/catalog/<section>?p=N`` (15 a page), ``/tovar/<id>``,
``/magazin/<handle>`` (the vendor's "shop"). Prices in roubles; the city is where the
"клад" is. Structure differs from the English market on purpose: definition lists,
cards, Russian labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from narcwatch.sandbox import lexicon
from narcwatch.sandbox.http import Request, Response, html
from narcwatch.sandbox.listings import ListingData, description, listing_truth
from narcwatch.sandbox.sites._base import Site, esc
from narcwatch.sandbox.sites.vendor import market_truth, vendor_view

__all__ = ["RuMarket"]

PER_PAGE = 15


def _p(v: str | None) -> int:
    try:
        return max(1, min(int(v or 1), 10**6))
    except ValueError:
        return 1


class RuMarket(Site):
    id = "taiga-market"
    name = "Тайга"
    kind = "market"
    network = "tor"
    profile = "sandbox_ru"
    language = "ru"
    cookie = "tg_sess"

    def page(self, body: str, title: str, status: int = 200) -> Response:
        nav = "".join(f'<a class="razdel" href="/catalog/{c}">{esc(lexicon.CATEGORIES_RU[c])}</a>' for c in lexicon.CATEGORY_SLOTS)
        return html(f'<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>{esc(title)} — Тайга</title></head>'
                    f'<body><div class="shapka"><a href="/" class="logo">ТАЙГА</a><span class="slogan">Моментальные клады по СНГ</span></div>'
                    f'<div class="menu">{nav}</div><div class="kontent">{body}</div>'
                    '<div class="podval">Тайга © Все права защищены. Гарант сделок.</div></body></html>', status)

    def route(self, req: Request) -> Response:
        if not self.world.markets[self.id].up(self.hours):
            return self.unavailable()
        gated = self.gate(req)
        if gated is not None:
            return gated
        path = req.path.rstrip("/") or "/"
        if path == "/":
            ls = self.world.listings
            cards = "".join(f'<div class="razdel-card"><a href="/catalog/{c}">{esc(lexicon.CATEGORIES_RU[c])}</a>'
                            f'<span class="kol">{ls.category_upper(self.id, c, self.hours)} товаров</span></div>' for c in lexicon.CATEGORY_SLOTS)
            return self.page(f"<h1>Витрина</h1><div class='razdely'>{cards}</div>", "Витрина")
        if path.startswith("/catalog/"):
            return self.catalog(path[len("/catalog/"):], _p(req.query.get("p")))
        if path.startswith("/tovar/"):
            return self.tovar(path[len("/tovar/"):])
        if path.startswith("/magazin/"):
            return self.magazin(path[len("/magazin/"):], _p(req.query.get("p")))
        if path == "/login":
            return self.login(req, lambda body, status=200: self.page(body, "Вход", status))
        if path.startswith("/captcha/") and path.endswith(".svg"):
            return self.captcha_svg(path[len("/captcha/"):-4])
        return self.page("<h1>Страница не найдена</h1>", "404", 404)

    def _card(self, d: ListingData) -> str:
        ls = self.world.listings
        price = ls.tiers(d, self.hours, "RUB")[0][1]
        payload = self.hostile(d.key) or ""
        return (f'<div class="tovar-card" data-tovar="{d.site_id}"><a class="nazvanie" href="/tovar/{d.site_id}">{esc(d.title)}{payload}</a>'
                f'<span class="cena">{price} ₽</span><span class="gorod">{esc(d.ships_from)}</span>'
                f'<a class="magazin" href="/magazin/{quote(d.account.handle)}">{esc(d.account.handle)}</a></div>')

    def _pages(self, base: str, page: int, pages: int) -> str:
        links = []
        trap = self.faults.config.pagination_trap and self.faults.applies(self.id)
        for n in range(max(1, page - 2), min(pages, page + 2) + 1):
            links.append(f'<a class="str{" tek" if n == page else ""}" href="{base}p={n}">{n}</a>')
        if page < pages or trap:
            if page >= pages:
                self.faults.fire(self.id, "pagination_trap")
            links.append(f'<a class="dalee" href="{base}p={page + 1}">Далее →</a>')
        return f'<div class="stranicy">{"".join(links)}</div>'

    def catalog(self, cat: str, page: int) -> Response:
        if cat not in lexicon.CATEGORY_SLOTS:
            return self.page("<h1>Раздел не найден</h1>", "404", 404)
        rows, pages = self.world.listings.category_page(self.id, cat, page - 1, PER_PAGE, self.hours)
        return self.page(f'<h1>{esc(lexicon.CATEGORIES_RU[cat])}</h1><div class="tovary">{"".join(self._card(d) for d in rows)}</div>'
                         + self._pages(f"/catalog/{cat}?", page, pages), lexicon.CATEGORIES_RU[cat])

    def _find(self, site_id: str) -> ListingData | None:
        ls = self.world.listings
        j = ls.index_from_site_id(self.id, site_id)
        d = ls.get(self.id, j) if j is not None else None
        return d if d is not None and ls.visible(d, self.hours) else None

    def tovar(self, site_id: str) -> Response:
        d = self._find(site_id)
        if d is None:
            return self.page("<h1>Товар не найден или снят с продажи</h1>", "404", 404)
        ls = self.world.listings
        h = self.hours
        tiers = "".join(f'<li class="fasovka"><span class="ves">{esc(q)}</span> — <span class="cena">{p} ₽</span></li>' for q, p in ls.tiers(d, h, "RUB"))
        desc = esc(description(ls, d, h, "RUB")).replace("\n", "<br>") + (self.hostile(d.key + ":desc") or "")
        return self.page(
            f'<div class="tovar" data-tovar="{d.site_id}"><h1 class="nazvanie">{esc(d.title)}{self.hostile(d.key) or ""}</h1><dl class="svedeniya">'
            f'<dt>Магазин</dt><dd class="magazin"><a href="/magazin/{quote(d.account.handle)}">{esc(d.account.handle)}</a></dd>'
            f'<dt>Город</dt><dd class="gorod">{esc(d.ships_from)}</dd>'
            f'<dt>Раздел</dt><dd class="razdel">{esc(lexicon.CATEGORIES_RU[d.category])}</dd>'
            f'<dt>Наличие</dt><dd class="nalichie">{"Есть" if ls.available(d, h) else "Нет в наличии"}</dd></dl>'
            f'<h3>Фасовки</h3><ul class="fasovki">{tiers}</ul><div class="opisanie">{desc}</div></div>', d.title)

    def magazin(self, handle: str, page: int) -> Response:
        acc = self.world.account_by_handle(self.id, handle)
        if acc is None or not acc.active(self.hours):
            return self.page("<h1>Магазин не найден</h1>", "404", 404)
        v = vendor_view(self.world, acc, self.hours)
        rows, pages = self.world.listings.vendor_page(acc, page - 1, PER_PAGE, self.hours)
        return self.page(
            f'<div class="magazin-info" data-magazin="{esc(acc.handle)}"><h1>{esc(acc.handle)}</h1>'
            f'<dl><dt>На площадке с</dt><dd class="s">{v["joined"]}</dd><dt>Продаж</dt><dd class="prodazh">{v["sales"]}</dd>'
            f'<dt>Рейтинг</dt><dd class="reiting">{v["feedback"]}</dd></dl>'
            f'<div class="o-magazine">{esc(v["about"]).replace(chr(10), "<br>")}</div>'
            f'<pre class="pgp">{esc(v["pgp"])}</pre></div><div class="tovary">{"".join(self._card(d) for d in rows)}</div>'
            + self._pages(f"/magazin/{quote(acc.handle)}?", page, pages), acc.handle)

    def truth(self, hours: float) -> Iterator[dict[str, object]]:
        ls = self.world.listings

        def listing(d: ListingData) -> dict[str, object]:
            tiers = ls.tiers(d, hours, "RUB")
            return listing_truth(
                self.id, self.url(f"/tovar/{d.site_id}"), ls, d, hours, currency="RUB",
                category=lexicon.CATEGORIES_RU[d.category], price=tiers[0][1],
                displayed=[{"amount": tiers[0][1], "currency": "RUB"}], tiers=tiers,
                available=ls.available(d, hours), description=description(ls, d, hours, "RUB"))

        return market_truth(self, hours, listing, lambda acc: self.url(f"/magazin/{quote(acc.handle)}"))
