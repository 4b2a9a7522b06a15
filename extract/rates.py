"""Exchange rates: USD per one unit of a currency on a date, with where the rate came from.

A ``RateProvider`` answers ``rate(currency, on) -> Rate | None``. Providers:

* ``PageRateProvider`` - the rate the page itself displays (a market that shows
  "0.0123 BTC ($85.10)" or "1 BTC = 6,900 USD" has told us its own rate, which is what
  the buyer paid), built with ``from_text`` or from pairs of displayed prices;
* ``RatesFileProvider`` - daily rates from CSV (``date,currency,usd``; ``#`` comment lines)
  or JSON files (``[{"date":..., "currency":..., "usd":...}]`` or
  ``{"BTC": {"2017-07-01": "2500"}}``); the rate of the nearest earlier day within
  ``max_age_days`` of the capture date is used, and a miss is counted, never guessed.
  ``load_rates`` builds it from the config's ``rates_files`` plus ``<data>/rates/``;
  a bad row is a ``RatesFileError`` naming file and line before anything is ingested;
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
from narcwatch.crawler.yamlsource import Problem
from narcwatch.extract.money import PriceSpan, find_priced

__all__ = [
    "ChainRateProvider",
    "PageRateProvider",
    "Rate",
    "RateProvider",
    "DEFAULT_MAX_AGE_DAYS",
    "RatesFileError",
    "RatesFileProvider",
    "convert",
    "load_rates",
    "rates_paths",
    "read_rates_file",
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


DEFAULT_MAX_AGE_DAYS = 7
#: what a rates file may hold: 10 MB is years of daily rates for hundreds of currencies
MAX_RATES_FILE_BYTES = 10_000_000
_CODE = re.compile(r"[A-Z][A-Z0-9]{1,9}")  # ISO 4217 or a crypto ticker (BTC, XMR, USDT)
_USD_COLUMNS = ("usd", "rate", "usd_per_unit")
_CURRENCY_COLUMNS = ("currency", "code")

RateRow = tuple[str, date, Decimal]


class RatesFileError(ValueError):
    """A rates file that cannot be used; ``problems`` names each bad row by file and line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def read_rates_file(path: str | Path) -> tuple[list[RateRow], list[Problem]]:
    """Every valid row of a CSV or JSON rates file and a ``Problem`` (file:line) for every bad one.

    Total: a missing, unreadable, oversized or garbled file is one problem, never an exception.
    The same (currency, day) twice with different rates is a problem: which would be right?
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_RATES_FILE_BYTES:
            return [], [Problem(str(p), None, "(file)", f"rates file is {size} bytes; at most {MAX_RATES_FILE_BYTES}")]
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return [], [Problem(str(p), None, "(file)", "rates file not found")]
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(str(p), None, "(file)", f"cannot read rates file: {type(exc).__name__}: {exc}"[:300])]
    located = _read_json(str(p), text) if p.suffix.lower() == ".json" else _read_csv(str(p), text)
    rows: list[RateRow] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, date], tuple[Decimal, int | None]] = {}
    for item in located:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        (cur, day, usd), line, where = item
        first = seen.get((cur, day))
        if first is None:
            seen[(cur, day)] = (usd, line)
            rows.append((cur, day, usd))
        elif first[0] != usd:
            at = f" (line {first[1]})" if first[1] else ""
            problems.append(Problem(str(p), line, where, f"{cur} on {day} already has rate {first[0]}{at}", str(usd)))
    if not rows and not problems:
        problems.append(Problem(str(p), None, "(file)", "rates file holds no rates"))
    return rows, problems


_Located = tuple[RateRow, int | None, str]


def _row(file: str, line: int | None, where: str, cur: object, day: object, usd: object) -> _Located | Problem:
    code = str(cur or "").strip().upper()
    if not _CODE.fullmatch(code):
        return Problem(file, line, where, "currency must be a code such as EUR, RUB, BTC, XMR", cur)
    d = _day(day)
    if d is None:
        return Problem(file, line, where, "date must be YYYY-MM-DD", day)
    u = _usd(usd)
    if u is None:
        return Problem(file, line, where, "usd must be a positive decimal number (USD per 1 unit)", usd)
    return (code, d, u), line, where


def _read_csv(file: str, text: str) -> Iterable[_Located | Problem]:
    # ``#`` lines are comments (a provenance note); they become empty rows so line numbers hold.
    lines = ("" if ln.lstrip().startswith("#") else ln for ln in text.splitlines())
    reader = csv.reader(lines)
    header: dict[str, int] | None = None
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            line = reader.line_num
            if header is None:
                names = [c.strip().lower() for c in cells]
                header = {n: i for i, n in enumerate(names) if n}
                missing = [want for want, alts in (("date", ("date",)), ("currency", _CURRENCY_COLUMNS),
                                                   ("usd", _USD_COLUMNS)) if not any(a in header for a in alts)]
                if missing:
                    yield Problem(file, line, "header", f"CSV header needs columns date,currency,usd; missing {', '.join(missing)}",
                                  ",".join(cells)[:200])
                    return
                continue

            def col(*alts: str) -> str | None:
                for a in alts:
                    i = header.get(a)  # type: ignore[union-attr]
                    if i is not None and i < len(cells) and cells[i].strip():
                        return cells[i].strip()
                return None

            yield _row(file, line, f"row {line}", col(*_CURRENCY_COLUMNS), col("date"), col(*_USD_COLUMNS))
    except csv.Error as exc:
        yield Problem(file, reader.line_num or None, "(csv)", f"malformed CSV: {exc}")


def _read_json(file: str, text: str) -> Iterable[_Located | Problem]:
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        yield Problem(file, exc.lineno, "(json)", f"malformed JSON: {exc.msg}")
        return
    except (ValueError, RecursionError) as exc:
        yield Problem(file, None, "(json)", f"malformed JSON: {type(exc).__name__}")
        return
    if isinstance(data, dict):
        for cur, series in data.items():
            if not isinstance(series, dict):
                yield Problem(file, _line_of(text, cur), str(cur), 'expected {"YYYY-MM-DD": usd, ...}', type(series).__name__)
                continue
            for d, v in series.items():
                yield _row(file, _line_of(text, cur), f"{cur}.{d}", cur, d, v)
    elif isinstance(data, list):
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                yield Problem(file, None, f"[{i}]", "expected an object with date, currency, usd", type(row).__name__)
                continue
            cur = row.get("currency", row.get("code"))
            usd = next((row[k] for k in _USD_COLUMNS if k in row), None)
            yield _row(file, None, f"[{i}]", cur, row.get("date"), usd)
    else:
        yield Problem(file, 1, "(top level)", 'expected {"CUR": {"YYYY-MM-DD": usd}} or [{"date", "currency", "usd"}]')


def _line_of(text: str, key: object) -> int | None:
    """The line where ``"key":`` first appears (JSON keeps no positions; a currency key is rare)."""
    i = text.find(json.dumps(str(key)))
    return text.count("\n", 0, i) + 1 if i >= 0 else None


class RatesFileProvider:
    """Daily rates from CSV or JSON files; the nearest earlier day within ``max_age_days``.

    A rate is never guessed: no capture date, a currency the files do not have, a date
    before the first rate or more than ``max_age_days`` after the nearest earlier one
    answer ``None``, and each such miss is counted in ``misses`` under its reason, so an
    operator sees why prices stayed without USD; a currency no file has is also counted
    by name in ``unknown_currencies`` (the file to add).
    """

    def __init__(self, rows: Iterable[tuple[str, date, Decimal] | tuple[str, date, Decimal, str]],
                 name: str = "rates", max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> None:
        table: dict[str, dict[date, tuple[Decimal, str]]] = {}
        default = f"file:{name}"
        for row in rows:
            currency, day, usd = row[0], row[1], row[2]
            source = row[3] if len(row) > 3 else default  # type: ignore[misc]
            if usd > 0:  # the first file that has (currency, day) wins
                table.setdefault(currency.upper(), {}).setdefault(day, (usd, source))
        self._days: dict[str, list[date]] = {}
        self._usd: dict[str, list[tuple[Decimal, str]]] = {}
        for cur, entries in table.items():
            days = sorted(entries)
            self._days[cur] = days
            self._usd[cur] = [entries[d] for d in days]
        self._max_age = max_age_days
        self.misses: dict[str, int] = {}
        self.unknown_currencies: dict[str, int] = {}
        self.files: list[str] = []

    @classmethod
    def from_path(cls, path: str | Path, max_age_days: int = DEFAULT_MAX_AGE_DAYS, *,
                  strict: bool = True) -> RatesFileProvider:
        """Load one file; ``strict`` (the default) raises ``RatesFileError`` naming every bad row,
        otherwise bad rows are left out."""
        return cls.from_paths([path], max_age_days, strict=strict)

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path], max_age_days: int = DEFAULT_MAX_AGE_DAYS, *,
                   strict: bool = True) -> RatesFileProvider:
        """Load several files; for the same (currency, day) the earlier file wins."""
        rows: list[tuple[str, date, Decimal, str]] = []
        problems: list[Problem] = []
        names: list[str] = []
        for path in paths:
            got, bad = read_rates_file(path)
            problems += bad
            rows += [(c, d, u, f"file:{Path(path).name}") for c, d, u in got]
            names.append(str(path))
        if strict and problems:
            raise RatesFileError(problems)
        provider = cls(rows, max_age_days=max_age_days)
        provider.files = names
        return provider

    def lookup(self, currency: str, on: date | None) -> Rate | str:
        """The rate, or the reason there is none (the key ``misses`` counts it under)."""
        cur = currency.upper()
        days = self._days.get(cur)
        if not days:
            return "no_rates_for_currency"
        if on is None:
            return "no_capture_date"
        i = bisect_right(days, on) - 1
        if i < 0:
            return "before_first_rate"
        if (on - days[i]).days > self._max_age:
            return "rate_too_old"
        usd, source = self._usd[cur][i]
        return Rate(cur, usd, source, days[i])

    def rate(self, currency: str, on: date | None) -> Rate | None:
        found = self.lookup(currency, on)
        if isinstance(found, str):
            self.misses[found] = self.misses.get(found, 0) + 1
            if found == "no_rates_for_currency":
                cur = currency.upper()
                self.unknown_currencies[cur] = self.unknown_currencies.get(cur, 0) + 1
            return None
        return found

    def coverage(self) -> dict[str, tuple[date, date, int]]:
        """Per currency: first day, last day, number of days."""
        return {c: (d[0], d[-1], len(d)) for c, d in sorted(self._days.items())}

    def __len__(self) -> int:
        return sum(len(d) for d in self._days.values())


def rates_paths(rates_files: Iterable[str | Path], data_dir: str | Path | None) -> list[Path]:
    """The configured files, then ``<data_dir>/rates/*.csv`` and ``*.json`` (sorted), each once."""
    out = [Path(p) for p in rates_files]
    if data_dir is not None:
        d = Path(data_dir) / "rates"
        if d.is_dir():
            out += sorted(p for p in d.iterdir() if p.suffix.lower() in (".csv", ".json") and p.is_file())
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def load_rates(rates_files: Iterable[str | Path], data_dir: str | Path | None,
               max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> RatesFileProvider | None:
    """The provider an ingest path uses, or None when no rates file is configured or present.

    Raises ``RatesFileError`` (every bad row, file:line) before anything is ingested."""
    paths = rates_paths(rates_files, data_dir)
    return RatesFileProvider.from_paths(paths, max_age_days) if paths else None


def _day(value: object) -> date | None:
    if isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    text = str(value).strip()
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _usd(value: object) -> Decimal | None:
    if isinstance(value, bool | dict | list) or value is None:
        return None
    try:
        d = Decimal(str(value).strip()[:64])
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() and d > 0 else None


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
