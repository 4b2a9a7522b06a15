"""Offers: a quantity at a price (``1g 40$ | 5g 180$``), with purity and USD values.

``find_offers`` is the pure core; ``narcwatch_offers`` is the thin spaCy component that
runs it on ``doc.text`` and appends to ``doc._.nw_facts.offers``.

What an ``Offer`` holds (the public JSON of ``narcwatch extract``):

* ``quantity`` and ``unit`` exactly as stated (``unit`` normalised to one of
  ``g mg ug kg oz lb ml unit``): ``1/8 oz`` stays ``0.125 oz``; a count of dosed pieces
  (``10x 2mg``) is ``10 unit``;
* ``price`` and ``currency`` as stated; a per-unit price next to a quantity
  (``7G ($70/g)``) gives the total (``490 USD``), a per-unit price alone gives one unit;
* ``usd`` at the rate of the capture date and ``usd_per_unit``: USD **per gram** for
  every mass unit (so 1 oz and 28 g compare), per piece for ``unit``, per ml for ``ml``;
  ``rate``, ``rate_source`` and ``rate_date`` say which rate made that conversion;
* ``purity`` (percent) is the listing's stated purity, shared by all its tiers.

Pairing: quantities and prices are read in text order; whichever comes first in the
text sets the pattern ("qty price" or "price qty") and each one pairs with the next of
the other kind before its own kind repeats. A quantity with no price becomes an offer
only when nothing on the page has a price (a title such as ``1GR COCAINE 90%``), and then
only the first one; a displayed listing price (``fields["price"]``) attaches to it.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from spacy.language import Language
from spacy.tokens import Doc

from narcwatch.crawler.models import Money
from narcwatch.extract.docext import context as doc_context
from narcwatch.extract.docext import facts as doc_facts
from narcwatch.extract.models import Offer
from narcwatch.extract.money import PriceSpan, find_priced, parse_price
from narcwatch.extract.quantity import Quantity, find_purity, find_quantities, to_grams
from narcwatch.extract.rates import ChainRateProvider, PageRateProvider, RateProvider, convert
from narcwatch.extract.tokenizer import raw_text

__all__ = ["find_offers", "make_offers"]

_PER_UNIT = re.compile(
    r"\s{0,2}(?:/|per|a|an|each|за|pro|por|le)\s{0,2}"
    r"(?P<u>g|gr|gram|gramm|gramo|grams|г|гр|грамм|mg|kg|kilo|oz|ounce|lb|ml|pill|pills|tab|tabs|piece|pc|pcs|unit|шт|blotter|hit|cap)"
    r"(?![^\W\d_])"
    r"|\s{0,2}(?P<each>each|ea|per\s{1,2}piece|за\s{1,2}шт|/шт|/pc|/st)",
    re.IGNORECASE,
)
_PER_UNIT_MAP = {
    "g": "g", "gr": "g", "gram": "g", "gramm": "g", "gramo": "g", "grams": "g", "г": "g", "гр": "g", "грамм": "g",
    "mg": "mg", "kg": "kg", "kilo": "kg", "oz": "oz", "ounce": "oz", "lb": "lb", "ml": "ml",
}
_Q4 = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class _Price:
    span: PriceSpan
    per_unit: str | None  # the unit this price is per, when it is a unit price
    end: int


def _prices(text: str, found: list[PriceSpan], quantities: list[Quantity]) -> list[_Price]:
    """Priced numbers that are not part of a quantity (``1 pound``, the ``5`` of ``5g``) nor
    of an earlier price's unit (``40$/g``).

    A number overlaps a span [s, e) iff the largest ``e`` among spans with ``s`` before the
    number's end lies after its start. Numbers come in text order with growing ends, so
    one forward pass with a running maximum answers each in O(log n) (checking every span
    for every price made a 100 kB page quadratic)."""
    blocks = sorted((q.start, q.end) for q in quantities)
    per_units: list[tuple[int, int]] = []  # a heap: unit spans added while scanning
    bi = 0
    reach = -1  # the largest end of the spans that start before the current number ends
    out: list[_Price] = []
    for p in found:
        if p.currency is None or p.amount is None or p.amount <= 0:
            continue
        while bi < len(blocks) and blocks[bi][0] < p.amount_end:
            reach = max(reach, blocks[bi][1])
            bi += 1
        while per_units and per_units[0][0] < p.amount_end:
            reach = max(reach, heapq.heappop(per_units)[1])
        if reach > p.amount_start:
            continue  # "1 pound" is a quantity, "5g" digits are not a price
        per = None
        end = p.end
        m = _PER_UNIT.match(text, p.end)
        if m:
            per = _PER_UNIT_MAP.get(m.group("u").casefold(), "unit") if m.group("u") else "unit"
            end = m.end()
            heapq.heappush(per_units, (p.end, end))
        out.append(_Price(p, per, end))
    return _merge_equivalents(text, out)


_EQUIV = re.compile(r"\s{0,2}[(\[/=≈~]?\s{0,2}(?:approx\.?\s{0,2}|ca\.?\s{0,2})?")


def _merge_equivalents(text: str, prices: list[_Price]) -> list[_Price]:
    """``0.0123 BTC ($85.10)``: one price shown in two currencies is one price (the first);
    the second only tells the page's rate (``PageRateProvider``)."""
    out: list[_Price] = []
    for p in prices:
        if out:
            prev = out[-1]
            gap = text[prev.end:p.span.start]
            if (
                prev.span.currency != p.span.currency
                and len(gap) <= 8
                and _EQUIV.fullmatch(gap)
                and prev.per_unit == p.per_unit
            ):
                close = text[p.end:p.end + 1]
                end = p.end + 1 if close in (")", "]") else p.end
                out[-1] = _Price(prev.span, prev.per_unit, end)
                continue
        out.append(p)
    return out


