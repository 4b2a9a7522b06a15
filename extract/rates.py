"""Exchange rates: USD per one unit of a currency on a date, with where the rate came from.

A ``RateProvider`` answers ``rate(currency, on) -> Rate | None``. Providers:

* ``PageRateProvider`` - the rate the page itself displays (a market that shows
  "0.0123 BTC ($85.10)" or "1 BTC = 6,900 USD" has told us its own rate, which is what
  the buyer paid), built with ``from_text`` or from pairs of displayed prices;
* ``RatesFileProvider`` - daily rates from a CSV (``date,currency,usd``) or JSON file
  (``[{"date":..., "currency":..., "usd":...}]`` or ``{"BTC": {"2017-07-01": "2500"}}``);
  the rate of the nearest earlier day within ``max_age_days`` is used;
* ``ChainRateProvider`` - the first provider that knows (page before file before service).

A deployment's rate service is one more class with the same method. USD is 1 by
definition (``USD_IDENTITY``), so USD prices convert without a provider.
"""

from __future__ import annotations

import csv
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol, runtime_checkable

from narcwatch.crawler.models import Money
from narcwatch.extract.money import PriceSpan, find_priced

__all__ = [
    "ChainRateProvider",
    "PageRateProvider",
    "Rate",
    "RateProvider",
    "RatesFileProvider",
    "convert",
]


@dataclass(frozen=True, slots=True)
class Rate:
    currency: str
    usd: Decimal  # USD per 1 unit of ``currency``
    source: str  # "identity", "page", "file:<name>", "service:<name>"
    on: date | None  # the rate's own date (may be earlier than the price's)


@runtime_checkable
class RateProvider(Protocol):
    def rate(self, currency: str, on: date | None) -> Rate | None: ...


def _identity(currency: str, on: date | None) -> Rate | None:
    if currency.upper() == "USD":
        return Rate("USD", Decimal(1), "identity", on)
    return None


def convert(amount: Decimal, currency: str, provider: RateProvider | None, on: date | None) -> tuple[Decimal, Rate] | None:
    """``amount`` in USD and the rate used, or None when no rate is known."""
    try:
        rate = _identity(currency, on) or (provider.rate(currency.upper(), on) if provider is not None else None)
    except Exception:  # noqa: BLE001 - a broken provider must not break extraction
        return None
    if rate is None or rate.usd <= 0:
        return None
    return amount * rate.usd, rate


