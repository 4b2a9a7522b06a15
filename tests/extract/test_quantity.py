"""Quantities and purity: data tables, Dream Market titles against the dataset's labels."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narcwatch.extract.quantity import find_purity, find_quantities, to_grams


class Q(NamedTuple):
    text: str
    amount: str | None
    unit: str | None
    dose: str | None = None


_MASS = [
    Q("1GR COCAINE 90%", "1", "g"), Q("3.5 gram", "3.5", "g"), Q("0,5g", "0.5", "g"), Q("2KG. speed", "2", "kg"),
    Q("1/8 oz", "0.125", "oz"), Q("Blue Dream 1/4 oz", "0.25", "oz"), Q("an ounce of kush", "1", "oz"),
    Q("half oz", "0.5", "oz"), Q("QP of haze", "0.25", "lb"), Q("HP", "0.5", "lb"), Q("2 lbs", "2", "lb"),
    Q("250mg", "250", "mg"), Q("100 µg", "100", "ug"), Q("100ug", "100", "ug"), Q("150mcg", "150", "mg" if False else "ug"),
    Q("10 ml", "10", "ml"), Q("28 g's", "28", "g"), Q("2 gs", "2", "g"), Q("25gCocaine", "25", "g"), Q("COCAINE .50 GRAMS", "0.50", "g"),
]
_FOREIGN = [
    Q("3,5 гр", "3.5", "g"), Q("1 г", "1", "g"), Q("5 грамм", "5", "g"), Q("10 шт", "10", "unit"),
    Q("5 gramos", "5", "g"), Q("20 pastillas", "20", "unit"), Q("5 Gramm", "5", "g"), Q("10 Stück", "10", "unit"),
]
_COUNTS = [
    Q("10x 2mg", "10", "unit", "2"), Q("10 x 2mg", "10", "unit", "2"), Q("100 pills", "100", "unit"),
    Q("XANAX 1mg (Trika brand- 100 pills)", "100", "unit", "1"), Q("(1)Pill of 30mg Oxycodone", "1", "unit", "30"),
    Q("LSD acid blotter (130+ ug) 1 blotter", "1", "unit", "130"), Q("25C-NBOMe HCl (1000µg) x200 blotter tabs", "200", "unit", "1000"),
    Q("1000 x GREEN PARTYFLOCKS -- 200+mg MDMA", "1000", "unit", "200"), Q("5 tabs", "5", "unit"), Q("20 caps", "20", "unit"),
]
_NONE = [Q("", None, None), Q("5F-AB-PINACA", None, None), Q("1P-LSD", None, None), Q("2C-B", None, None), Q("in 2017 we", None, None)]
_ROWS = _MASS + _FOREIGN + _COUNTS + _NONE


@pytest.mark.parametrize("ex", _ROWS, ids=[e.text or "<empty>" for e in _ROWS])
def test_first_quantity(ex: Q) -> None:
    found = find_quantities(ex.text)
    if ex.amount is None:
        assert found == []
        return
    q = found[0]
    assert (q.amount, q.unit) == (Decimal(ex.amount), ex.unit)
    assert q.dose == (Decimal(ex.dose) if ex.dose else None)
    assert 0 <= q.start < q.end <= len(ex.text)


@pytest.mark.parametrize(
    ("text", "purity"),
    [("COCAINE 90%", "90"), ("(92% pure)", "92"), ("pure 85", "85"), ("purity: 85%", "85"), ("90%+ uncut", "90"),
     ("85-90%", "85"), ("70%-75%", "70"), ("ROCKETFUEL87%", "87"), ("Reinheit 80%", "80"), ("чистота 95%", "95"),
     ("80% Sativa / 20% Indica", None), ("20% OFF today", None), ("100% satisfaction", None), ("save 15%", None)],
)
def test_purity(text: str, purity: str | None) -> None:
    found = find_purity(text)
    assert (found[0].value if found else None) == (Decimal(purity) if purity else None)


def test_to_grams_is_exact() -> None:
    assert to_grams(Decimal(1), "oz") == Decimal("28.349523125")
    assert to_grams(Decimal(1), "lb") == Decimal("453.59237")
    assert to_grams(Decimal(5), "unit") is None


_RANGE = re.compile(r"(\d{1,3})\s?%?\s?[-–]\s?(\d{1,3})\s?%")
_DECIMAL_COMMA = re.compile(r"(?<![\d.,])(\d{1,3}),(\d{1,2})\s?(?:g|gr|gram)", re.IGNORECASE)


def test_dream_market_titles_against_labels(shared_data: Path) -> None:
    path = shared_data / "markets" / "dream_market_cocaine_listings.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    g_n = g_ok = g_label_wrong = 0
    p_n = p_ok = p_range_other_bound = 0
    g_miss: list[str] = []
    p_miss: list[str] = []
    for row in rows:
        title = row["product_title"]
        if row["grams"].strip():
            label = Decimal(row["grams"])
            qs = [q for q in find_quantities(title) if q.grams is not None]
            got = qs[0].grams if qs else None
            dc = _DECIMAL_COMMA.search(title)
            if got == label:
                g_n += 1
                g_ok += 1
            elif dc and label == Decimal(dc.group(2)) and got == Decimal(f"{dc.group(1)}.{dc.group(2)}"):
                g_label_wrong += 1  # "2,5 G" labelled 5: the script dropped "2," - demonstrably wrong
            else:
                g_n += 1
                g_miss.append(f"{title!r} label={label} got={got}")
        if row["quality"].strip():
            label = Decimal(row["quality"])
            ps = find_purity(title)
            got = ps[0].value if ps else None
            rng = _RANGE.search(title)
            if got == label:
                p_n += 1
                p_ok += 1
            elif rng and got == Decimal(rng.group(1)) and label == Decimal(rng.group(2)):
                p_range_other_bound += 1  # "85-90%": we state the minimum, the label the maximum
            else:
                p_n += 1
                p_miss.append(f"{title!r} label={label} got={got}")
    g_rate, p_rate = g_ok / g_n, p_ok / p_n
    print(f"\nDream Market ({len(rows)} titles)")
    print(f"  grams : {g_ok}/{g_n} = {g_rate:.3f} agree; {g_label_wrong} labels demonstrably wrong (decimal comma dropped) set aside")
    print(f"  purity: {p_ok}/{p_n} = {p_rate:.3f} agree; {p_range_other_bound} range titles where the label took the upper bound set aside")
    print(f"  purity counting those range rows as disagreements: {p_ok}/{p_n + p_range_other_bound} = {p_ok / (p_n + p_range_other_bound):.3f}")
    print("  grams misses:", *g_miss[:15], sep="\n    ")
    print("  purity misses:", *p_miss[:15], sep="\n    ")
    assert g_rate >= 0.95
    assert p_rate >= 0.90


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_total_and_offsets(text: str) -> None:
    for q in find_quantities(text):
        assert 0 <= q.start <= q.end <= len(text) and q.amount > 0
    for p in find_purity(text):
        assert 0 <= p.start <= p.end <= len(text) and 0 < p.value <= 100


@pytest.mark.parametrize(
    ("text", "count"),
    [("1g " * 30_000, 30_000), ("1" * 100_000, 0), ("x" * 100_000, 0), ("9" * 50_000 + "g", 0), ("1/" * 50_000, 0)],
    ids=["many-grams", "digits", "xs", "huge-number", "slashes"],
)
def test_adversarial_quantities_complete(text: str, count: int) -> None:
    assert len(find_quantities(text)) == count


def test_adversarial_purity_completes() -> None:
    assert len(find_purity("9%" * 30_000)) == 30_000
    assert find_purity("1-" * 50_000) == []
