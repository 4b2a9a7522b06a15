"""A small, safe grammar for conditions on a change (no ``eval``).

A rule's ``conditions`` is a list of comparisons that must all hold::

    price_drop_pct > 30
    usd_per_unit_new < 20
    ships_from in [DE, NL]
    vendor != "test vendor"

Grammar (one comparison per string, whitespace-insensitive)::

    condition := FIELD OP VALUE
    FIELD     := [A-Za-z_][A-Za-z0-9_.]{0,63}      dotted path into the event document
    OP        := > | >= | < | <= | == | != | in | not in
    VALUE     := NUMBER | "string" | 'string' | bare-word | [VALUE, ...]

Numbers compare as ``Decimal`` (money never goes through floats). A missing field or a
value that is not comparable makes the condition false: scraped data is hostile and a
rule must never crash or fire on garbage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Condition", "ConditionError", "parse_condition", "resolve", "to_decimal"]

_OPS = (">=", "<=", "==", "!=", ">", "<", "not in", "in")
_MAX_LEN = 400
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,63}")
_OP = re.compile(r"\s*(>=|<=|==|!=|>|<|not\s{1,8}in\b|in\b)\s*")
# One scalar: a quoted string without escapes, or a bare run of safe characters.
_SCALAR = re.compile(r"""\s*(?:"([^"]{0,200})"|'([^']{0,200})'|([^\s,\[\]"']{1,200}))\s*""")


class ConditionError(ValueError):
    """A condition string that does not follow the grammar; the message says where."""


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any  # Decimal | str | tuple[Decimal | str, ...]
    text: str

    def holds(self, doc: dict[str, Any]) -> bool:
        """True when the comparison holds for ``doc``; total: never raises."""
        actual = resolve(doc, self.field)
        if actual is None:
            return False
        try:
            if self.op in ("in", "not in"):
                vals = actual if isinstance(actual, (list, tuple, set)) else [actual]
                found = any(_equal(v, want) for v in vals for want in self.value)
                return found if self.op == "in" else not found
            if self.op in ("==", "!="):
                vals = actual if isinstance(actual, (list, tuple, set)) else [actual]
                eq = any(_equal(v, self.value) for v in vals)
                return eq if self.op == "==" else not eq
            left, right = to_decimal(actual), self.value
            if left is None or not isinstance(right, Decimal):
                return False
            return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[self.op]
        except (TypeError, ValueError, ArithmeticError):
            return False

    def __str__(self) -> str:
        return self.text


def to_decimal(value: Any) -> Decimal | None:
    """A number from an int, Decimal, numeric string or float (via ``str``); else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, (int, float, str)):
        try:
            d = Decimal(str(value).strip()) if not isinstance(value, int) else Decimal(value)
        except (InvalidOperation, ValueError):
            return None
        return d if d.is_finite() else None
    return None


def _equal(actual: Any, want: Any) -> bool:
    if isinstance(want, Decimal):
        got = to_decimal(actual)
        return got is not None and got == want
    return str(actual).casefold() == str(want).casefold()


def resolve(doc: dict[str, Any], path: str) -> Any:
    """Value at a dotted ``path`` (``offer.usd_per_unit``); a flat key with dots wins.

    Through a list the path maps over its elements (``identifiers.value`` is the list of
    every identifier's value), as Elasticsearch does for arrays of objects.
    """
    if path in doc:
        return doc[path]
    cur: Any = doc
    for part in path.split(".")[:16]:
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list):
            got = [e.get(part) for e in cur[:1000] if isinstance(e, dict)]
            cur = [v for g in got for v in (g if isinstance(g, list) else [g]) if v is not None] or None
        else:
            return None
        if cur is None:
            return None
    return cur


def _scalar(text: str, pos: int) -> tuple[Decimal | str, int]:
    m = _SCALAR.match(text, pos)
    if not m:
        raise ConditionError(f"expected a value at column {pos + 1}")
    quoted = m.group(1) if m.group(1) is not None else m.group(2)
    if quoted is not None:
        return quoted, m.end()
    bare = m.group(3)
    num = to_decimal(bare) if re.fullmatch(r"[-+]?\d{1,30}(?:\.\d{1,30})?", bare) else None
    return (num if num is not None else bare), m.end()


def parse_condition(text: str) -> Condition:
    """Parse one comparison; raises ``ConditionError`` saying what was expected."""
    if not isinstance(text, str):
        raise ConditionError("a condition must be a string like 'price_drop_pct > 30'")
    if len(text) > _MAX_LEN:
        raise ConditionError(f"condition longer than {_MAX_LEN} characters")
    src = text.strip()
    m = _FIELD.match(src)
    if not m:
        raise ConditionError("a condition starts with a field name, e.g. 'price_drop_pct > 30'")
    field, pos = m.group(0), m.end()
    om = _OP.match(src, pos)
    if not om:
        raise ConditionError(f"expected an operator ({', '.join(_OPS)}) after {field!r} at column {pos + 1}")
    op = " ".join(om.group(1).split())
    pos = om.end()
    value: Any
    if op in ("in", "not in"):
        if not src.startswith("[", pos):
            raise ConditionError(f"'{op}' needs a list like [DE, NL] at column {pos + 1}")
        pos += 1
        items: list[Decimal | str] = []
        while True:
            if len(items) > 100:
                raise ConditionError("a list may hold at most 100 values")
            item, pos = _scalar(src, pos)
            items.append(item)
            if src.startswith(",", pos):
                pos += 1
                continue
            if src.startswith("]", pos):
                pos += 1
                break
            raise ConditionError(f"expected ',' or ']' at column {pos + 1}")
        value = tuple(items)
    else:
        value, pos = _scalar(src, pos)
        if op in (">", ">=", "<", "<=") and not isinstance(value, Decimal):
            raise ConditionError(f"'{op}' compares numbers; got {value!r}")
    if src[pos:].strip():
        raise ConditionError(f"unexpected text at column {pos + 1}: {src[pos:pos + 20]!r}")
    return Condition(field, op, value, src)
