"""Rate providers: page, file (CSV/JSON, nearest earlier day), chain."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from narcwatch.crawler.models import Money
from narcwatch.extract.rates import ChainRateProvider, PageRateProvider, RatesFileProvider, convert


def test_csv_nearest_earlier_day_within_max_age(tmp_path: Path) -> None:
    p = tmp_path / "rates.csv"
    p.write_text("date,currency,usd\n2017-07-01,BTC,2500\n2017-07-05,BTC,2600\n", encoding="utf-8")
    prov = RatesFileProvider.from_path(p, max_age_days=3)
    r = prov.rate("btc", date(2017, 7, 3))
    assert r is not None and (r.usd, r.source, r.on) == (Decimal(2500), "file:rates.csv", date(2017, 7, 1))
    assert prov.rate("BTC", date(2017, 6, 30)) is None
    assert prov.rate("BTC", date(2017, 7, 20)) is None
    assert prov.rate("XMR", date(2017, 7, 3)) is None
    assert prov.rate("BTC", None) is None  # no capture date: no rate, never "the latest"
    assert prov.misses == {"before_first_rate": 1, "rate_too_old": 1, "no_rates_for_currency": 1, "no_capture_date": 1}
    assert prov.unknown_currencies == {"XMR": 1}  # which file to add


def test_json_both_shapes(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    a.write_text('{"XMR": {"2017-07-01": "45.5"}}', encoding="utf-8")
    b = tmp_path / "b.json"
    b.write_text('[{"date": "2017-07-01", "currency": "LTC", "usd": 48}]', encoding="utf-8")
    assert RatesFileProvider.from_path(a).rate("XMR", date(2017, 7, 1)).usd == Decimal("45.5")  # type: ignore[union-attr]
    assert RatesFileProvider.from_path(b).rate("LTC", date(2017, 7, 2)).usd == Decimal(48)  # type: ignore[union-attr]


def test_page_rate_from_text() -> None:
    prov = PageRateProvider.from_text("1 BTC = 6,900 USD", date(2017, 7, 1))
    r = prov.rate("BTC", None)
    assert r is not None and (r.usd, r.source, r.on) == (Decimal(6900), "page", date(2017, 7, 1))
    assert not PageRateProvider.from_text("nothing here")


def test_page_rate_from_pairs() -> None:
    prov = PageRateProvider.from_pairs([(Money(amount=Decimal("0.5"), currency="XMR"), Money(amount=Decimal(25), currency="USD"))])
    assert prov.rate("XMR", None).usd == Decimal(50)  # type: ignore[union-attr]


class _Broken:
    def rate(self, currency: str, on: date | None) -> None:
        raise RuntimeError("service down")


def test_chain_first_wins_and_survives_a_broken_provider() -> None:
    page = PageRateProvider({"BTC": Decimal(7000)})
    file = RatesFileProvider([("BTC", date(2017, 7, 1), Decimal(2500)), ("EUR", date(2017, 7, 1), Decimal("1.1"))])
    chain = ChainRateProvider([_Broken(), page, file])
    assert chain.rate("BTC", date(2017, 7, 1)).source == "page"  # type: ignore[union-attr]
    assert chain.rate("EUR", date(2017, 7, 1)).usd == Decimal("1.1")  # type: ignore[union-attr]
    usd, rate = convert(Decimal(2), "EUR", chain, date(2017, 7, 1))  # type: ignore[misc]
    assert usd == Decimal("2.2") and rate.source.startswith("file:")
    assert convert(Decimal(2), "XMR", _Broken(), None) is None
    assert convert(Decimal(2), "USD", None, None)[1].source == "identity"  # type: ignore[index]
