"""Pages over the index's real SQLite store and alert outbox: highlighting, evidence, vendors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from narcwatch.dashboards.index_reader import IndexReader, marker_segments
from narcwatch.index.results import HL_END, HL_START

from dash_world import XSS_KEY


@pytest.fixture
def client(analyst: tuple[TestClient, str]) -> TestClient:
    """The conftest's analyst session on the world ingested into the real store."""
    c, _ = analyst
    assert isinstance(c.app.state.ctx.reader, IndexReader)  # the store's own reader, not the generic one
    return c


@pytest.mark.parametrize("text, expected", [
    ("", ()),
    ("plain", (("plain", False),)),
    (f"a {HL_START}hit{HL_END} b", (("a ", False), ("hit", True), (" b", False))),
    (f"{HL_START}<script>{HL_END}", (("<script>", True),)),
    (f"broken {HL_START}open", (("broken ", False), ("open", True))),
    (f"stray{HL_END} end", (("stray end", False),)),
])
def test_marker_segments(text, expected):
    assert marker_segments(text) == expected


def test_search_uses_store_highlights_and_facets(client):
    r = client.get("/search", params={"q": "protonitazene"})
    assert r.status_code == 200
    assert "<mark>protonitazene</mark>" in r.text
    assert 'hx-get="/search/facets?q=protonitazene"' in r.text  # facets load after the results
    f = client.get("/search/facets", params={"q": "protonitazene"})
    assert f.status_code == 200 and ">nitazene</a>" in f.text and 'data-facet="vendor"' in f.text
    assert "<html" not in f.text  # a fragment for htmx
    full = client.get("/search/facets", params={"q": "protonitazene", "partial": 0})
    assert "<html" in full.text and ">greenleafpharma</a>" in full.text.lower()


def test_query_error_is_shown_not_raised(client):
    r = client.get("/search", params={"q": "nosuchfield:x"})
    assert r.status_code == 200
    assert 'id="query-error"' in r.text


def test_listing_has_snapshots_facts_and_evidence(client):
    r = client.get("/listing", params={"key": "market-a:100"})
    assert r.status_code == 200, r.text
    assert r.text.count("cap-100-") >= 6  # six snapshots, each with its capture
    assert "protonitazene" in r.text and "bc1qfictional" in r.text
    ev = client.get("/listing/evidence", params={"key": "market-a:100", "capture": "cap-100-10"})
    assert ev.status_code == 200
    assert 'id="hash-status">matches' in ev.text


def test_vendor_and_trends_and_alerts(client):
    v = client.get("/vendor", params={"handle": "GreenLeafPharma"})
    assert v.status_code == 200 and "market-b" in v.text
    t = client.get("/trends")
    assert t.status_code == 200 and "nitazene" in t.text
    a = client.get("/alerts")
    assert "New nitazene listing" in a.text


def test_hostile_listing_escaped(client):
    r = client.get("/listing", params={"key": XSS_KEY})
    assert r.status_code == 200
    assert "<script>window.__pwned" not in r.text and "<img src=x" not in r.text
    assert "&lt;img src=x onerror=" in r.text
