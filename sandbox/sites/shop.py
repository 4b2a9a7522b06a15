"""Lotus Meadow Chemical: a clearnet B2B "chemical supplier" storefront (fictional).

``/`` featured products, ``/products?page=N`` (12 a page), ``/product/<slug>``,
``/contact``. Product pages give the name, CAS number, purity, minimum order, price per
kg, payment (USDT-TRC20, BTC) and contacts (Telegram, Wickr, WhatsApp, Session), in the
style such shops use. One product carries a mistyped CAS number (a decoy in truth).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from narcwatch.sandbox._rng import material, rng
from narcwatch.sandbox.http import Request, Response, html
from narcwatch.sandbox.ids.cas import cas_decoy
from narcwatch.sandbox.lexicon import PRECURSOR_CHEMICALS, Chemical
from narcwatch.sandbox.sites._base import Site, esc

__all__ = ["PrecursorShop"]

PER_PAGE = 12


@dataclass(frozen=True)
class Product:
    slug: str
    chem: Chemical
    name: str
    purity: int
    min_order: str
    usd_per_kg: int
    cas_shown: str
    cas_decoy: bool


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


class PrecursorShop(Site):
    id = "lotus-chem"
    name = "Lotus Meadow Chemical"
    kind = "shop"
    network = "clearnet"
    profile = "sandbox_shop"

    def products(self) -> list[Product]:
        out = []
        for i, chem in enumerate(PRECURSOR_CHEMICALS):
            for v, name in enumerate(chem.names):
                r = rng(self.seed, "shop", chem.canonical, v)
                decoy = chem.cls != "other" and i == 1 and v == 1
                out.append(Product(_slug(f"{name}-{chem.cas}"), chem, name, chem.purity if v == 0 else r.choice([98, 99]),
                                   r.choice(["100 g", "1 kg", "5 kg", "10 kg"]), r.randint(*chem.usd_per_kg),
                                   cas_decoy(chem.cas) if decoy else chem.cas, decoy))
        return out

    @property
    def owner(self):  # type: ignore[no-untyped-def]
        return self.world.persons[2 % len(self.world.persons)]

    def contacts(self) -> dict[str, str]:
        p = self.owner
        phone = f"+44 7700 900{100 + p.index % 900:03d}"  # Ofcom's drama range: never a real number
        return {"telegram": p.contacts["telegram"], "wickr": p.contacts.get("wickr", p.handle.lower() + "_chem"),
                "whatsapp": phone, "session": p.contacts.get("session") or "05" + material(self.seed, "shop-session", n=32).hex()}

    def page(self, body: str, title: str, status: int = 200) -> Response:
        c = self.contacts()
        return html(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)} - {self.name}</title></head><body>"
                    f"<header class='site-header'><a class='brand' href='/'>{self.name}</a>"
                    "<nav><a href='/products'>Products</a> <a href='/contact'>Contact us</a></nav>"
                    f"<div class='topbar-contact'>WhatsApp: {esc(c['whatsapp'])} · Telegram: {esc(c['telegram'])}</div></header>"
                    f"<div class='main'>{body}</div><footer>© {self.name} Co., Ltd. Professional supplier of fine chemicals.</footer></body></html>",
                    status)

    def route(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        prods = self.products()
        if path == "/":
            cards = "".join(self._card(p) for p in prods[:6])
            return self.page(f"<h1>Fine chemicals, fast shipping</h1><div class='product-grid'>{cards}</div>", "Home")
        if path == "/products":
            try:
                page = max(1, int(req.query.get("page", "1")))
            except ValueError:
                page = 1
            pages = max(1, math.ceil(len(prods) / PER_PAGE))
            cards = "".join(self._card(p) for p in prods[(page - 1) * PER_PAGE: page * PER_PAGE])
            nxt = f"<a class='next page-numbers' href='/products?page={page + 1}'>→</a>" if page < pages else ""
            return self.page(f"<h1>All products</h1><div class='product-grid'>{cards}</div><nav class='woocommerce-pagination'>{nxt}</nav>", "Products")
        if path.startswith("/product/"):
            slug = path[len("/product/"):]
            p = next((x for x in prods if x.slug == slug), None)
            if p is None:
                return self.page("<h1>Product not found</h1>", "Not found", 404)
            return self.page(self._detail(p), p.name)
        if path == "/contact":
            c = self.contacts()
            rows = "".join(f"<li class='contact-{k}'>{k.capitalize()}: {esc(v)}</li>" for k, v in c.items())
            return self.page(f"<h1>Contact us</h1><p>Contact us on Telegram/Wickr/WhatsApp/Session for the best price.</p><ul>{rows}</ul>", "Contact")
        return self.page("<h1>404</h1>", "Not found", 404)

    def _card(self, p: Product) -> str:
        return (f"<div class='product-card'><a class='product-link' href='/product/{p.slug}'>{esc(p.name)}</a>"
                f"<span class='cas'>CAS {esc(p.cas_shown)}</span></div>")

    def _detail(self, p: Product) -> str:
        w = self.owner.wallets
        c = self.contacts()
        return (f"<div class='product' data-slug='{p.slug}'><h1 class='product_title'>{esc(p.name)}</h1>"
                f"<table class='shop_attributes'><tr><th>CAS No.</th><td class='cas-number'>{esc(p.cas_shown)}</td></tr>"
                f"<tr><th>Purity</th><td class='purity'>{p.purity}%</td></tr>"
                f"<tr><th>MOQ</th><td class='moq'>{esc(p.min_order)}</td></tr>"
                f"<tr><th>Price</th><td class='price'>USD {p.usd_per_kg}/kg</td></tr>"
                "<tr><th>Delivery</th><td>Door to door, 7-15 days, 100% safe customs clearance</td></tr></table>"
                f"<div class='description'><p>{esc(p.name)} (CAS {esc(p.cas_shown)}) in stock, high purity {p.purity}%, "
                f"white powder. Minimum order {esc(p.min_order)}. Contact us on Telegram/Wickr/WhatsApp/Session.</p>"
                f"<p class='payment'>Payment: USDT-TRC20 <code>{w['TRX'].address}</code> or BTC <code>{w['BTC'].address}</code></p>"
                f"<p class='contacts'>Telegram: {esc(c['telegram'])} | Wickr: {esc(c['wickr'])} | WhatsApp: {esc(c['whatsapp'])} | "
                f"Session: {esc(c['session'])}</p></div></div>")

    def truth(self, hours: float) -> Iterator[dict[str, object]]:
        w = self.owner.wallets
        c = self.contacts()
        for p in self.products():
            yield {"source": self.id, "url": self.url(f"/product/{p.slug}"), "kind": "product", "site_id": p.slug,
                   "fields": {"title": p.name, "vendor": self.name, "price": str(p.usd_per_kg), "currency": "USD",
                              "price_unit": "kg", "purity": p.purity, "min_order": p.min_order, "cas_shown": p.cas_shown},
                   "substances": [{"canonical": p.chem.canonical, "class": p.chem.cls, "surface": p.name, "plain": p.name,
                                   "evasion": None, "cas": p.chem.cas}],
                   "offers": [{"quantity": "1", "unit": "kg", "purity": p.purity, "price": str(p.usd_per_kg), "currency": "USD"}],
                   "wallets": [{"chain": x.chain, "network": x.network, "address": x.address, "kind": x.kind} for x in (w["TRX"], w["BTC"])],
                   "decoys": [{"kind": "cas", "value": p.cas_shown}] if p.cas_decoy else [],
                   "identifiers": [{"kind": k if k != "whatsapp" else "phone", "value": v} for k, v in c.items()],
                   "cas": [] if p.cas_decoy else [p.cas_shown], "person": self.owner.id}
