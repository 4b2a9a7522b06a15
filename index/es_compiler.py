"""Compile a query tree (``narcwatch.index.query``) to the Elasticsearch/OpenSearch DSL.

The same parsed tree the SQL compiler reads, so both backends answer a query alike. The
index layout (``index/templates/items.json``) makes that possible without relying on
analyser behaviour that differs between engines:

* keyword fields hold lower-cased values (the parser lower-cases query values), so a
  ``term``/``wildcard`` query is exact, as ``=``/``GLOB`` over ``*_lc`` columns in SQLite;
* ``title``/``text`` hold the ``tokenize`` tokens joined by spaces and are analysed with
  a whitespace tokenizer: the same tokens as FTS5 ``unicode61 remove_diacritics 2``;
* ``has_text`` lists the text fields whose original value is non-empty (``title:*``).

Only ``Text`` nodes score; every other leaf is wrapped in a filter-only ``bool`` (score 0),
so relevance comes from text as in SQLite's bm25 ranking (title weighted 4, text 1).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from narcwatch.index.documents import iso
from narcwatch.index.fields import FIELDS, FieldKind
from narcwatch.index.query import And, Bool, Exists, Keyword, MatchAll, Node, Not, Or, Range, Text

__all__ = ["BOOL_FIELDS", "KEYWORD_FIELDS", "MULTI_FIELDS", "NUMBER_FIELDS", "TEXT_BOOST", "compile_es",
           "escape_wildcard"]

#: single-valued keyword fields of the items index (lower-cased values)
KEYWORD_FIELDS = ("key", "type", "source", "vendor", "category", "currency", "url", "capture_id")
MULTI_FIELDS = tuple(name for name, s in FIELDS.items() if s.multi)
NUMBER_FIELDS = ("price", "price_usd", "usd_per_gram", "usd_per_unit", "first_seen", "last_seen")
BOOL_FIELDS = ("available", "novel", "removed")
TEXT_BOOST = {"title": 4.0, "text": 1.0}
#: a phrase ending in a prefix (``"lab gra*"``) expands at most this many terms; a single
#: prefix token uses an exact ``prefix`` query instead.
PHRASE_PREFIX_EXPANSIONS = 1000

_NONE: dict[str, Any] = {"match_none": {}}


def escape_wildcard(pattern: str) -> str:
    """Only ``*`` and ``?`` are wildcards for the user; a backslash is literal."""
    return pattern.replace("\\", "\\\\")


def _filter(q: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"filter": [q]}}


def _bound(v: Decimal | datetime) -> Any:
    return float(v) if isinstance(v, Decimal) else iso(v)


def compile_es(node: Node) -> dict[str, Any]:
    """The ``query`` object for a search over the items indices (listings, posts)."""
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, And):
        return {"bool": {"must": [compile_es(n) for n in node.items]}}
    if isinstance(node, Or):
        return {"bool": {"should": [compile_es(n) for n in node.items], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_es(node.item)]}}
    if isinstance(node, Text):
        clauses = [_text(f, node) for f in node.fields]
        return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses, "minimum_should_match": 1}}
    if isinstance(node, Keyword):
        if node.field not in KEYWORD_FIELDS and node.field not in MULTI_FIELDS:
            return _NONE  # event-only fields never match a stored listing
        if node.wildcard:
            return _filter({"wildcard": {node.field: {"value": escape_wildcard(node.value)}}})
        return _filter({"term": {node.field: node.value}})
    if isinstance(node, Range):
        if node.field not in NUMBER_FIELDS:
            return _NONE
        r: dict[str, Any] = {}
        if node.low is not None:
            r["gte" if node.include_low else "gt"] = _bound(node.low)
        if node.high is not None:
            r["lte" if node.include_high else "lt"] = _bound(node.high)
        return _filter({"range": {node.field: r}} if r else {"exists": {"field": node.field}})
    if isinstance(node, Bool):
        if node.field not in BOOL_FIELDS:
            return _NONE
        return _filter({"term": {node.field: node.value}})
    if isinstance(node, Exists):
        spec = FIELDS[node.field]
        if spec.kind is FieldKind.TEXT:
            return _filter({"term": {"has_text": node.field}})
        if node.field in KEYWORD_FIELDS or node.field in MULTI_FIELDS or node.field in NUMBER_FIELDS \
                or node.field in BOOL_FIELDS:
            return _filter({"exists": {"field": node.field}})
        return _NONE
    raise TypeError(f"unknown query node {type(node).__name__}")


def _text(field: str, node: Text) -> dict[str, Any]:
    boost = TEXT_BOOST.get(field, 1.0)
    if node.prefix and len(node.tokens) == 1:
        return {"prefix": {field: {"value": node.tokens[0], "boost": boost}}}
    phrase = " ".join(node.tokens)
    if node.prefix:
        return {"match_phrase_prefix": {field: {"query": phrase, "boost": boost,
                                                "max_expansions": PHRASE_PREFIX_EXPANSIONS}}}
    return {"match_phrase": {field: {"query": phrase, "boost": boost}}}
