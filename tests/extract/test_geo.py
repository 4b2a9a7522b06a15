"""Ships from / ships to: market spellings to ISO codes and regions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narcwatch.extract.geo import find_shipping, place_code

_ROWS = [
    ("Ships from: Germany", ["DE"], []),
    ("Ships from: Germany Ships to: Worldwide", ["DE"], ["WW"]),
    ("NL -> WW", ["NL"], ["WW"]),
    ("Shipping to: Worldwide", [], ["WW"]),
    ("uk to uk sociable cocaine", ["GB"], ["GB"]),
    ("UK2UK cocaine", ["GB"], ["GB"]),
    ("from DE to EU", ["DE"], ["EU"]),
    ("ships from USA", ["US"], []),
    ("Origin country: United States, Ships to: USA, Canada", ["US"], ["US", "CA"]),
    ("Ships to: Germany, Netherlands & EU", [], ["DE", "NL", "EU"]),
    ("Отправка из: Нидерланды. Доставка по РФ", ["NL"], ["RU"]),
    ("Отправка из: Россия", ["RU"], []),
    ("Envío desde España a todo el mundo", ["ES"], ["WW"]),
    ("Versand aus Deutschland nach EU", ["DE"], ["EU"]),
    ("I live in it to be", [], []),
    ("went to the store", [], []),
    ("", [], []),
]


@pytest.mark.parametrize(("text", "ships_from", "ships_to"), _ROWS, ids=[r[0] or "<empty>" for r in _ROWS])
def test_find_shipping(text: str, ships_from: list[str], ships_to: list[str]) -> None:
    assert find_shipping(text) == (ships_from, ships_to)


def test_structured_fields_win() -> None:
    fields = {"ships_from": "Netherlands", "ships_to": "DE, EU"}
    assert find_shipping("Ships from: Spain", fields) == (["NL"], ["DE", "EU"])


@pytest.mark.parametrize(("name", "code"), [("Deutschland", "DE"), ("Worldwide", "WW"), ("N. America", "NA"), ("Нидерланды", "NL"), ("xx", "XX"), ("", None), ("Atlantis", None)])
def test_place_code(name: str, code: str | None) -> None:
    assert place_code(name) == code


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_total(text: str) -> None:
    f, t = find_shipping(text)
    assert all(isinstance(c, str) and c for c in f + t)


@pytest.mark.parametrize("text", ["ships from " * 20_000, "UK to " * 20_000, "-> " * 30_000, "a" * 100_000])
def test_adversarial_completes(text: str) -> None:
    f, t = find_shipping(text)
    assert len(f) <= 1 and len(t) <= 1
