"""Evaluate a query tree over one flat document, in memory (alert rules, tests).

Semantics are those of the SQLite and Elasticsearch compilers: text fields match on
``tokenize`` tokens, keyword values compare lower-cased (globs with ``*``/``?``), numbers
and dates by value, multi-valued fields match when any value does.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from narcwatch.index.fields import FIELDS, FieldKind
from narcwatch.index.query import And, Bool, Exists, Keyword, MatchAll, Node, Not, Or, Range, Text, tokenize

__all__ = ["evaluate", "glob_match"]


def evaluate(node: Node, doc: dict[str, Any]) -> bool:
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, And):
        return all(evaluate(n, doc) for n in node.items)
    if isinstance(node, Or):
        return any(evaluate(n, doc) for n in node.items)
    if isinstance(node, Not):
        return not evaluate(node.item, doc)
    if isinstance(node, Text):
        return any(_text_match(node, _as_str(doc.get(f))) for f in node.fields)
    if isinstance(node, Keyword):
        values = [v.lower() for v in _values(doc.get(node.field)) if isinstance(v, str)]
        if node.wildcard:
            return any(glob_match(node.value, v) for v in values)
        return node.value in values
    if isinstance(node, Range):
        return any(_in_range(node, v) for v in _values(doc.get(node.field)))
    if isinstance(node, Bool):
        v = doc.get(node.field)
        return isinstance(v, (bool, int)) and bool(v) is node.value
    if isinstance(node, Exists):
        return any(v not in (None, "") for v in _values(doc.get(node.field)))
    return False


def _values(v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, (list, tuple, set, frozenset)):
        return [x for x in v if x is not None]
    return [v]


def _as_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return " ".join(x for x in v if isinstance(x, str))
    return ""


def _text_match(node: Text, text: str) -> bool:
    tokens = tokenize(text)
    want = node.tokens
    n = len(want)
    for i in range(len(tokens) - n + 1):
        if tokens[i:i + n - 1] == list(want[:-1]):
            last = tokens[i + n - 1]
            if last == want[-1] or (node.prefix and last.startswith(want[-1])):
                return True
    return False


def glob_match(pattern: str, value: str) -> bool:
    """``*``/``?`` glob, linear-backtracking (no regex, so no catastrophic patterns)."""
    p = v = 0
    star = -1
    mark = 0
    while v < len(value):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == value[v]):
            p += 1
            v += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, v
            p += 1
        elif star != -1:
            p = star + 1
            mark += 1
            v = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _in_range(node: Range, raw: Any) -> bool:
    kind = FIELDS[node.field].kind
    value: Decimal | datetime | None
    value = _to_decimal(raw) if kind is FieldKind.NUMBER else _to_datetime(raw)
    if value is None:
        return False
    try:
        if node.low is not None and (value < node.low or (value == node.low and not node.include_low)):  # type: ignore[operator]
            return False
        if node.high is not None and (value > node.high or (value == node.high and not node.include_high)):  # type: ignore[operator]
            return False
    except TypeError:
        return False
    return True


def _to_decimal(v: Any) -> Decimal | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, Decimal):
        return v if v.is_finite() else None
    if isinstance(v, (int, float, str)):
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            return None
        return d if d.is_finite() else None
    return None


def _to_datetime(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=timezone.utc)
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=timezone.utc)
    if isinstance(v, str):
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    return None
