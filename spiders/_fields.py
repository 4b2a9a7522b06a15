"""Total field coercions for scraped text: garbage in, ``None`` out, never an exception."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from narcwatch.crawler.models import Money

__all__ = ["ONION_RE", "clean", "parse_int", "parse_money", "parse_when"]

_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "฿": "BTC", "₿": "BTC", "ɱ": "XMR", "₽": "RUB", "РУБ": "RUB",
            "Р": "RUB"}
_CODES = ("USD", "EUR", "GBP", "BTC", "XMR", "LTC", "ETH", "USDT", "CAD", "AUD", "CHF", "RUB")
_MONEY = re.compile(
    r"""(?P<pre>[$€£฿₿ɱ₽]|\b(?:USD|EUR|GBP|BTC|XMR|LTC|ETH|USDT|CAD|AUD|CHF|RUB)\b)?  # symbol or code before
        \s{0,3}
        (?P<num>\d{1,3}(?:\x20\d{3}(?!\d)){1,4}(?:[.,]\d{1,12})?                      # 1 500 / 12 500,50 (plain space)
               |\d{1,12}(?:[.,\u00a0\u202f]\d{3}(?!\d)){0,4}(?:[.,]\d{1,12})?)        # 1,234.56 / 0.0031 / 1\u00a0500
        \s{0,3}
        (?P<post>[$€£฿₿ɱ₽]|\b(?:USD|EUR|GBP|BTC|XMR|LTC|ETH|USDT|CAD|AUD|CHF|RUB)\b|руб\.?|р\.)?  # after
    """, re.VERBOSE | re.IGNORECASE)
_GROUP_SPACES = re.compile(r"[\x20\u00a0\u202f]")
# v3 onion names are 56 base32 characters; v2 (16) are dead but still quoted in old posts.
ONION_RE = re.compile(r"\b(?:[a-z2-7]{56}|[a-z2-7]{16})\.onion\b", re.IGNORECASE)
_WS = re.compile(r"[\r\n\t\f\v]+")  # keep runs of spaces: spacing is an evasion signal


def clean(text: str | None, limit: int = 100_000) -> str:
    """Line breaks to spaces, ends stripped; inner spacing kept (evasion), bounded in size."""
    if not text:
        return ""
    return _WS.sub(" ", text[:limit]).strip()


def _number(raw: str) -> Decimal | None:
    if "," in raw and "." in raw:
        raw = raw.replace(",", "") if raw.rfind(".") > raw.rfind(",") else raw.replace(".", "").replace(",", ".")
    elif "," in raw:
        head, _, tail = raw.rpartition(",")
        raw = raw.replace(",", "") if len(tail) == 3 and head else raw.replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def parse_money(text: str | None, default_currency: str | None = None) -> Money | None:
    """``"$180.00"``, ``"0.0031 BTC"``, ``"EUR 1.234,50"`` -> Money; anything else -> None."""
    if not text:
        return None
    for m in _MONEY.finditer(text[:500]):
        cur = m.group("pre") or m.group("post")
        if not cur and not default_currency:
            continue
        num = m.group("num")
        if " " in num and not cur:
            continue  # "10 100" without a currency is as likely a quantity and a price as one number
        amount = _number(_GROUP_SPACES.sub("", num))
        if amount is None:
            continue
        cur = cur.rstrip(".") if cur else cur
        code = (_SYMBOLS.get(cur) or _SYMBOLS.get(cur.upper(), cur.upper())) if cur else default_currency
        if code and code.upper() in _CODES + tuple(_SYMBOLS.values()):
            return Money(amount=amount, currency=code)
    return None


def parse_int(text: str | None) -> int | None:
    if not text:
        return None
    m = re.search(r"\d{1,12}", text.replace(",", "")[:200])
    return int(m.group()) if m else None


def parse_when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip()[:40].replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
