"""Total field parsers (money in the profiled sites' formats) and Telegram message text."""

from __future__ import annotations

from decimal import Decimal

import pytest
from parsel import Selector

from narcwatch.spiders._fields import parse_money
from narcwatch.spiders.telegram_preview import message_text

_MONEY = [
    ("1500 ₽", ("1500", "RUB")),
    ("₽ 99", ("99", "RUB")),
    ("2000 руб.", ("2000", "RUB")),
    ("12 р.", ("12", "RUB")),
    ("$1,180.00", ("1180.00", "USD")),
    ("USD 123/kg", ("123", "USD")),
    ("0.0031 BTC", ("0.0031", "BTC")),  # was 1 BTC: the thousands group ate "003"
    ("EUR 1.234,50", ("1234.50", "EUR")),
    ("120.5 EUR", ("120.5", "EUR")),
    ("garbage", None),
    ("", None),
    ("9" * 5000 + " ₽", None),
    # a plain space groups thousands only in 3-digit groups next to a currency
    ("1 500 ₽", ("1500", "RUB")),
    ("₽ 12 500", ("12500", "RUB")),
    ("1 250 000 руб.", ("1250000", "RUB")),
    ("2 500,50 EUR", ("2500.50", "EUR")),
    ("5 g 100 ₽", ("100", "RUB")),
    ("1 5000 ₽", ("5000", "RUB")),  # not a thousands group: the "1" is something else
    ("10 100 pills for 500 ₽", ("500", "RUB")),  # no currency on "10 100": not taken as a price
    ("1\u00a0500 ₽", ("1500", "RUB")),
    ("1 2 3 4 5 6 7 8 9 " * 300 + "₽", None),
]


@pytest.mark.parametrize("text, want", _MONEY)
def test_parse_money(text: str, want: tuple[str, str] | None) -> None:
    got = parse_money(text)
    assert (None if got is None else (got.amount, got.currency)) == (
        None if want is None else (Decimal(want[0]), want[1]))


@pytest.mark.parametrize("text, want", [("1 500", None), ("1500", ("1500", "RUB")), ("1 500 $", ("1500", "USD"))])
def test_space_grouping_needs_an_explicit_currency(text: str, want: tuple[str, str] | None) -> None:
    """With only a default currency, "1 500" could be a quantity and a price: not guessed."""
    got = parse_money(text, "RUB")
    assert (None if got is None else (got.amount, got.currency)) == (
        None if want is None else (Decimal(want[0]), want[1]))


@pytest.mark.parametrize("html, want", [
    ('<div class="t">line one<br/>line <b>two</b><br/><br/>end</div>', "line one\nline two\n\nend"),
    ('<div class="t">  <br/>only</div>', "only"),
    ('<div class="t"><script>x</script></div>', "x"),  # text only: markup never survives as markup
    ('<div class="t"></div>', ""),
])
def test_message_text_keeps_lines(html: str, want: str) -> None:
    assert message_text(Selector(text=html).css("div.t")[0]) == want
