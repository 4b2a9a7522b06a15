"""The query language: parser rows, error rows, and the in-memory evaluator as data tables."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, NamedTuple

import pytest

from narcwatch.index.evaluate import glob_match
from narcwatch.index.query import (
    And, Bool, Exists, Keyword, MatchAll, Not, Or, QueryError, Range, Text, matches, parse,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
D = Decimal


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


class P(NamedTuple):
    query: str
    tree: Any


_PARSE = [
    P("", MatchAll()),
    P("*", MatchAll()),
    P("nitazene", Text(("title", "text"), ("nitazene",))),
    P("Nitazène", Text(("title", "text"), ("nitazene",))),
    P("nitaz*", Text(("title", "text"), ("nitaz",), True)),
    P('"etonitazene powder"', Text(("title", "text"), ("etonitazene", "powder"))),
    P("3-MMC", Text(("title", "text"), ("3", "mmc"))),
    P("title:crystal", Text(("title",), ("crystal",))),
    P("description:pure", Text(("text",), ("pure",))),
    P("class:nitazene", Keyword("classes", "nitazene")),
    P("substance:Etonitazene", Keyword("substances", "etonitazene")),
    P("market:alpha_market", Keyword("source", "alpha_market")),
    P("vendor:dr*", Keyword("vendor", "dr*", True)),
    P('vendor:"dr*"', Keyword("vendor", "dr*", False)),
    P("wallet:*", Exists("wallets")),
    P("usd_per_gram:<50", Range("usd_per_gram", None, D(50), True, False)),
    P("usd_per_gram:<=50", Range("usd_per_gram", None, D(50), True, True)),
    P("ppg:>10.5", Range("usd_per_gram", D("10.5"), None, False, True)),
    P("price:[10 TO 50]", Range("price", D(10), D(50))),
    P("price:{10 TO *]", Range("price", D(10), None, False, True)),
    P("price:50", Range("price", D(50), D(50))),
    P("first_seen:>=2026-11-01", Range("first_seen", utc(2026, 11, 1), None)),
    P("first_seen:2026-11-01", Range("first_seen", utc(2026, 11, 1), utc(2026, 11, 2), True, False)),
    P("last_seen:>now-7d", Range("last_seen", utc(2026, 11, 13, 12), None, False, True)),
    P("available:true", Bool("available", True)),
    P("novel:no", Bool("novel", False)),
    P("a AND b", And((Text(("title", "text"), ("a",)), Text(("title", "text"), ("b",))))),
    P("a b", And((Text(("title", "text"), ("a",)), Text(("title", "text"), ("b",))))),
    P("a OR b OR c", Or(tuple(Text(("title", "text"), (x,)) for x in "abc"))),
    P("-vendor:x", Not(Keyword("vendor", "x"))),
    P("NOT class:cannabis", Not(Keyword("classes", "cannabis"))),
    P("class:(nitazene OR fentanyl_analogue)",
      Or((Keyword("classes", "nitazene"), Keyword("classes", "fentanyl_analogue")))),
    P("class:nitazene^2", Keyword("classes", "nitazene")),
    P(r"vendor:dr\:x", Keyword("vendor", "dr:x")),
]


@pytest.mark.parametrize("row", _PARSE, ids=[r.query or "(empty)" for r in _PARSE])
def test_parse(row: P) -> None:
    assert parse(row.query, now=NOW).root == row.tree


class E(NamedTuple):
    query: str
    position: int | None
    says: str
    lists_fields: bool = False


_ERRORS = [
    E("foo:bar", 0, "unknown field 'foo'", True),
    E("class:nitazene AND colour:red", 19, "unknown field 'colour'", True),
    E("a AND AND b", 6, "syntax error"),
    E("(a OR b", 7, "syntax error"),
    E('title:"abc', 6, "syntax error"),
    E("usd_per_gram:<abc", 14, "takes a number"),
    E("first_seen:>=yesterday", 13, "takes a date"),
    E("available:maybe", 10, "true or false"),
    E("*azene", 0, "trailing *"),
    E("a~2", 0, "fuzzy"),
    E("/nit.*/", 0, "regular expressions"),
    E("<50", 0, "needs a field", True),
    E("class:[a TO b]", 6, "takes no range"),
    E("!!!", 0, "no searchable word"),
]


@pytest.mark.parametrize("row", _ERRORS, ids=[r.query for r in _ERRORS])
def test_errors_point_at_position(row: E) -> None:
    with pytest.raises(QueryError) as info:
        parse(row.query, now=NOW)
    err = info.value
    assert row.says in str(err)
    assert err.position == row.position
    assert ("valid fields:" in str(err)) is row.lists_fields
    if row.lists_fields:
        assert "usd_per_gram" in err.valid_fields and "ships_from" in err.valid_fields


def test_overlong_query_is_refused() -> None:
    with pytest.raises(QueryError):
        parse("a " * 5000)


DOC: dict[str, Any] = {
    "key": "alpha:123", "type": "listing", "source": "alpha", "title": "Etonitazene powder 1g - lab grade",
    "text": "Pure crystal, stealth shipping from NL.", "vendor": "DrGreen",
    "substances": ["etonitazene"], "classes": ["nitazene"], "ships_from": ["NL", "EU"], "ships_to": ["WW"],
    "wallets": ["bc1qexampleexampleexample"], "pgp": [], "price": D("120.00"), "currency": "USD",
    "usd_per_gram": D("40.5"), "usd_per_unit": None, "available": True, "novel": False,
    "first_seen": utc(2026, 11, 3), "last_seen": "2026-11-19T08:00:00+00:00",
}


class M(NamedTuple):
    query: str
    expected: bool


_MATCH = [
    M("class:nitazene AND ships_from:eu AND usd_per_gram:<50", True),
    M("etonitazene", True),
    M("ETONITAZENE", True),
    M("etoni*", True),
    M('"powder 1g"', True),
    M('"1g powder"', False),
    M('"lab gr*"', False),  # a phrase is quoted: * is literal, not a wildcard
    M("title:stealth", False),
    M("text:stealth", True),
    M("vendor:drgreen", True),
    M("vendor:dr*", True),
    M("vendor:?rgreen", True),
    M("vendor:dr", False),
    M("price:[100 TO 120]", True),
    M("price:[100 TO 120}", False),
    M("usd_per_unit:<5", False),
    M("usd_per_unit:*", False),
    M("wallet:*", True),
    M("pgp:*", False),
    M("first_seen:>=2026-11-01 AND first_seen:<2026-11-04", True),
    M("first_seen:2026-11-03", True),
    M("last_seen:>now-7d", True),
    M("available:true AND NOT novel:true", True),
    M("class:cannabis OR market:alpha", True),
    M("-market:alpha", False),
    M("missing_text_field_value OR class:nitazene", True),
]


@pytest.mark.parametrize("row", _MATCH, ids=[r.query for r in _MATCH])
def test_matches(row: M) -> None:
    assert matches(parse(row.query, now=NOW), DOC) is row.expected


@pytest.mark.parametrize("doc", [
    {}, {"title": None, "price": "abc", "first_seen": "not a date", "classes": [None, 3]},
    {"price": float("nan"), "usd_per_gram": True, "available": "yes", "title": ["x", 1]},
])
def test_matches_is_total_on_garbage_documents(doc: dict[str, Any]) -> None:
    for row in _MATCH:
        assert matches(parse(row.query, now=NOW), doc) in (True, False)


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("dr*", "drgreen", True), ("*green", "drgreen", True), ("d?e*", "drgreen", False),
    ("*a*a*a*a*a*b", "a" * 200, False), ("*", "", True), ("?", "", False), ("a*b*c", "axxbyyc", True),
])
def test_glob(pattern: str, value: str, expected: bool) -> None:
    assert glob_match(pattern, value) is expected
