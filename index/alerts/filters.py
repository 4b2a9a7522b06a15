"""Rule filters: the product's query language evaluated in memory on one document.

The index area owns the query language (``narcwatch.index.query.matches``). Alerting
depends only on the narrow ``Filter`` interface below; ``compile_filter`` plugs in the
index's evaluator when it is installed and otherwise uses ``LuceneFilter``, a small
evaluator over luqum's parse tree with the same surface syntax
(``class:nitazene AND ships_from:(DE OR NL)``, ``usd_per_gram:<50``, ``price:[10 TO 20]``,
``title:"pure powder"``, ``NOT vendor:x``, ``title:nita*``).

Matching on a flat document: a field holding a list matches if any element matches;
keyword values compare case-insensitively; text values also match on any word; numbers
compare as Decimal. Unfielded terms search every string value.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from narcwatch.index.alerts.conditions import resolve, to_decimal

__all__ = ["Filter", "FilterError", "LuceneFilter", "MatchAll", "compile_filter"]

_WORD = re.compile(r"\w{1,64}")
_MAX_QUERY = 2000


class FilterError(ValueError):
    """A filter string that does not parse."""


@runtime_checkable
class Filter(Protocol):
    text: str

    def matches(self, doc: dict[str, Any]) -> bool: ...


class MatchAll:
    """The empty filter: a rule without ``filter`` matches every event of its types."""

    text = "*"

    def matches(self, doc: dict[str, Any]) -> bool:
        return True


class _IndexFilter:
    """Adapter over ``narcwatch.index.query`` (parse once, evaluate per document)."""

    def __init__(self, text: str, parsed: Any, matches: Callable[[Any, dict[str, Any]], bool]):
        self.text, self._parsed, self._matches = text, parsed, matches

    def matches(self, doc: dict[str, Any]) -> bool:
        return bool(self._matches(self._parsed, doc))


def _index_query() -> Any | None:
    try:
        return importlib.import_module("narcwatch.index.query")
    except ImportError:
        return None


def compile_filter(text: str | None, *, prefer_index: bool = True) -> Filter:
    """Parse ``text`` once; raises ``FilterError`` with the parser's reason."""
    if text is None or not text.strip() or text.strip() == "*":
        return MatchAll()
    if len(text) > _MAX_QUERY:
        raise FilterError(f"filter longer than {_MAX_QUERY} characters")
    mod = _index_query() if prefer_index else None
    if mod is not None and hasattr(mod, "matches"):
        parse = getattr(mod, "parse", None) or getattr(mod, "parse_query", None)
        try:
            parsed = parse(text) if parse else text
        except Exception as exc:  # the index's parser has its own error types
            raise FilterError(str(exc)) from exc
        return _IndexFilter(text, parsed, mod.matches)
    return LuceneFilter(text)


# ---------------------------------------------------------------- fallback evaluator


def _values(doc: dict[str, Any], field: str | None) -> list[Any]:
    if field is None:
        out: list[Any] = []
        for v in doc.values():
            out.extend(v if isinstance(v, (list, tuple)) else [v])
        return [v for v in out if isinstance(v, str)]
    v = resolve(doc, field)
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple, set)) else [v]


def _term_matches(value: Any, term: str) -> bool:
    if isinstance(value, dict):
        return any(_term_matches(v, term) for v in value.values())
    if isinstance(value, bool):
        return term.casefold() == str(value).casefold()
    num = to_decimal(term)
    if num is not None and not isinstance(value, str):
        got = to_decimal(value)
        return got is not None and got == num
    s = str(value).casefold()
    t = term.casefold()
    if "*" in t or "?" in t:
        return fnmatch.fnmatchcase(s, t) or any(fnmatch.fnmatchcase(w, t) for w in _WORD.findall(s))
    return s == t or t in _WORD.findall(s)


def _phrase_matches(value: Any, phrase: str) -> bool:
    words = _WORD.findall(phrase.casefold())
    have = _WORD.findall(str(value).casefold())
    n = len(words)
    return n > 0 and any(have[i:i + n] == words for i in range(len(have) - n + 1))


def _cmp(value: Any, bound: str, op: str) -> bool:
    if bound == "*":
        return True
    left, right = to_decimal(value), to_decimal(bound)
    if left is None or right is None:
        if isinstance(value, str):  # dates and other ISO strings compare lexically
            return {">": value > bound, ">=": value >= bound, "<": value < bound, "<=": value <= bound}[op]
        return False
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]


class LuceneFilter:
    """In-memory evaluation of the Lucene-style query language over luqum's tree."""

    def __init__(self, text: str):
        from luqum.exceptions import ParseError
        from luqum.parser import parser

        self.text = text
        try:
            self._tree = parser.parse(text)
        except (ParseError, TypeError, ValueError) as exc:
            raise FilterError(f"cannot parse filter {text!r}: {exc}") from None
        self._check(self._tree, 0)

    def _check(self, node: Any, depth: int) -> None:
        if depth > 64:
            raise FilterError("filter nests deeper than 64 levels")
        name = type(node).__name__
        if name in ("Regex", "Proximity"):
            raise FilterError(f"{name.lower()} queries are not supported in rule filters")
        for child in getattr(node, "children", ()):
            self._check(child, depth + 1)

    def matches(self, doc: dict[str, Any]) -> bool:
        return self._eval(self._tree, doc, None)

    def _eval(self, node: Any, doc: dict[str, Any], field: str | None) -> bool:
        name = type(node).__name__
        if name == "SearchField":
            return self._eval(node.expr, doc, node.name if field is None else f"{field}.{node.name}")
        if name in ("Group", "FieldGroup"):
            return self._eval(node.expr, doc, field)
        if name in ("AndOperation", "UnknownOperation"):
            # implicit operator: the product's default is AND
            return all(self._eval(c, doc, field) for c in node.children)
        if name == "OrOperation":
            return any(self._eval(c, doc, field) for c in node.children)
        if name in ("Not", "Prohibit"):
            return not self._eval(node.a, doc, field)
        if name in ("Plus", "Boost"):
            return self._eval(node.children[0], doc, field)
        if name == "Fuzzy":
            return self._eval(node.term, doc, field)
        vals = _values(doc, field)
        if name == "Word":
            term = node.value
            if term == "*":
                return bool(vals)
            for op in (">=", "<=", ">", "<"):
                if term.startswith(op):  # usd_per_gram:<50 when the parser leaves it in the word
                    return any(_cmp(v, term[len(op):], op) for v in vals)
            return any(_term_matches(v, term) for v in vals)
        if name == "Phrase":
            return any(_phrase_matches(v, node.value.strip('"')) for v in vals)
        if name == "Range":
            lo, hi = str(node.low.value), str(node.high.value)
            return any(_cmp(v, lo, ">=" if node.include_low else ">")
                       and _cmp(v, hi, "<=" if node.include_high else "<") for v in vals)
        if name == "From":
            return any(_cmp(v, str(node.a.value), ">=" if node.include else ">") for v in vals)
        if name == "To":
            return any(_cmp(v, str(node.a.value), "<=" if node.include else "<") for v in vals)
        return False  # unknown node kinds never match: fail closed


