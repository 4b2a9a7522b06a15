"""The fallback query evaluator over flat documents (used until index.query lands)."""

from __future__ import annotations

import pytest

from narcwatch.index.alerts.filters import FilterError, LuceneFilter, compile_filter

DOC = {
    "class": ["nitazene"],
    "substance": ["metonitazene"],
    "title": "Metonitazene powder 5g, pure & lab tested",
    "ships_from": "NL",
    "vendor": "Fict_Vendor",
    "usd_per_gram": "45.50",
    "sales": 12,
    "identifiers": [{"kind": "telegram", "value": "@fict_handle"}],
    "first_seen": "2026-11-01T12:00:00+00:00",
}

_CASES = [
    ("class:nitazene", True),
    ("class:NITAZENE", True),
    ("class:fentanyl_analogue", False),
    ("class:nitazene AND ships_from:(DE OR NL)", True),
    ("class:nitazene AND ships_from:(DE OR FR)", False),
    ("class:nitazene ships_from:NL", True),  # implicit AND
    ("NOT vendor:fict_vendor", False),
    ("-vendor:other", True),
    ("usd_per_gram:<50", True),
    ("usd_per_gram:<=45.5", True),
    ("usd_per_gram:>45.5", False),
    ("usd_per_gram:[40 TO 50]", True),
    ("usd_per_gram:{45.5 TO 50]", False),
    ("sales:[10 TO *]", True),
    ("title:powder", True),
    ('title:"powder 5g"', True),
    ('title:"5g powder"', False),
    ("title:meto*", True),
    ("substance:*nitazene", True),
    ("metonitazene", True),  # unfielded: any string value
    ("missing_field:x", False),
    ("missing_field:*", False),
    ("vendor:*", True),
    ("identifiers.value:@fict_handle", True),
    ("first_seen:[2026-10-01 TO 2026-12-01]", True),
]


@pytest.mark.parametrize(("query", "expected"), _CASES, ids=[q for q, _ in _CASES])
def test_filter_on_flat_document(query: str, expected: bool) -> None:
    assert LuceneFilter(query).matches(DOC) is expected


@pytest.mark.parametrize("query", ["class:(nitazene", "AND AND", "title:/nita.*/", "x" * 2100])
def test_bad_filters_raise(query: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(query, prefer_index=False)


def test_empty_filter_matches_everything() -> None:
    assert compile_filter(None).matches({}) and compile_filter("  ").matches({"a": 1})


def test_garbage_documents_never_raise() -> None:
    f = LuceneFilter("class:nitazene AND usd_per_gram:<50 AND title:\"a b\"")
    for doc in ({}, {"class": None}, {"class": [None, 3, {"x": []}]}, {"usd_per_gram": "NaN"},
                {"usd_per_gram": float("inf")}, {"title": 12}):
        assert f.matches(doc) is False
