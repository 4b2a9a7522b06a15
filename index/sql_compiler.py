"""Compile a query tree to a parameterised SQLite WHERE clause over ``docs d``.

User input only ever reaches SQLite as bound parameters; FTS5 expressions are built from
``tokenize`` tokens (letters and digits only) and are themselves bound. Layout (see
``narcwatch.index.sqlite``): single-valued keyword fields are lower-cased columns of
``docs``, multi-valued ones rows of ``terms(f, v, rid)``, text is the ``docs_fts`` table.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from narcwatch.index.documents import iso
from narcwatch.index.fields import FIELDS, FieldKind
from narcwatch.index.query import And, Bool, Exists, Keyword, MatchAll, Node, Not, Or, Range, Text

__all__ = ["KEYWORD_COLUMNS", "MULTI_FIELDS", "NUMBER_COLUMNS", "compile_sql", "fts_expression"]

#: single-valued keyword field -> lower-cased column of ``docs``
KEYWORD_COLUMNS = {"key": "key_lc", "type": "type", "source": "source_lc", "vendor": "vendor_lc",
                   "category": "category_lc", "currency": "currency_lc", "url": "url_lc", "capture_id": "capture_lc"}
MULTI_FIELDS = tuple(name for name, s in FIELDS.items() if s.multi)
NUMBER_COLUMNS = {"price": "price", "price_usd": "price_usd", "usd_per_gram": "usd_per_gram",
                  "usd_per_unit": "usd_per_unit", "first_seen": "first_seen", "last_seen": "last_seen",
                  "available": "available", "novel": "novel", "removed": "removed"}
_FTS_COLUMNS = {"title": "title", "text": "text"}


def fts_expression(node: Text) -> str:
    """``{title text} : ("tok1 tok2"*)`` — tokens are alphanumeric, so nothing to escape."""
    cols = " ".join(_FTS_COLUMNS[f] for f in node.fields)
    return "{%s} : (\"%s\"%s)" % (cols, " ".join(node.tokens), "*" if node.prefix else "")


def _glob(pattern: str) -> str:
    return pattern.replace("[", "[[]")  # only * and ? are wildcards for the user


def _param(v: Decimal | datetime) -> Any:
    return float(v) if isinstance(v, Decimal) else iso(v)


def compile_sql(node: Node) -> tuple[str, list[Any]]:
    params: list[Any] = []
    return _c(node, params), params


def _c(node: Node, params: list[Any]) -> str:
    if isinstance(node, MatchAll):
        return "1"
    if isinstance(node, And):
        return "(" + " AND ".join(_c(n, params) for n in node.items) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(_c(n, params) for n in node.items) + ")"
    if isinstance(node, Not):
        # a comparison with a NULL column is NULL, and NOT NULL is NULL: without coalesce
        # ``-currency:eur`` would drop the documents that have no currency, which match it
        return f"(NOT coalesce({_c(node.item, params)}, 0))"
    if isinstance(node, Text):
        params.append(fts_expression(node))
        return "d.rid IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?)"
    if isinstance(node, Keyword):
        op = "GLOB" if node.wildcard else "="
        params.append(_glob(node.value) if node.wildcard else node.value)
        if node.field in KEYWORD_COLUMNS:
            return f"(d.{KEYWORD_COLUMNS[node.field]} {op} ?)"
        if node.field in MULTI_FIELDS:
            params.insert(len(params) - 1, node.field)
            return f"d.rid IN (SELECT rid FROM terms WHERE f = ? AND v {op} ?)"
        params.pop()
        return "0"  # event-only fields never match a stored listing
    if isinstance(node, Range):
        col = NUMBER_COLUMNS.get(node.field)
        if col is None:
            return "0"
        parts = [f"d.{col} IS NOT NULL"]
        if node.low is not None:
            parts.append(f"d.{col} {'>=' if node.include_low else '>'} ?")
            params.append(_param(node.low))
        if node.high is not None:
            parts.append(f"d.{col} {'<=' if node.include_high else '<'} ?")
            params.append(_param(node.high))
        return "(" + " AND ".join(parts) + ")"
    if isinstance(node, Bool):
        col = NUMBER_COLUMNS.get(node.field)
        if col is None:
            return "0"
        params.append(1 if node.value else 0)
        return f"(d.{col} = ?)"
    if isinstance(node, Exists):
        spec = FIELDS[node.field]
        if node.field in MULTI_FIELDS:
            params.append(node.field)
            return "d.rid IN (SELECT rid FROM terms WHERE f = ?)"
        if spec.kind is FieldKind.TEXT:
            return f"(d.{node.field} IS NOT NULL AND d.{node.field} != '')"
        col = KEYWORD_COLUMNS.get(node.field) or NUMBER_COLUMNS.get(node.field)
        return f"(d.{col} IS NOT NULL AND d.{col} != '')" if col else "0"
    raise TypeError(f"unknown query node {type(node).__name__}")
