"""Offers: tiers, per-unit prices, rates recorded; the spaCy component; Agora coverage."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from narcwatch.crawler.models import Money
from narcwatch.extract import pipeline  # noqa: F401 - registers the doc extensions
from narcwatch.extract.models import Extraction
from narcwatch.extract.offers import find_offers
from narcwatch.extract.rates import RatesFileProvider

DAY = date(2017, 7, 3)
RATES = RatesFileProvider([("BTC", date(2017, 7, 1), Decimal("2500")), ("EUR", date(2017, 7, 3), Decimal("1.14"))], name="test.csv")


class O(NamedTuple):
    text: str
    offers: list[tuple[str | None, str | None, str | None, str | None]]  # quantity, unit, price, currency


_TIERS = [
    O("1g 40$ | 5g 180$ | 10g 320$", [("1", "g", "40", "USD"), ("5", "g", "180", "USD"), ("10", "g", "320", "USD")]),
    O("$40 - 1g, $180 - 5g", [("1", "g", "40", "USD"), ("5", "g", "180", "USD")]),
    O("1g | 40 €\n5g | 180 €", [("1", "g", "40", "EUR"), ("5", "g", "180", "EUR")]),
    O("5 grams for 180 usd", [("5", "g", "180", "USD")]),
    O("1/8 oz 0.05 btc", [("0.125", "oz", "0.05", "BTC")]),
    O("10x 2mg xanax 0.01 BTC", [("10", "unit", "0.01", "BTC")]),
    O("1 гр - 3500 руб, 2 гр - 6500 руб", [("1", "g", "3500", "RUB"), ("2", "g", "6500", "RUB")]),
    O("5x 32$ | 10x 59$", [("5", "unit", "32", "USD"), ("10", "unit", "59", "USD")]),
    # a count before a price written with a currency code (structured piece tiers)
    O("10x 4350 RUB | 25x 9850 RUB", [("10", "unit", "4350", "RUB"), ("25", "unit", "9850", "RUB")]),
    O("10x 42 EUR", [("10", "unit", "42", "EUR")]),
]
_PER_UNIT = [
    O("40$/g", [("1", "g", "40", "USD")]),
    O("7G($70/g) UNCUT PERUVIAN", [("7", "g", "490", "USD")]),
    O("€12 per pill", [("1", "unit", "12", "EUR")]),
]
_QTY_ONLY = [O("!!!!!INTRO OFFER!!!!! 1GR COCAINE 90%", [("1", "g", None, None)]), O("no offer here", [])]
_ROWS = _TIERS + _PER_UNIT + _QTY_ONLY


@pytest.mark.parametrize("ex", _ROWS, ids=[e.text for e in _ROWS])
def test_offers_table(ex: O) -> None:
    got = [
        (str(o.quantity) if o.quantity is not None else None, o.unit, str(o.price) if o.price is not None else None, o.currency)
        for o in find_offers(ex.text, RATES, DAY)
    ]
    want = [(q, u, p, c) for q, u, p, c in ex.offers]
    assert [(Decimal(q) if q else None, u, Decimal(p) if p else None, c) for q, u, p, c in got] == [
        (Decimal(q) if q else None, u, Decimal(p) if p else None, c) for q, u, p, c in want
    ]


def test_usd_and_rate_are_recorded() -> None:
    (o,) = find_offers("1/8 oz 0.05 btc", RATES, DAY)
    assert o.usd == Decimal("125")
    assert o.usd_per_unit == (Decimal("125") / Decimal("3.543690390625")).quantize(Decimal("0.0001"))  # per gram
    assert (o.rate, o.rate_source, o.rate_date) == (Decimal("2500"), "file:test.csv", date(2017, 7, 1))


def test_page_rate_wins_and_is_named() -> None:
    (o,) = find_offers("Price: 0.0123 BTC ($85.10) for 1g", RATES, DAY)
    assert (o.price, o.currency, o.usd, o.rate_source) == (Decimal("0.0123"), "BTC", Decimal("85.1000"), "page")


def test_no_rate_no_usd() -> None:
    (o,) = find_offers("1g 0.01 XMR", RATES, DAY)
    assert o.price == Decimal("0.01") and o.usd is None and o.rate is None


def test_displayed_price_attaches_to_the_title_quantity() -> None:
    (o,) = find_offers("5g Amphetamin Speed Paste", RATES, DAY, price=Money(amount=Decimal("0.0667"), currency="BTC"))
    assert (o.quantity, o.unit, o.price, o.usd) == (Decimal(5), "g", Decimal("0.0667"), Decimal("166.7500"))


def test_purity_shared_by_tiers() -> None:
    offers = find_offers("Cocaine 90% pure: 1g 60€ | 5g 250€", RATES, DAY)
    assert [o.purity for o in offers] == [Decimal(90), Decimal(90)]


def test_spacy_component_reads_context() -> None:
    nlp = spacy.blank("xx")
    nlp.add_pipe("narcwatch_offers")
    doc = nlp.make_doc("1g 0.01 BTC")
    doc._.nw_facts = Extraction()
    doc._.nw_context = {"capture_date": DAY, "rates": RATES}
    doc = nlp.get_pipe("narcwatch_offers")(doc)
    (o,) = doc._.nw_facts.offers
    assert o.usd == Decimal("25.0000") and doc.text[o.start:o.end] == o.text


def test_agora_offer_share(shared_data: Path) -> None:
    path = shared_data / "markets" / "agora_vendor_listings_2014-01.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with_qty = with_offer = 0
    misses: list[str] = []
    for row in rows:
        price = None
        try:
            price = Money(amount=Decimal(row["price"]), currency="BTC") if row["price"].strip() else None
        except ArithmeticError:
            price = None
        offers = find_offers(row["product"], None, None, price=price)
        if offers:
            with_offer += 1
            if any(o.quantity is not None for o in offers):
                with_qty += 1
        elif len(misses) < 25:
            misses.append(row["product"])
    n = len(rows)
    print(f"\nAgora: {n} listings; offer found in {with_offer} ({with_offer / n:.3f}); with a quantity {with_qty} ({with_qty / n:.3f})")
    print("  sample of misses:", *misses, sep="\n    ")
    assert with_offer / n > 0.5


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_total_and_offsets(text: str) -> None:
    for o in find_offers(text, RATES, DAY):
        assert 0 <= o.start <= o.end <= len(text) and text[o.start:o.end] == o.text


@pytest.mark.parametrize("text", ["1g 40$ | " * 10_000, "$" * 100_000, "1" * 100_000, "1g" * 50_000], ids=["tiers", "dollars", "digits", "glued"])
def test_adversarial_offers_complete(text: str) -> None:
    offers = find_offers(text)
    if text.startswith("1g 40$"):
        assert len(offers) == 10_000
    else:
        assert all(o.price is None for o in offers)