def _offer(
    q: Quantity | None,
    p: _Price | None,
    purity: Decimal | None,
    rates: RateProvider | None,
    on: date | None,
    text: str,
    displayed: Money | None = None,
) -> Offer | None:
    quantity = q.amount if q else None
    unit = q.unit if q else None
    price = currency = None
    if p is not None:
        price, currency = p.span.amount, p.span.currency
        if p.per_unit is not None:
            if q is None:
                quantity, unit = Decimal(1), p.per_unit
            elif q.unit == p.per_unit:
                price = price * q.amount
            elif q.grams is not None and to_grams(Decimal(1), p.per_unit) is not None:
                price = price * q.grams / to_grams(Decimal(1), p.per_unit)  # type: ignore[operator]
    elif displayed is not None:
        price, currency = displayed.amount, displayed.currency
    spans = [s for s in ((q.start, q.end) if q else None, (p.span.start, p.end) if p else None) if s]
    if not spans:
        return None
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    usd = usd_per_unit = rate = None
    if price is not None and currency:
        conv = convert(price, currency, rates, on)
        if conv is not None:
            usd_raw, rate = conv
            usd = usd_raw.quantize(_Q4)
            if quantity:
                per = to_grams(quantity, unit) if unit in ("ug", "mg", "g", "kg", "oz", "lb") else quantity
                if per:
                    usd_per_unit = (usd_raw / per).quantize(_Q4)
    # one validated construction (assigning the conversion afterwards cost four more calls)
    return Offer(
        text=text[start:end],
        start=start,
        end=end,
        quantity=quantity,
        unit=unit,
        purity=purity,
        price=price,
        currency=currency,
        confidence=1.0 if (q and p) else 0.6,
        usd=usd,
        usd_per_unit=usd_per_unit,
        rate=rate.usd if rate else None,
        rate_source=rate.source if rate else None,
        rate_date=rate.on if rate else None,
    )


