"""Prices in scraped text: amount (``Decimal``) and currency code, with their span.

Total functions: garbage in, ``None`` or ``[]`` out, never an exception. The scan is
linear: one bounded regex pass finds numbers, and the currency next to each number is
found by longest-match dictionary look-ups in a window of at most ``_WINDOW`` characters
on either side (no alternation of hundreds of surfaces, no nested quantifiers).

Decimal separators follow the rules a reader applies: with both ``.`` and ``,`` the last
one is decimal (``1.234,56``, ``1,234.56``); a lone separator followed by exactly three
digits groups thousands (``94,456``, ``1.500``) unless the integer part is ``0`` or the
currency is a crypto one (``0.045 BTC``, ``1.125 BTC``); spaces, apostrophes and
no-break spaces group thousands; ``1.198,-`` is an integer; ``1.2k`` is 1200.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from narcwatch.crawler.models import Money
from narcwatch.extract import _currencies as _c

__all__ = [
    "CRYPTO_CODES",
    "PriceSpan",
    "currency_code",
    "find_priced",
    "find_prices",
    "parse_amount",
    "parse_price",
    "scan_price",
]

CRYPTO_CODES: frozenset[str] = frozenset(_c.CRYPTO)

_WINDOW = 20  # at most this many characters of a currency surface next to a number
_GAP = 2  # at most this many separator characters between number and currency
_GAP_CHARS = frozenset(" \u00a0\u202f\u2009:=")


def _build() -> tuple[dict[str, tuple[str, Decimal]], dict[str, tuple[str, Decimal]]]:
    exact: dict[str, tuple[str, Decimal]] = {}
    folded: dict[str, tuple[str, Decimal]] = {}
    one = Decimal(1)

    def add(surface: str, code: str, scale: Decimal = one, *, override: bool = False) -> None:
        if override or surface not in exact:
            exact[surface] = (code, scale)
        if surface not in _c.CASE_SENSITIVE:
            key = surface.casefold()
            if override or key not in folded:
                folded[key] = (code, scale)

    for table in (_c.CRYPTO, _c.FIAT, _c.FIAT_MORE):
        for code, surfaces in table.items():
            add(code, code)
            for s in surfaces:
                add(s, code)
    for code in _c.ISO_CODES_ONLY:
        add(code, code)
    for s, code in _c.AMBIGUOUS.items():
        add(s, code, override=True)
    for s, (code, scale) in _c.SUBUNITS.items():
        add(s, code, Decimal(scale), override=True)
    return exact, folded


_EXACT, _FOLDED = _build()


def _edge_index(edge: int) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """The lengths, longest first, of the surfaces whose two first (``edge=0``) or last
    (``edge=-1``) characters, case-folded, are a given pair; and the one-character
    surfaces by character. These are the only lengths a look-up can hit, so the scan
    makes a look-up or two per number instead of one per length up to ``_WINDOW``."""
    pairs: dict[str, set[int]] = {}
    ones: set[str] = set()
    for key in list(_EXACT) + list(_FOLDED):
        folded = key.casefold()
        if len(key) == 1:
            ones.add(folded if len(folded) == 1 else key)
        elif len(key) <= _WINDOW:
            pairs.setdefault(folded[:2] if edge == 0 else folded[-2:], set()).add(len(key))
    two = {}
    for pair, lengths in pairs.items():
        single = pair[0] if edge == 0 else pair[-1]
        two[pair] = tuple(sorted(lengths, reverse=True)) + ((1,) if single in ones else ())
    return two, {ch: (1,) for ch in ones}


_FIRST2, _FIRST1 = _edge_index(0)
_LAST2, _LAST1 = _edge_index(-1)
_FIRST = set(_FIRST1) | {p[0] for p in _FIRST2}
_LAST = set(_LAST1) | {p[-1] for p in _LAST2}


@lru_cache(maxsize=4096)
def _may_start(ch: str) -> bool:
    """Can a currency surface start with ``ch``? (Expanding case folds are let through.)"""
    f = ch.casefold()
    return len(f) != 1 or f in _FIRST


@lru_cache(maxsize=4096)
def _may_end(ch: str) -> bool:
    """Can a currency surface end with ``ch``?"""
    f = ch.casefold()
    return len(f) != 1 or f in _LAST

# Surfaces a strict scan (offers) accepts: codes of the currencies markets quote, their
# symbols and names; not single letters or rare local abbreviations that collide with
# units and drug names ("1P-LSD", "2C-B", "5 K").
MARKET_CODES: frozenset[str] = frozenset(
    {"USD", "EUR", "GBP", "CAD", "AUD", "CHF", "NZD", "RUB", "UAH", "BYN", "KZT", "PLN", "CZK",
     "SEK", "NOK", "DKK", "BRL", "MXN", "ARS", "COP", "JPY", "CNY", "INR", "THB", "TRY", "ZAR",
     "HUF", "RON", "BGN", "ILS", "HKD", "SGD"} | set(_c.CRYPTO)
)

_NUMBER = re.compile(
    r"""
    (?=[\d.,])                        # cheap first-character gate
    (?<![\d.,])                       # start of a number, not its middle
    (?:
        \d{1,3}(?:[,.'\u00a0\u202f\u2009 ]\d{3}){1,8}+(?:[.,]\d{1,24})?(?![\d])  # grouped: 1,234.56 / 1 690,54
      | \d{1,18}+(?:[.,]\d{1,24})?    # plain: 40, 12,50, 0.0045
      | [.,]\d{1,24}                  # .50
    )
    (?:[.,]-{1,2}|(?P<k>[kKкК])(?![^\W\d_]))?   # 1.198,-  /  1.2k
    """,
    re.VERBOSE,
)



_PERCENT = re.compile(r"\s?%")


@dataclass(frozen=True, slots=True)
class PriceSpan:
    """A number, maybe with its currency, and where it was found."""

    amount: Decimal | None
    currency: str | None
    start: int  # span of number and currency together
    end: int
    amount_start: int = 0
    amount_end: int = 0
    surface: str = ""  # the currency as written

    def money(self) -> Money | None:
        if self.amount is None or self.currency is None:
            return None
        return Money(amount=self.amount, currency=self.currency)


def _lookup(surface: str) -> tuple[str, Decimal] | None:
    hit = _EXACT.get(surface)
    if hit is None and surface not in _c.CASE_SENSITIVE:
        hit = _FOLDED.get(surface.casefold())
    return hit


def currency_code(surface: str | None) -> str | None:
    """The code for a currency surface (``"€"`` -> ``"EUR"``, ``"руб."`` -> ``"RUB"``), else None."""
    if not surface or not isinstance(surface, str):
        return None
    s = surface.strip()
    hit = _lookup(s)
    if hit is None and s.endswith("."):
        hit = _lookup(s[:-1])
    return hit[0] if hit else None


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_ARMOUR_RUN = 40  # an armour line is 64 characters; no price list runs this long without a space


def _armour_run(text: str, pos: int) -> tuple[int, int, bool]:
    """The run of base64 characters around ``pos`` (at most 200 each way) and whether it is a
    PGP key's or signature's armour: 40+ characters without a space, or the shorter last
    line of a block, right after a full one. "\\n2Kr/E2790AWV..." is the last line of a key,
    not 2 Swedish kronor. (``_scan`` reuses a run for every number inside it: linear.)"""
    n, lo, hi = len(text), pos, pos
    while lo > 0 and pos - lo < 200 and text[lo - 1] in _B64:
        lo -= 1
    while hi < n and hi - pos < 200 and text[hi] in _B64:
        hi += 1
    if hi - lo >= _ARMOUR_RUN:
        return lo, hi, True
    if lo > 0 and text[lo - 1] == "\n" and (hi == n or text[hi] in "\r\n"):
        top = lo - 1
        while top > 0 and lo - 1 - top < 200 and text[top - 1] in _B64:
            top -= 1
        return lo, hi, lo - 1 - top >= _ARMOUR_RUN and (top == 0 or text[top - 1] == "\n")
    return lo, hi, False


def _inside_token(text: str, a_start: int, a_end: int, c_start: int, c_end: int) -> bool:
    """Is the number a piece of a longer token (a wallet address, a key's base64 armour, a
    session id, an order number)? A letter touches it on a side where its currency is not:
    "XMR: 48wiU7Cs...", "jQz9ZAR". "USD48", "48XMR", "1.2k EUR" and the count of "5x32USD"
    stay prices."""
    if a_start > 0 and c_end != a_start and (text[a_start - 1].isalpha() or text[a_start - 1] == "_") \
            and not (text[a_start - 1] in "xX" and a_start > 1 and text[a_start - 2].isdigit()):  # "5x32USD"
        return True
    return a_end < len(text) and c_start != a_end and (text[a_end].isalpha() or text[a_end] == "_")


def _after(text: str, pos: int) -> tuple[int, int, str, Decimal, int] | None:
    """Longest currency surface starting within ``_GAP`` chars after ``pos``."""
    gap = 0
    n = len(text)
    while gap < _GAP and pos + gap < n and text[pos + gap] in _GAP_CHARS:
        gap += 1
    start = pos + gap
    if start >= n or not _may_start(text[start]):
        return None
    window = text[start:start + _WINDOW]
    folded = window.casefold()
    size = len(window)
    # casefold maps each character to one or more: equal lengths mean one each, so
    # folded[:k] is window[:k].casefold() and the index names every length that can hit;
    # otherwise (ß, ligatures) every length is tried, as a plain scan would.
    same = len(folded) == size
    lengths = (_FIRST2.get(folded[:2]) or _FIRST1.get(folded[:1], ())) if same else range(size, 0, -1)
    for length in lengths:
        if length > size:
            continue
        s = window[:length]
        if s[-1].isspace():
            continue
        hit = _EXACT.get(s)
        if hit is None and s not in _c.CASE_SENSITIVE:
            hit = _FOLDED.get(folded[:length] if same else s.casefold())
        if hit is None:
            continue
        end = start + length
        if _is_word(s[-1]) and end < n and _is_word(text[end]):
            continue
        return start, end, hit[0], hit[1], gap
    return None


def _before(text: str, pos: int) -> tuple[int, int, str, Decimal, int] | None:
    """Longest currency surface ending within ``_GAP`` chars before ``pos``."""
    gap = 0
    while gap < _GAP and pos - gap > 0 and text[pos - gap - 1] in _GAP_CHARS:
        gap += 1
    end = pos - gap
    if end <= 0 or not _may_end(text[end - 1]):
        return None
    window = text[max(0, end - _WINDOW):end]
    folded = window.casefold()
    size = len(window)
    same = len(folded) == size  # see _after
    lengths = (_LAST2.get(folded[-2:]) or _LAST1.get(folded[-1:], ())) if same else range(size, 0, -1)
    for length in lengths:
        if length > size:
            continue
        s = window[size - length:]
        if s[0].isspace():
            continue
        hit = _EXACT.get(s)
        if hit is None and s not in _c.CASE_SENSITIVE:
            hit = _FOLDED.get(folded[size - length:] if same else s.casefold())
        if hit is None:
            continue
        start = end - length
        if _is_word(s[0]) and start > 0 and _is_word(text[start - 1]):
            continue
        return start, end, hit[0], hit[1], gap
    return None


def parse_amount(raw: str, decimal_separator: str | None = None, *, crypto: bool = False) -> Decimal | None:
    """``"1.234,56"`` -> ``Decimal("1234.56")``; None when it is not a number."""
    if not raw or not isinstance(raw, str) or len(raw) > 80:
        return None
    if raw.isascii() and raw.isdigit():
        return Decimal(raw)  # the common case, "40": nothing to decide
    s = raw.strip()
    mult = Decimal(1)
    if s[-1:] in ("k", "K", "к", "К"):
        mult, s = Decimal(1000), s[:-1]
    s = s.rstrip("-")
    if s[-1:] in (".", ","):
        s = s[:-1]
    for ch in " \u00a0\u202f\u2009'":
        s = s.replace(ch, "")
    if not any(ch.isdigit() for ch in s):
        return None
    if decimal_separator in (".", ","):
        other = "," if decimal_separator == "." else "."
        s = s.replace(other, "").replace(decimal_separator, ".")
    else:
        dots, commas = s.count("."), s.count(",")
        if dots and commas:
            dec = "." if s.rfind(".") > s.rfind(",") else ","
            other = "," if dec == "." else "."
            s = s.replace(other, "")
            if s.count(dec) > 1:
                return None
            s = s.replace(dec, ".")
        elif dots + commas > 1:
            s = s.replace(".", "").replace(",", "")
        elif dots + commas == 1:
            sep = "." if dots else ","
            head, _, tail = s.partition(sep)
            thousands = len(tail) == 3 and head not in ("", "0") and not crypto
            s = head + tail if thousands else (head or "0") + "." + tail
    try:
        value = Decimal(s) * mult
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def find_prices(
    text: str,
    *,
    strict: bool = False,
    decimal_separator: str | None = None,
    limit: int = 50_000,
) -> list[PriceSpan]:
    """Every number in ``text`` with the currency written next to it (or ``None``).

    ``strict`` keeps only currencies markets quote in (``MARKET_CODES``) and drops the
    rest to ``currency=None``: offers use it so ``1P-LSD`` is not one Botswana pula.
    """
    return _scan(text, strict, decimal_separator, limit, priced_only=False)


def find_priced(text: str, *, strict: bool = False, limit: int = 50_000) -> list[PriceSpan]:
    """``find_prices`` less the numbers without a currency, without the work of parsing
    them: what offers and page rates read (one scan serves both)."""
    return _scan(text, strict, None, limit, priced_only=True)


def _scan(text: str, strict: bool, decimal_separator: str | None, limit: int, *, priced_only: bool) -> list[PriceSpan]:
    if not text or not isinstance(text, str):
        return []
    numbers = []
    for m in _NUMBER.finditer(text):
        numbers.append(m)
        if len(numbers) >= limit:
            break
    taken: set[tuple[int, int]] = set()
    out: list[PriceSpan] = []
    run = (0, 0, False)  # the last base64 run looked at (``_armour_run``)
    for m in numbers:
        a_start, a_end = m.span()
        if _PERCENT.match(text, a_end):
            continue  # "40% OFF" is not a price
        after = _after(text, a_end)
        before = _before(text, a_start)
        if strict:
            after = after if after and after[2] in MARKET_CODES else None
            before = before if before and before[2] in MARKET_CODES else None
        if after and (after[0], after[1]) in taken:
            after = None
        if before and (before[0], before[1]) in taken:
            before = None
        chosen = None
        if after and before:
            b_surf, a_surf = text[before[0]:before[1]], text[after[0]:after[1]]
            if b_surf in _c.AMBIGUOUS and a_surf.isupper() and len(a_surf) == 3:
                chosen = after  # "$1,190.00 AUD": the code says which dollar
            elif a_surf in _c.AMBIGUOUS and b_surf.isupper() and len(b_surf) == 3:
                chosen = before  # "NZD $100.70"
            elif before[4] != after[4]:
                chosen = before if before[4] < after[4] else after
            else:
                surf = text[before[0]:before[1]]
                chosen = before if (surf in _c.PREFIX_SYMBOLS or surf.endswith("$")) else after
        else:
            chosen = after or before
        if chosen is not None:
            if not run[0] <= a_start < run[1]:
                run = _armour_run(text, a_start)
            if run[2] or _inside_token(text, a_start, a_end, chosen[0], chosen[1]):
                chosen = None  # "XMR: 48wiU7Cs..." is an address, not 48 XMR; a key's armour likewise
        raw = m.group(0)
        if chosen is None:
            if priced_only:
                continue
            amount = parse_amount(raw, decimal_separator)
            if amount is not None:
                out.append(PriceSpan(amount, None, a_start, a_end, a_start, a_end, ""))
            continue
        c_start, c_end, code, scale, _ = chosen
        amount = parse_amount(raw, decimal_separator, crypto=code in CRYPTO_CODES)
        if amount is None:
            continue
        taken.add((c_start, c_end))
        out.append(
            PriceSpan(
                amount * scale if scale != 1 else amount,
                code,
                min(a_start, c_start),
                max(a_end, c_end),
                a_start,
                a_end,
                text[c_start:c_end],
            )
        )
    return out


def _currency_in(text: str) -> str | None:
    """A currency named anywhere in ``text`` (used for hints and amount-less strings)."""
    if not text:
        return None
    stripped = text.strip()
    code = currency_code(stripped)
    if code:
        return code
    for p in find_prices(text):
        if p.currency:
            return p.currency
    tokens = re.findall(r"[^\s\d]{1,12}", text[:200])
    if len(tokens) > 3:
        return None  # a currency word in a sentence is not a price ("Ph. Eur.")
    for tok in tokens:
        code = currency_code(tok)
        if code and (len(tok) > 1 or not tok.isalpha()):
            return code
    return None


def scan_price(
    text: str | None,
    *,
    currency_hint: str | None = None,
    decimal_separator: str | None = None,
) -> PriceSpan | None:
    """The price a short price string states: the first number with a currency, else the
    first number with the hint's currency (or none); None when there is no number and no currency."""
    try:
        if not isinstance(text, str):
            text = ""
        prices = find_prices(text[:10_000], decimal_separator=decimal_separator)
        for p in prices:
            if p.currency:
                return p
        hint = _currency_in(currency_hint) if isinstance(currency_hint, str) else None
        if prices:
            p = prices[0]
            if hint:
                amount = parse_amount(text[p.amount_start:p.amount_end], decimal_separator, crypto=hint in CRYPTO_CODES)
                return PriceSpan(amount, hint, p.start, p.end, p.amount_start, p.amount_end, "")
            return p
        code = _currency_in(text) or hint
        if code:
            return PriceSpan(None, code, 0, 0, 0, 0, "")
        return None
    except (RecursionError, MemoryError):  # pragma: no cover - belt and braces
        return None


def parse_price(
    text: str | None,
    *,
    currency_hint: str | None = None,
    decimal_separator: str | None = None,
    default_currency: str | None = None,
) -> Money | None:
    """``"$1,234.56"`` -> ``Money(1234.56, USD)``; None when no amount or no currency is known."""
    span = scan_price(text, currency_hint=currency_hint, decimal_separator=decimal_separator)
    if span is None or span.amount is None:
        return None
    currency = span.currency or (default_currency.upper() if default_currency else None)
    if not currency:
        return None
    return Money(amount=span.amount, currency=currency)
