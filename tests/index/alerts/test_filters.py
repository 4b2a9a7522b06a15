"""Rule filters run the index's query language on the store's own documents."""

from __future__ import annotations

import pytest

from narcwatch.index.alerts.documents import DictDocuments, event_document
from narcwatch.index.alerts.filters import FilterError, MatchAll, compile_filter
from narcwatch.index.models import EventType

from .conftest import event_for, listing_doc

DOC = listing_doc(7, substance="metonitazene", cls="nitazene", ships_from="NL", usd_per_gram="45.50",
                  wallet="bc1qfictwalletfilter000000000000000000000")
PRICE = event_for(DOC, EventType.PRICE_CHANGED, details={
    "old_price": "80", "old_currency": "USD", "new_price": "45.50", "new_currency": "USD",
    "old_usd_per_gram": "80", "new_usd_per_gram": "45.50"})
EVENT_DOC = event_document(PRICE, DictDocuments({DOC["key"]: DOC}))

_CASES = [
    ("class:nitazene", True),
    ("class:NITAZENE", True),
    ("class:fentanyl_analogue", False),
    ("class:nitazene AND ships_from:(DE OR NL)", True),
    ("class:nitazene AND ships_from:(DE OR FR)", False),
    ("NOT vendor:fict_vendor_a", False),
    ("usd_per_gram:<50", True),
    ("usd_per_gram:>45.5", False),
    ("usd_per_gram:[40 TO 50]", True),
    ("title:powder", True),
    ("substance:meto*", True),
    ("wallet:bc1qfictwalletfilter*", True),
    ("event:PRICE_CHANGED", True),
    ("event:NEW", False),
    ("market:sandbox-market-a", True),
]


@pytest.mark.parametrize(("query", "expected"), _CASES, ids=[q for q, _ in _CASES])
def test_filter_on_event_document(query: str, expected: bool) -> None:
    assert compile_filter(query).matches(EVENT_DOC) is expected


def test_event_document_has_flat_details_and_derived_change() -> None:
    assert EVENT_DOC["usd_per_gram_old"] == "80" and EVENT_DOC["usd_per_gram_new"] == "45.50"
    assert str(EVENT_DOC["price_drop_pct"]) == "43.12" and EVENT_DOC["price_change_basis"] == "usd_per_gram"
    assert EVENT_DOC["listing_key"] == DOC["key"] and EVENT_DOC["capture_id"] == "cap-7"


@pytest.mark.parametrize(("query", "fragment"), [("class:(nitazene", "position"), ("colour:red", "valid fields"),
                                                 ("x" * 2100, "longer than")])
def test_bad_filters_raise_with_reason(query: str, fragment: str) -> None:
    with pytest.raises(FilterError, match=fragment):
        compile_filter(query)


def test_empty_filter_matches_everything() -> None:
    assert isinstance(compile_filter(None), MatchAll) and compile_filter("  ").matches({})


def test_garbage_documents_never_raise() -> None:
    f = compile_filter('class:nitazene AND usd_per_gram:<50 AND title:"a b"')
    for doc in ({}, {"classes": None}, {"classes": [None, 3, {"x": []}]}, {"usd_per_gram": "NaN"},
                {"usd_per_gram": float("inf")}, {"title": 12}):
        assert f.matches(doc) is False
