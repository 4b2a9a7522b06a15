"""Query tree -> Elasticsearch/OpenSearch DSL, and highlights over the verbatim text (no server)."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narcwatch.index.es_compiler import compile_es
from narcwatch.index.es_highlight import highlight
from narcwatch.index.query import QueryError, parse
from narcwatch.index.results import HL_END, HL_START


class C(NamedTuple):
    query: str
    dsl: dict[str, Any]


_F = lambda q: {"bool": {"filter": [q]}}  # noqa: E731

_COMPILED = [
    C("*", {"match_all": {}}),
    C("Étonitazène", {"bool": {"should": [{"match_phrase": {"title": {"query": "etonitazene", "boost": 4.0}}},
                                          {"match_phrase": {"text": {"query": "etonitazene", "boost": 1.0}}}],
                               "minimum_should_match": 1}}),
    C("title:3.5g", {"match_phrase": {"title": {"query": "3 5g", "boost": 4.0}}}),
    C("text:nitaz*", {"prefix": {"text": {"value": "nitaz", "boost": 1.0}}}),
    C('text:"lab gra*"', {"match_phrase": {"text": {"query": "lab gra", "boost": 1.0}}}),  # * inside a phrase is literal
    C("vendor:DrGreen", _F({"term": {"vendor": "drgreen"}})),
    C("wallet:bc1q?x*", _F({"wildcard": {"wallets": {"value": "bc1q?x*"}}})),
    C("vendor:a\\\\b*", _F({"wildcard": {"vendor": {"value": "a\\\\b*"}}})),  # a literal backslash stays literal
    C("usd_per_gram:<50", _F({"range": {"usd_per_gram": {"lt": 50.0}}})),
    C("price:[10 TO 20}", _F({"range": {"price": {"gte": 10.0, "lt": 20.0}}})),
    C("price:[* TO *]", _F({"exists": {"field": "price"}})),
    C("first_seen:2026-11-02", _F({"range": {"first_seen": {"gte": "2026-11-02T00:00:00.000000Z",
                                                              "lt": "2026-11-03T00:00:00.000000Z"}}})),
    C("available:no", _F({"term": {"available": False}})),
    C("title:*", _F({"term": {"has_text": "title"}})),
    C("ships_from:*", _F({"exists": {"field": "ships_from"}})),
    C("event:NEW", {"match_none": {}}),
    C("event_at:>2026-01-01", {"match_none": {}}),
    C("a AND NOT market:x", {"bool": {"must": [
        {"bool": {"should": [{"match_phrase": {"title": {"query": "a", "boost": 4.0}}},
                             {"match_phrase": {"text": {"query": "a", "boost": 1.0}}}], "minimum_should_match": 1}},
        {"bool": {"must_not": [_F({"term": {"source": "x"}})]}}]}}),
]


@pytest.mark.parametrize("row", _COMPILED, ids=[r.query for r in _COMPILED])
def test_compiles(row: C) -> None:
    assert compile_es(parse(row.query).root) == row.dsl


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_any_query_string_compiles_or_is_a_query_error(q: str) -> None:
    try:
        tree = parse(q).root
    except QueryError:
        return
    assert isinstance(compile_es(tree), dict)


class H(NamedTuple):
    query: str
    doc: dict[str, str]
    expected: dict[str, str]


S, E = HL_START, HL_END
_HIGHLIGHTS = [
    H("etonitazene", {"title": "Étonitazène 5g", "text": ""}, {"title": f"{S}Étonitazène{E} 5g"}),
    H('"lab grade"', {"title": "Lab-Grade lab grade", "text": "x"}, {"title": f"{S}Lab-Grade{E} {S}lab grade{E}"}),
    H("5g", {"title": "3.5g <b>", "text": ""}, {"title": f"3.{S}5g{E} <b>"}),
    H("crys*", {"title": "", "text": "a b c d e f g h i j k l m n o p q r s crystal t u v w x y z"},
      {"text": f"…p q r s {S}crystal{E} t u v w x y z"}),
    H("title:nothing", {"title": "something", "text": "nothing"}, {}),
    H("vendor:x", {"title": "x", "text": "x"}, {}),
]


@pytest.mark.parametrize("row", _HIGHLIGHTS, ids=[r.query for r in _HIGHLIGHTS])
def test_highlights_mark_the_verbatim_text(row: H) -> None:
    assert highlight(row.doc, parse(row.query).text_nodes) == row.expected


def test_highlight_is_total_on_huge_hostile_text() -> None:
    text = ("a\x00" * 200_000) + " etonitazene"
    assert highlight({"title": None, "text": text}, parse("etonitazene").text_nodes) == {}  # type: ignore[dict-item]