class PageRateProvider:
    """Rates the page displays: a price shown in two currencies fixes their rate."""

    def __init__(self, rates: dict[str, Decimal] | None = None, on: date | None = None, source: str = "page") -> None:
        self._rates = {k.upper(): v for k, v in (rates or {}).items() if v and v > 0}
        self._on = on
        self._source = source

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[Money, Money]], on: date | None = None) -> PageRateProvider:
        """From displayed equivalents, e.g. ``(Money(0.0123, BTC), Money(85.10, USD))``."""
        rates: dict[str, list[Decimal]] = {}
        for a, b in pairs:
            if b.currency == "USD" and a.currency != "USD" and a.amount > 0:
                rates.setdefault(a.currency, []).append(b.amount / a.amount)
            elif a.currency == "USD" and b.currency != "USD" and b.amount > 0:
                rates.setdefault(b.currency, []).append(a.amount / b.amount)
        return cls({c: sorted(v)[len(v) // 2].quantize(_RATE_Q) for c, v in rates.items()}, on)

    @classmethod
    def from_text(cls, text: str, on: date | None = None) -> PageRateProvider:
        """Find displayed equivalents: ``0.0123 BTC ($85.10)``, ``1 BTC = 6900 USD``, ``$85 / 0.0123 BTC``."""
        return cls.from_prices(text or "", find_priced(text or "", strict=True), on)

    @classmethod
    def from_prices(cls, text: str, found: Sequence[PriceSpan], on: date | None = None) -> PageRateProvider:
        """``from_text`` on prices already found in ``text`` (``find_priced(text, strict=True)``):
        offers scan a page once and hand the same prices here."""
        prices = [p for p in found if p.currency and p.amount]
        pairs: list[tuple[Money, Money]] = []
        for a, b in zip(prices, prices[1:]):
            between = text[a.end:b.start]
            if len(between) <= 6 and a.currency != b.currency and _EQUIV.fullmatch(between):
                if "USD" in (a.currency, b.currency):
                    pairs.append((Money(amount=a.amount, currency=a.currency), Money(amount=b.amount, currency=b.currency)))
        return cls.from_pairs(pairs, on)

    def rate(self, currency: str, on: date | None) -> Rate | None:
        usd = self._rates.get(currency.upper())
        if usd is None:
            return None
        return Rate(currency.upper(), usd, self._source, self._on or on)

    def __bool__(self) -> bool:
        return bool(self._rates)


_EQUIV = re.compile(r"\s{0,2}[(\[/=≈~]?\s{0,2}(?:approx\.?\s{0,2}|ca\.?\s{0,2})?")
_RATE_Q = Decimal("0.000001")


class RatesFileProvider:
    """Daily rates from a CSV or JSON file; the nearest earlier day within ``max_age_days``."""

    def __init__(self, rows: Iterable[tuple[str, date, Decimal]], name: str = "rates", max_age_days: int = 7) -> None:
        table: dict[str, list[tuple[date, Decimal]]] = {}
        for currency, day, usd in rows:
            if usd > 0:
                table.setdefault(currency.upper(), []).append((day, usd))
        self._days: dict[str, list[date]] = {}
        self._usd: dict[str, list[Decimal]] = {}
        for cur, entries in table.items():
            entries.sort()
            self._days[cur] = [d for d, _ in entries]
            self._usd[cur] = [u for _, u in entries]
        self._source = f"file:{name}"
        self._max_age = max_age_days

    @classmethod
    def from_path(cls, path: str | Path, max_age_days: int = 7) -> RatesFileProvider:
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        rows = list(_parse_json(text) if p.suffix.lower() == ".json" else _parse_csv(text))
        return cls(rows, name=p.name, max_age_days=max_age_days)

    def rate(self, currency: str, on: date | None) -> Rate | None:
        cur = currency.upper()
        days = self._days.get(cur)
        if not days:
            return None
        if on is None:
            i = len(days) - 1
        else:
            i = bisect_right(days, on) - 1
            if i < 0 or (on - days[i]).days > self._max_age:
                return None
        return Rate(cur, self._usd[cur][i], self._source, days[i])


def _day(value: object) -> date | None:
    if isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def _usd(value: object) -> Decimal | None:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() and d > 0 else None


def _parse_csv(text: str) -> Iterable[tuple[str, date, Decimal]]:
    reader = csv.DictReader(text.splitlines())
    for row in reader:
        low = {(k or "").strip().lower(): v for k, v in row.items()}
        day = _day(low.get("date"))
        usd = _usd(low.get("usd") or low.get("rate") or low.get("usd_per_unit"))
        cur = (low.get("currency") or low.get("code") or "").strip()
        if day and usd and cur:
            yield cur, day, usd


def _parse_json(text: str) -> Iterable[tuple[str, date, Decimal]]:
    data = json.loads(text)
    if isinstance(data, dict):
        for cur, series in data.items():
            if isinstance(series, dict):
                for d, v in series.items():
                    day, usd = _day(d), _usd(v)
                    if day and usd:
                        yield str(cur), day, usd
    elif isinstance(data, list):
        for row in data:
            if isinstance(row, dict):
                day, usd = _day(row.get("date")), _usd(row.get("usd", row.get("rate")))
                cur = row.get("currency") or row.get("code")
                if day and usd and cur:
                    yield str(cur), day, usd


class ChainRateProvider:
    """Ask providers in order; the first rate wins (the page's own rate first)."""

    def __init__(self, providers: Sequence[RateProvider | None]) -> None:
        self.providers = [p for p in providers if p is not None]

    def rate(self, currency: str, on: date | None) -> Rate | None:
        for p in self.providers:
            try:
                r = p.rate(currency, on)
            except Exception:  # noqa: BLE001 - one broken provider must not hide the next
                continue
            if r is not None:
                return r
        return None