def _pair(quantities: list[Quantity], prices: list[_Price]) -> list[tuple[Quantity | None, _Price | None]]:
    items: list[tuple[int, str, object]] = [(q.start, "q", q) for q in quantities] + [(p.span.start, "p", p) for p in prices]
    items.sort(key=lambda t: t[0])
    if not items:
        return []
    lead = items[0][1]
    pairs: list[tuple[Quantity | None, _Price | None]] = []
    held: object | None = None
    for _, kind, obj in items:
        if kind == "p" and obj.per_unit is not None and held is None:  # type: ignore[attr-defined]
            pairs.append((None, obj))  # "40$/g" alone
            continue
        if kind == lead:
            if held is not None and kind == "p":
                pairs.append((None, held))  # type: ignore[arg-type]
            held = obj
            continue
        if held is None:
            if kind == "p":
                pairs.append((None, obj))  # type: ignore[arg-type]
            continue
        pairs.append((held, obj) if lead == "q" else (obj, held))  # type: ignore[arg-type]
        held = None
    if held is not None and lead == "p":
        pairs.append((None, held))  # type: ignore[arg-type]
    elif held is not None and lead == "q" and not any(p for _, p in pairs):
        pairs.append((held, None))  # type: ignore[arg-type]
    return pairs


def find_offers(
    text: str,
    rates: RateProvider | None = None,
    on: date | None = None,
    *,
    price: Money | str | None = None,
) -> list[Offer]:
    """Offers in ``text``; ``price`` is the listing's displayed price when the page has one."""
    if not text or not isinstance(text, str):
        text = "" if not isinstance(text, str) else text
    quantities = find_quantities(text)
    found = find_priced(text, strict=True)  # one scan: offers and the page's own rates
    prices = _prices(text, found, quantities)
    purities = find_purity(text)
    purity = purities[0].value if purities else None
    page = PageRateProvider.from_prices(text, found, on) if prices else None
    provider: RateProvider | None = ChainRateProvider([page, rates]) if page else rates
    displayed = parse_price(price) if isinstance(price, str) else price
    if displayed is not None and not isinstance(displayed, Money):
        displayed = None
    offers: list[Offer] = []
    pairs = _pair(quantities, prices)
    if not pairs and quantities:
        pairs = [(quantities[0], None)]
    priced = any(p is not None for _, p in pairs)
    for q, p in pairs:
        if p is None and priced:
            continue
        o = _offer(q, p, purity, provider, on, text, displayed if p is None else None)
        if o is not None:
            offers.append(o)
    # drop the page's own rate displays ("0.0123 BTC ($85.10)") listed as a second offer
    return _dedupe_equivalents(offers)


def _dedupe_equivalents(offers: list[Offer]) -> list[Offer]:
    out: list[Offer] = []
    for o in offers:
        if out and o.quantity is None and out[-1].quantity is not None and o.start - out[-1].end <= 4 and o.currency != out[-1].currency:
            continue
        out.append(o)
    return out


def _context_price(fields: dict) -> Money | str | None:
    value = fields.get("price")
    if isinstance(value, Money | str):
        return value
    if isinstance(value, dict):
        try:
            return Money.model_validate(value)
        except ValueError:
            return None
    return None


@Language.factory("narcwatch_offers", default_config={"max_chars": 200_000})
def make_offers(nlp: Language, name: str, max_chars: int) -> OffersComponent:
    return OffersComponent(max_chars=max_chars)


class OffersComponent:
    """Appends ``find_offers(doc.text)`` to ``doc._.nw_facts.offers``."""

    def __init__(self, max_chars: int = 200_000) -> None:
        self.max_chars = max_chars

    def __call__(self, doc: Doc) -> Doc:
        facts = doc_facts(doc)
        ctx = doc_context(doc)
        fields = ctx.get("fields") if isinstance(ctx.get("fields"), dict) else {}
        on = ctx.get("capture_date") if isinstance(ctx.get("capture_date"), date) else None
        rates = ctx.get("rates")
        facts.offers.extend(find_offers(raw_text(doc)[: self.max_chars], rates, on, price=_context_price(fields or {})))
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterable[Doc]:
        for doc in docs:
            yield self(doc)
