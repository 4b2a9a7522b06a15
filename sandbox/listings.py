"""Listings derived on demand: listing ``j`` of a market is a pure function of (seed, j).

Category pages and vendor pages must paginate a million listings without scanning them,
so the index space is laid out in blocks of 100: each block holds every category in its
fixed share (``lexicon.CATEGORY_SLOTS``), shuffled per block. The k-th listing of a
category is then found arithmetically, and the sellers of a category take its listings
round-robin, so a vendor's k-th listing is arithmetic too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from narcwatch.sandbox import lexicon
from narcwatch.sandbox._rng import h64, rng, unit
from narcwatch.sandbox.evasion import EVASIONS, evade
from narcwatch.sandbox.world import NEVER, Account, Market, World

__all__ = ["BLOCK", "ListingData", "Listings", "fmt_money"]

BLOCK = 100
_CATS = list(lexicon.CATEGORY_SLOTS)
_START: dict[str, int] = {}
_acc = 0
for _c in _CATS:
    _START[_c] = _acc
    _acc += lexicon.CATEGORY_SLOTS[_c]
_SLOT_CAT = [c for c in _CATS for _ in range(lexicon.CATEGORY_SLOTS[c])]
_BY_CAT = {c: [s for s in lexicon.SUBSTANCES if s.category == c] for c in _CATS}
_NEBULA_MUL, _NEBULA_OFF = 2654435761, 0x5EED
_NEBULA_INV = pow(_NEBULA_MUL, -1, 2**32)

SHIPS_FROM = [("Germany", "DE"), ("DE", "DE"), ("Netherlands", "NL"), ("NL", "NL"), ("United Kingdom", "GB"),
              ("UK", "GB"), ("USA", "US"), ("United States", "US"), ("Canada", "CA"), ("Spain", "ES"),
              ("Poland", "PL"), ("Australia", "AU"), ("China", "CN"), ("India", "IN"), ("France", "FR"),
              ("Czech Republic", "CZ"), ("Belgium", "BE")]
SHIPS_TO = [("Worldwide", ("WW",)), ("WW", ("WW",)), ("EU", ("EU",)), ("Europe", ("EU",)), ("Germany", ("DE",)),
            ("USA only", ("US",)), ("UK", ("GB",)), ("EU, UK", ("EU", "GB")), ("Worldwide except USA", ("WW",)),
            ("Australia", ("AU",)), ("Canada, USA", ("CA", "US"))]
RU_CITIES = [("Москва", "RU"), ("Санкт-Петербург", "RU"), ("Екатеринбург", "RU"), ("Новосибирск", "RU"),
             ("Казань", "RU"), ("Краснодар", "RU"), ("Самара", "RU"), ("Минск", "BY"), ("Алматы", "KZ")]
_QTY_G = [(1, 2, 5, 10), (1, 3.5, 7, 14, 28), (0.5, 1, 2, 5), (5, 10, 25, 50, 100), (1, 5, 10, 25)]
_QTY_U = [(10, 25, 50, 100), (5, 10, 20, 50), (1, 10, 100)]
_STEALTH = ["Vacuum sealed, MBL stealth.", "Double vac, smell proof, tracked on request.",
            "Discreet packaging, ships within 24h.", "FE for trusted buyers only.", "Reship 50% if lost."]
_INTRO = ["Top quality {n} straight from the source.", "Restocked! Same batch of {n} as before.",
          "Premium {n}, lab tested.", "Best {n} on the market, compare our prices.", "{n} - new batch, fire quality."]
_RU_INTRO = ["{n} высшего качества.", "Новая партия: {n}.", "{n}, отличное качество, проверено.",
             "Лучший {n} в городе."]


def fmt_money(value: float, currency: str) -> str:
    """Market display rounding: whole units for fiat, 50 for RUB, 5 decimals for BTC."""
    if currency == "RUB":
        return str(int(round(value / 50.0) * 50) or 50)
    if currency in ("BTC",):
        return str(Decimal(value).quantize(Decimal("0.00001"), ROUND_HALF_UP))
    if currency in ("XMR", "LTC"):
        return str(Decimal(value).quantize(Decimal("0.001"), ROUND_HALF_UP))
    return str(max(1, int(Decimal(value).quantize(Decimal("1"), ROUND_HALF_UP))))


def _qty(q: float) -> str:
    return str(int(q)) if q == int(q) else str(q)


@dataclass(frozen=True)
class ListingData:
    """The static part of one listing; time-dependent state comes from ``Listings``."""

    market: str
    j: int
    site_id: str
    category: str
    k: int  # index within its category on this market
    canonical: str
    cls: str
    cas: str | None
    account: Account
    created: float
    sold_out_at: float
    removed_at: float
    plain: str  # the name before evasion
    surface: str  # the name as shown
    evasion: str | None
    title: str
    unit: str  # g | unit
    purity: int | None
    quantities: tuple[float, ...]
    base_usd: tuple[float, ...]
    ships_from: str
    ships_from_code: str
    ships_to: str
    ships_to_codes: tuple[str, ...]
    escrow: bool
    intro: str
    stealth: str
    contact: tuple[str, str] | None  # (kind, value)
    wallet_chain: str | None  # a direct-deal wallet of the person, shown in the description
    decoy_chain: str | None  # a mistyped look-alike wallet in the description
    price_period: float

    @property
    def key(self) -> str:
        return f"{self.market}:{self.site_id}"


class Listings:
    def __init__(self, world: World) -> None:
        self.w = world
        self.seed = world.seed
        # Per-instance caches (a cache on the method would be shared by every world).
        self.get = lru_cache(maxsize=65536)(self._get)
        self._perm = lru_cache(maxsize=8192)(self._perm_impl)

    # -- layout -----------------------------------------------------------------------------
    def _perm_impl(self, market: str, block: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        slots = list(range(BLOCK))
        rng(self.seed, "block", market, block).shuffle(slots)
        inv = [0] * BLOCK
        for pos, s in enumerate(slots):
            inv[s] = pos
        return tuple(slots), tuple(inv)

    def category_of(self, market: str, j: int) -> tuple[str, int]:
        b, pos = divmod(j, BLOCK)
        slot = self._perm(market, b)[0][pos]
        cat = _SLOT_CAT[slot]
        return cat, b * lexicon.CATEGORY_SLOTS[cat] + slot - _START[cat]

    def index_of(self, market: str, cat: str, k: int) -> int:
        b, r = divmod(k, lexicon.CATEGORY_SLOTS[cat])
        return b * BLOCK + self._perm(market, b)[1][_START[cat] + r]

    def category_upper(self, market: str, cat: str, hours: float) -> int:
        """Number of k slots of ``cat`` whose index is below the created count: the count a
        category tree shows (an upper bound on what is visible). Paging uses ``category_bound``."""
        n = self.w.markets[market].created_count(hours)
        full, rest = divmod(n, BLOCK)
        k = full * lexicon.CATEGORY_SLOTS[cat]
        if rest:
            inv = self._perm(market, full)[1]
            k += sum(1 for r in range(lexicon.CATEGORY_SLOTS[cat]) if inv[_START[cat] + r] < rest)
        return k

    def category_bound(self, market: str, cat: str, hours: float) -> int:
        """k slots of ``cat`` to enumerate for paging: every slot of the partly filled last
        block, not just the first ``category_upper`` of them (which slots of that block are
        created is decided by the block's shuffle, so they are not the first ones);
        ``visible()`` drops the ones not created yet."""
        full, rest = divmod(self.w.markets[market].created_count(hours), BLOCK)
        return (full + (1 if rest else 0)) * lexicon.CATEGORY_SLOTS[cat]

    # -- ids ----------------------------------------------------------------------------------
    def site_id(self, market: str, j: int) -> str:
        style = self.w.markets[market].style
        if style == "spa":
            return f"{(j * _NEBULA_MUL + _NEBULA_OFF) % 2**32:08x}"
        if style == "ru":
            return str(5000 + j)
        return str(100000 + j)

    def index_from_site_id(self, market: str, site_id: str) -> int | None:
        """Total: None for anything that is not a listing id of this market."""
        style = self.w.markets[market].style
        try:
            if style == "spa":
                if len(site_id) != 8:
                    return None
                j = ((int(site_id, 16) - _NEBULA_OFF) * _NEBULA_INV) % 2**32
                j = j - 2**32 if j >= 2**31 else j  # the identity cast's negative indices
            else:
                if not site_id.isdigit() or len(site_id) > 9:
                    return None
                j = int(site_id) - (5000 if style == "ru" else 100000)
        except ValueError:
            return None
        if j < -len(self.w.cast.offers.get(market, ())) or j >= self.w.markets[market].created_count(100_000.0):
            return None
        return j if self.site_id(market, j) == site_id else None

    # -- content ------------------------------------------------------------------------------
    def _get(self, market: str, j: int) -> ListingData | None:
        if j < 0:
            return self._cast_get(market, j)
        m = self.w.markets[market]
        cat, k = self.category_of(market, j)
        sellers = self.w.sellers(market, cat)
        if not sellers:
            return None
        acc = sellers[k % len(sellers)]
        r = rng(self.seed, "listing", market, j)
        subs = _BY_CAT[cat]
        sub = subs[r.randrange(len(subs))]
        if j < m.n0:
            created = -unit(self.seed, "age", market, j) * 2000.0
        else:
            created = (j - m.n0 + unit(self.seed, "age", market, j)) / m.rate
        created_eff = max(created, acc.active_from)
        if r.random() < 0.5:
            sold = max(created_eff, 0.0) + 48 + r.random() * 1200
            removed = sold + 24
        else:
            sold = removed = NEVER
        removed = min(removed, acc.active_until)
        ru = m.style == "ru"
        names = sub.ru if ru and sub.ru else sub.names
        plain = r.choice(names)
        share = 0.35 if sub.cls in ("nitazene", "fentanyl_analogue") else 0.12
        evasion = r.choice(sorted(EVASIONS)) if r.random() < share and not ru else None
        surface = evade(plain, evasion, rng(self.seed, "evade", market, j)) if evasion else plain
        purity = r.randint(*sub.purity) if sub.purity else None
        form = r.choice(sub.forms) if sub.forms else ""
        quantities = r.choice(_QTY_U if sub.unit == "unit" else _QTY_G)
        ppu = sub.usd[0] + r.random() * (sub.usd[1] - sub.usd[0])
        base = tuple(round(ppu * q * (1 - min(0.35, 0.07 * math.log2(max(q / quantities[0], 1)))), 2) for q in quantities)
        if ru:
            city, code = r.choice(RU_CITIES)
            sf, sfc, st, stc = city, code, city, (code,)
        else:
            sf, sfc = r.choice(SHIPS_FROM)
            st, stc = r.choice(SHIPS_TO)
        title = self._title(r, m, surface, purity, form, sfc, quantities, sub.unit, sf)
        person = self.w.persona_of(acc)
        contact = None
        if r.random() < 0.15:
            kind = r.choice(sorted(person.contacts))
            contact = (kind, person.contacts[kind])
        wallet_chain = r.choice(["BTC", "XMR", "LTC", "TRX"]) if r.random() < 0.04 else None
        decoy_chain = r.choice(["BTC", "XMR", "ETH"]) if r.random() < 0.02 else None
        intro = r.choice(_RU_INTRO if ru else _INTRO)
        return ListingData(
            market, j, self.site_id(market, j), cat, k, sub.canonical, sub.cls, sub.cas, acc, created_eff, sold, removed,
            plain, surface, evasion, title, sub.unit, purity, quantities, base, sf, sfc, st, stc,
            escrow=r.random() < 0.8, intro=intro, stealth=r.choice(_STEALTH), contact=contact,
            wallet_chain=wallet_chain, decoy_chain=decoy_chain, price_period=72 + r.random() * 200,
        )

    def _cast_get(self, market: str, j: int) -> ListingData | None:
        """A listing of the identity cast (``cast.py``): its seller, product and price level are fixed
        by the cast; the rest is drawn from its own RNG. Never sold out or removed."""
        offer = self.w.cast.offer(market, j)
        if offer is None:
            return None
        m = self.w.markets[market]
        acc, sub = offer.account, offer.substance
        style = self.w.cast.styles[acc.id]
        persona = self.w.persona_of(acc)
        r = rng(self.seed, "cast-listing", market, j)
        plain = r.choice(sub.names)
        purity = r.randint(*sub.purity) if sub.purity else None
        form = r.choice(sub.forms) if sub.forms else ""
        quantities = r.choice(_QTY_U if sub.unit == "unit" else _QTY_G)
        base = tuple(round(offer.usd_per_unit * q * (1 - min(0.35, 0.07 * math.log2(max(q / quantities[0], 1)))), 2)
                     for q in quantities)
        (sf, sfc), (st, stc) = offer.ships_from, offer.ships_to
        title = self._title(r, m, plain, purity, form, sfc, quantities, sub.unit, sf)
        contact = None
        if r.random() < 0.3:
            kind = r.choice(sorted(persona.contacts))
            contact = (kind, persona.contacts[kind])
        k = self.w.cast.indices(market, sub.category).index(j)
        return ListingData(
            market, j, self.site_id(market, j), sub.category, k, sub.canonical, sub.cls, sub.cas, acc,
            max(offer.created, acc.active_from), NEVER, min(NEVER, acc.active_until), plain, plain, None, title, sub.unit,
            purity, quantities, base, sf, sfc, st, stc, escrow=r.random() < 0.8, intro=style.intro,
            stealth=style.signoff, contact=contact, wallet_chain=None, decoy_chain=None,
            price_period=200 + r.random() * 300,
        )

    @staticmethod
    def _title(r, m: Market, surface: str, purity: int | None, form: str, sfc: str,  # type: ignore[no-untyped-def]
               quantities: tuple[float, ...], unit_: str, sf: str) -> str:
        pur = f" {purity}%" if purity else ""
        q0 = _qty(quantities[0])
        if m.style == "ru":
            return r.choice([f"{surface}{pur} | клад {sf}", f"{surface} VHQ — {sf}", f"{surface} {q0}г{pur}",
                             f"🔥 {surface} — {sf}, моментальный клад"])
        u = "g" if unit_ == "g" else "x"
        q = f"{q0}{u} " if unit_ == "g" else f"{q0}{u} "
        return r.choice([
            f"{q}{surface}{pur}{' ' + form if form else ''}",
            f"[{sfc}] {surface}{pur} - {form or 'top quality'}",
            f"{surface} {form}{pur} | FREE SHIPPING".replace("  ", " "),
            f"🔥 {surface}{pur} 🔥 {sfc} stock",
            f"{surface}{pur} ** BULK DISCOUNT **",
        ])

    # -- time ---------------------------------------------------------------------------------
    def visible(self, d: ListingData, hours: float) -> bool:
        m = self.w.markets[d.market]
        return d.created <= hours < d.removed_at and d.account.active(hours) and m.up(hours)

    def available(self, d: ListingData, hours: float) -> bool:
        return hours < d.sold_out_at

    def price_factor(self, d: ListingData, hours: float) -> float:
        epoch = int(max(0.0, hours - max(d.created, 0.0)) // d.price_period)
        if epoch == 0:
            return 1.0
        return 1 + ((h64(self.seed, "price", d.market, d.j, epoch) % 31) - 15) / 100

    def tiers(self, d: ListingData, hours: float, currency: str) -> list[tuple[str, str]]:
        """[(quantity label, displayed price)] in ``currency`` at ``hours``."""
        f = self.price_factor(d, hours) * self.w.rate(currency, hours)
        label = "г" if self.w.markets[d.market].style == "ru" else "g"
        return [(f"{_qty(q)}{label}" if d.unit == "g" else f"{_qty(q)}x", fmt_money(usd * f, currency))
                for q, usd in zip(d.quantities, d.base_usd)]

    # -- enumeration --------------------------------------------------------------------------
    def created_indices(self, market: str, hours: float) -> range:
        return range(self.w.markets[market].created_count(hours))

    def truth_indices(self, market: str, hours: float) -> list[int]:
        """Every listing index that may be visible at ``hours``: the generated ones, then the cast's."""
        return [*self.created_indices(market, hours), *self.w.cast.indices(market)]

    def stream_bound(self, market: str, cat: str, hours: float) -> int:
        """Positions a category (``cat``) or the whole market (``cat == ""``) pages through: the
        generated listings' slots, then the identity cast's listings."""
        upper = self.category_bound(market, cat, hours) if cat else self.w.markets[market].created_count(hours)
        return upper + len(self.w.cast.indices(market, cat or None))

    def stream_index(self, market: str, cat: str, pos: int, hours: float) -> int | None:
        """The listing index at position ``pos`` of a stream (see ``stream_bound``)."""
        upper = self.category_bound(market, cat, hours) if cat else self.w.markets[market].created_count(hours)
        if pos < upper:
            return self.index_of(market, cat, pos) if cat else pos
        cast = self.w.cast.indices(market, cat or None)
        return cast[pos - upper] if pos - upper < len(cast) else None

    def category_page(self, market: str, cat: str, page: int, per_page: int, hours: float) -> tuple[list[ListingData], int]:
        """Visible listings on ``page`` (0-based) of a category, and the number of pages."""
        upper = self.category_bound(market, cat, hours)
        cast = self.w.cast.indices(market, cat)  # the identity cast's listings come after the generated ones
        pages = max(1, math.ceil((upper + len(cast)) / per_page))
        out = []
        for k in range(page * per_page, min(upper + len(cast), (page + 1) * per_page)):
            d = self.get(market, self.index_of(market, cat, k) if k < upper else cast[k - upper])
            if d is not None and self.visible(d, hours):
                out.append(d)
        return out, pages

    def all_page(self, market: str, page: int, per_page: int, hours: float) -> tuple[list[ListingData], int]:
        n = self.w.markets[market].created_count(hours)
        pages = max(1, math.ceil(n / per_page))
        out = []
        for j in range(page * per_page, min(n, (page + 1) * per_page)):
            d = self.get(market, j)
            if d is not None and self.visible(d, hours):
                out.append(d)
        return out, pages

    def vendor_page(self, acc: Account, page: int, per_page: int, hours: float) -> tuple[list[ListingData], int]:
        """The account's visible listings, category by category, ``per_page`` k-slots a page."""
        if self.w.cast.is_cast(acc):
            own = self.w.cast.by_account[acc.id]
            rows = [d for j in own[page * per_page:(page + 1) * per_page]
                    if (d := self.get(acc.market, j)) is not None and self.visible(d, hours)]
            return rows, max(1, math.ceil(len(own) / per_page))
        slots: list[tuple[str, int, int]] = []  # (category, first k, count of k)
        for cat in _CATS:
            sellers = self.w.sellers(acc.market, cat)
            if acc not in sellers:
                continue
            i, n = sellers.index(acc), len(sellers)
            upper = self.category_bound(acc.market, cat, hours)
            count = max(0, math.ceil((upper - i) / n))
            slots.append((cat, i, count))
        total = sum(c for _, _, c in slots)
        pages = max(1, math.ceil(total / per_page))
        out: list[ListingData] = []
        skip, want = page * per_page, per_page
        for cat, i, count in slots:
            if skip >= count:
                skip -= count
                continue
            n = len(self.w.sellers(acc.market, cat))
            for q in range(skip, count):
                if want == 0:
                    break
                want -= 1
                d = self.get(acc.market, self.index_of(acc.market, cat, i + q * n))
                if d is not None and d.account == acc and self.visible(d, hours):
                    out.append(d)
            skip = 0
            if want == 0:
                break
        return out, pages


_SYMBOL = {"USD": "$", "EUR": "€", "RUB": "₽"}


def tiers_line(pairs: list[tuple[str, str]], currency: str) -> str:
    """``1g 40$ | 5g 180$``: how vendors write a tier list in free text."""
    sym = _SYMBOL.get(currency, " " + currency)
    return " | ".join(f"{q} {p}{sym}" for q, p in pairs)


def description(ls: Listings, d: ListingData, hours: float, currency: str) -> str:
    """The listing's free text at ``hours`` (tier prices in it follow the price epochs)."""
    w = ls.w
    person = w.persona_of(d.account)
    ru = w.markets[d.market].style == "ru"
    pairs = ls.tiers(d, hours, currency)
    parts = [d.intro.format(n=d.surface)]
    if d.purity:
        parts.append(f"Чистота {d.purity}%." if ru else f"Purity {d.purity}%.")
    parts.append(("Цены: " if ru else "Prices: ") + tiers_line(pairs, currency))
    if ru:
        parts.append(f"Клад в городе {d.ships_from}, координаты после оплаты.")
    else:
        parts.append(f"Ships from {d.ships_from} to {d.ships_to}. {d.stealth}")
    if d.contact:
        kind, value = d.contact
        parts.append(f"Contact: {kind.capitalize()} {value}" if not ru else f"Связь: {kind} {value}")
    if d.wallet_chain:
        parts.append(f"Direct deals {d.wallet_chain}: {person.wallets[d.wallet_chain].address}")
    if d.decoy_chain:
        parts.append(f"Old {d.decoy_chain} address (do not use): {person.decoy(d.decoy_chain, d.j)}")
    return "\n".join(parts)


def listing_truth(site_id: str, url: str, ls: Listings, d: ListingData, hours: float, *, currency: str,
                  category: str, price: str, displayed: list[dict[str, str]], tiers: list[tuple[str, str]],
                  available: bool, description: str, **extra: object) -> dict[str, object]:
    """The ground-truth record of one listing page, the same shape for every market."""
    return {"source": site_id, "url": url, "kind": "listing", "site_id": d.site_id, **extra,
            "fields": {"title": d.title, "vendor": d.account.handle, "category": category,
                       "price": price, "currency": currency, "displayed_prices": displayed,
                       "tiers": [{"quantity": q, "price": p, "currency": currency} for q, p in tiers],
                       "ships_from": d.ships_from, "ships_from_code": d.ships_from_code,
                       "ships_to": d.ships_to, "ships_to_codes": list(d.ships_to_codes),
                       "escrow": d.escrow, "available": available, "description": description},
            **listing_facts(ls, d, hours, currency), "vendor_account": d.account.id,
            "person": f"p{d.account.person}", "created_hours": d.created}


def listing_facts(ls: Listings, d: ListingData, hours: float, currency: str) -> dict[str, object]:
    """The ground-truth facts of a listing page (substances, offers, wallets, identifiers)."""
    w = ls.w
    person = w.persona_of(d.account)
    pairs = ls.tiers(d, hours, currency)
    offers = [{"quantity": _qty(q), "unit": d.unit, "purity": d.purity, "price": p, "currency": currency}
              for q, (_, p) in zip(d.quantities, pairs)]
    wallets_ = []
    if d.wallet_chain:
        wa = person.wallets[d.wallet_chain]
        wallets_.append({"chain": wa.chain, "network": wa.network, "address": wa.address, "kind": wa.kind})
    decoys = [{"chain": d.decoy_chain, "address": person.decoy(d.decoy_chain, d.j)}] if d.decoy_chain else []
    idents = [{"kind": d.contact[0], "value": d.contact[1]}] if d.contact else []
    return {
        "substances": [{"canonical": d.canonical, "class": d.cls, "surface": d.surface, "plain": d.plain,
                        "evasion": d.evasion, "cas": d.cas}],
        "offers": offers, "wallets": wallets_, "decoys": decoys, "identifiers": idents,
        "cas": [d.cas] if d.cas else [],
    }
