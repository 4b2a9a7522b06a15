"""Prices: data tables, the price-parser table side by side, properties, adversarial input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narcwatch.extract.money import currency_code, find_prices, parse_amount, parse_price, scan_price


class Example(NamedTuple):
    text: str
    amount: str | None
    currency: str | None


_BASICS = [
    Example("$1,234.56", "1234.56", "USD"),
    Example("12,50 €", "12.50", "EUR"),
    Example("40$", "40", "USD"),
    Example("£20", "20", "GBP"),
    Example("1.2k USD", "1200", "USD"),
    Example("US$:12.99", "12.99", "USD"),
    Example("1 690,54 руб. (шт)", "1690.54", "RUB"),
    Example("3 500 ₽", "3500", "RUB"),
    Example("1.234,56 EUR", "1234.56", "EUR"),
    Example("CHF 45.-", "45", "CHF"),
    Example("AU$59.95", "59.95", "AUD"),
    Example("C$ 120", "120", "CAD"),
    Example("$1,190.00 AUD", "1190.00", "AUD"),
]
_CRYPTO = [
    Example("0.0045 BTC", "0.0045", "BTC"),
    Example("1 BTC", "1", "BTC"),
    Example("₿0.25", "0.25", "BTC"),
    Example("0.5 bitcoins", "0.5", "BTC"),
    Example("1.125 BTC", "1.125", "BTC"),  # three decimals are decimals in crypto
    Example("5 mBTC", "0.005", "BTC"),
    Example("25000 sats", "0.00025000", "BTC"),
    Example("1.5 XMR", "1.5", "XMR"),
    Example("2 monero", "2", "XMR"),
    Example("0.05 ETH", "0.05", "ETH"),
    Example("3 LTC", "3", "LTC"),
    Example("150 USDT TRC20", "150", "USDT"),
    Example("150 USDT (TRC20)", "150", "USDT"),
    Example("99 tether", "99", "USDT"),
    Example("0.01 XBT", "0.01", "BTC"),
]
_NO_PRICE = [
    Example("", None, None),
    Example("cocaine uncut", None, None),
    Example("40% OFF", None, None),
    Example("\x00\x00\x00", None, None),
]

_ROWS = _BASICS + _CRYPTO + _NO_PRICE


@pytest.mark.parametrize("ex", _ROWS, ids=[e.text or "<empty>" for e in _ROWS])
def test_parse_price(ex: Example) -> None:
    money = parse_price(ex.text)
    if ex.amount is None:
        assert money is None
    else:
        assert money is not None
        assert (money.amount, money.currency) == (Decimal(ex.amount), ex.currency)


@pytest.mark.parametrize(
    ("surface", "code"),
    [("€", "EUR"), ("руб.", "RUB"), ("₽", "RUB"), ("US$", "USD"), ("bitcoins", "BTC"), ("Ƀ", "BTC"),
     ("monero", "XMR"), ("XBT", "BTC"), ("zł", "PLN"), ("Kč", "CZK"), ("nonsense", None), ("", None)],
)
def test_currency_code(surface: str, code: str | None) -> None:
    assert currency_code(surface) == code


@pytest.mark.parametrize(
    ("raw", "sep", "expected"),
    [("1.234,56", None, "1234.56"), ("1,234.56", None, "1234.56"), ("94,456", None, "94456"),
     ("0.045", None, "0.045"), ("12,5", None, "12.5"), ("1.198,-", None, "1198"), ("1 000", None, "1000"),
     ("1.234", ",", "1234"), ("1,5", ".", "15"), ("", None, None), ("..", None, None), ("1.2.3,4,5", None, None)],
)
def test_parse_amount(raw: str, sep: str | None, expected: str | None) -> None:
    got = parse_amount(raw, sep)
    assert got == (Decimal(expected) if expected else None)


def test_tiers_each_symbol_to_its_number() -> None:
    found = [(p.amount, p.currency) for p in find_prices("1g 40$ | 5g 180$ | $320 for 10g") if p.currency]
    assert found == [(Decimal(40), "USD"), (Decimal(180), "USD"), (Decimal(320), "USD")]


def test_strict_scan_ignores_rare_one_letter_currencies() -> None:
    assert [p.currency for p in find_prices("1P-LSD 100ug", strict=True)] == [None, None]


@pytest.mark.parametrize(("text", "prices"), [
    # a number inside a longer token is no price: found by the demo's rates counter
    # ("no rates for ZAR"), on vendor profiles with addresses and PGP armour
    ("Direct XMR: 48wiU7CsJo5FJoQ22guSVydiAqrANjQz", []),
    ("xjMEYcp9sBYJKwYBBAHaRw8BAQdAH+akM1zYGzUTIztCYV4lEtojCKqx3n0BjP+/", []),
    ("JQz9ZAR/x", []),
    ("Session: 05a0089375d0754128d30d3e17b16d13668fc92d9d6f8063be63f19027f36f00d6", []),
    ("order_12EUR", []),
    ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nwD/briTxtxWZ768RFR0Tj9Pmblv6jAp/ReBfEJK/fIfTM8A/0lSvtrLqKz7\n"
     "2Kr/E2790AWV2MlzBD/uohzQ8W1m3bGv2nbLwpYJrQ4kNyZpT9sHm0d", []),  # a line of armour: not 2 SEK
    ("8vO9jwD/briTxtxWZ768RFR0Tj9Pmblv6jAp/ReBfEJK/fIfTM8A/0lSvtrLqKz7\n2Kr/E2790AWV2MlzBD/uohzCp7WeVYkE\n=Z3lb\n"
     "-----END PGP PUBLIC KEY BLOCK-----", []),  # the block's short last line
    ("Prices\n5x32USD/10x59USD\n", [("32", "USD"), ("59", "USD")]),  # a short line after a short one
    # a currency that touches its number is still a price
    ("USD48", [("48", "USD")]),
    ("48XMR", [("48", "XMR")]),
    ("500руб", [("500", "RUB")]),
    ("1.2k EUR", [("1200", "EUR")]),
    ("XMR: 48 per g", [("48", "XMR")]),
    ("2g 300$, 5g 650$", [("300", "USD"), ("650", "USD")]),
    ("40€/g", [("40", "EUR")]),
    ("€50 (Ø 1g)", [("50", "EUR")]),
    ("5x32USD/10x59USD", [("32", "USD"), ("59", "USD")]),  # a glued tier row is not armour
])
def test_numbers_inside_tokens_are_not_prices(text: str, prices: list[tuple[str, str]]) -> None:
    got = [(p.amount, p.currency) for p in find_prices(text, strict=True) if p.currency]
    assert got == [(Decimal(a), c) for a, c in prices]


# ---------------------------------------------------------------------------------------
# The price-parser table (scrapinghub/price-parser tests), read in place.

# Rows of that table whose expectation we consider wrong, each with the reason.
WRONG_ROWS: dict[str, str] = {
    "1 ¢": "one cent is 0.01 USD; the table expects amount 1 in currency '¢'",
}


def _rows(shared_data: Path) -> list[dict]:
    path = shared_data / "price_parser" / "price_examples.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _norm(surface: str | None) -> str | None:
    """Both libraries and the table to one representation: the code when we know one."""
    if surface is None:
        return None
    return currency_code(surface) or surface.strip().upper()


def test_price_parser_table_side_by_side(shared_data: Path) -> None:
    price_parser = pytest.importorskip("price_parser")
    rows = _rows(shared_data)
    ours = theirs = wrong = 0
    crypto_ours = crypto_theirs = crypto_rows = 0
    for r in rows:
        if r["price_raw"] in WRONG_ROWS:
            wrong += 1
            continue
        want = (_norm(r["currency"]), None if r["amount"] is None else Decimal(str(r["amount"])))
        span = scan_price(r["price_raw"], currency_hint=r["currency_hint"], decimal_separator=r["decimal_separator"])
        got = (span.currency, span.amount) if span else (None, None)
        p = price_parser.Price.fromstring(r["price_raw"], currency_hint=r["currency_hint"], decimal_separator=r["decimal_separator"])
        got_pp = (_norm(p.currency), p.amount)
        ok, ok_pp = got == want, got_pp == want
        ours += ok
        theirs += ok_pp
        if want[0] in ("BTC", "XMR", "ETH", "LTC", "USDT"):
            crypto_rows += 1
            crypto_ours += ok
            crypto_theirs += ok_pp
    n = len(rows) - wrong
    print(f"\nprice table: {len(rows)} rows, {wrong} set aside as wrong ({', '.join(WRONG_ROWS)})")
    print(f"  narcwatch    amount+currency agree: {ours}/{n} = {ours / n:.3f}")
    print(f"  price-parser amount+currency agree: {theirs}/{n} = {theirs / n:.3f}")
    print(f"  crypto rows: narcwatch {crypto_ours}/{crypto_rows}, price-parser {crypto_theirs}/{crypto_rows}")
    assert ours >= theirs
    assert crypto_rows and crypto_ours == crypto_rows


@pytest.mark.parametrize("raw", sorted(WRONG_ROWS))
@pytest.mark.xfail(strict=True, reason="the table's expectation is wrong (see WRONG_ROWS)")
def test_wrong_table_rows_as_the_table_states_them(raw: str, shared_data: Path) -> None:
    row = next(r for r in _rows(shared_data) if r["price_raw"] == raw)
    span = scan_price(raw)
    assert span is not None and span.amount == Decimal(str(row["amount"]))


# ---------------------------------------------------------------------------------------
# Properties: total, offsets valid; adversarial input completes with the right answer.


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_total_and_offsets(text: str) -> None:
    parse_price(text)
    for p in find_prices(text):
        assert 0 <= p.start <= p.amount_start <= p.amount_end <= p.end <= len(text)
        if p.currency:
            assert p.surface and p.surface in text[p.start:p.end]


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False), st.sampled_from(["$", "€", "£"]))
def test_formatted_prices_roundtrip(amount: Decimal, symbol: str) -> None:
    assert parse_price(f"{symbol}{amount:,.2f}") is not None
    assert parse_price(f"{symbol}{amount:,.2f}").amount == amount  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "count"),
    [("1" * 100_000, 1), ("1," * 50_000, 1), ("$" * 100_000, 0), ("1.1." * 25_000, 1), ("€1 " * 30_000, 30_000)],
    ids=["digits", "comma-digits", "dollars", "dotted", "many-prices"],
)
def test_adversarial_inputs_complete(text: str, count: int) -> None:
    found = find_prices(text)
    assert len(found) == count
