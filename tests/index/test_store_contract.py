"""The Store contract: every backend passes the same tests and returns the same ids."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from narcwatch.index.models import Alert, EventType
from narcwatch.index.query import QueryError
from narcwatch.index.store import Store

from .conftest import T0, corpus, extraction, listing, week


def types(events: list[Any]) -> list[str]:
    return sorted(e.type.value for e in events)


def test_is_a_store(store: Any) -> None:
    assert isinstance(store, Store)


def test_first_ingest_emits_new_vendor_identifier_and_novel_events(store: Any) -> None:
    events = store.ingest(corpus())
    t = types(events)
    assert t.count("NEW") == 7  # six listings and one post
    assert "NOVEL_SUBSTANCE" in t
    assert t.count("IDENTIFIER_FIRST_SEEN") == 2  # one wallet, one PGP fingerprint
    # DrGreen first on alpha, then on beta: a new account and a vendor on a new market
    assert t.count("VENDOR_NEW_MARKET") == 1
    vnm = next(e for e in events if e.type is EventType.VENDOR_NEW_MARKET)
    assert vnm.details["new_market"] == "beta" and vnm.details["known_markets"] == ["alpha"]
    assert all(e.capture_id and len(e.capture_sha256) == 64 for e in events)
    counts = store.counts()
    assert counts["listings"] == 6 and counts["posts"] == 1 and counts["snapshots"] == 7
    assert counts["vendors"] == 6 and counts["identifiers"] == 2 and counts["events"] == len(events)


def test_replaying_a_batch_writes_nothing_and_emits_nothing(store: Any) -> None:
    first = store.ingest(corpus())
    before = store.counts()
    assert store.ingest(corpus()) == []
    assert store.counts() == before
    assert sorted(e.id for e in store.events()) == sorted(e.id for e in first)


def test_price_text_removed_reappeared(store: Any) -> None:
    store.ingest([(listing("alpha", "1", "Etonitazene 5g", price="200"), extraction("etonitazene", "nitazene", grams="5", usd="200"))])
    ev = store.ingest([(listing("alpha", "1", "Etonitazene 5g - restock", price="150", crawl="c2", at=week(1)),
                        extraction("etonitazene", "nitazene", grams="5", usd="150"))])
    assert types(ev) == ["PRICE_CHANGED", "TEXT_CHANGED"]
    price = next(e for e in ev if e.type is EventType.PRICE_CHANGED).details
    assert (price["old_price"], price["new_price"]) == ("200", "150")
    assert (price["old_usd_per_gram"], price["new_usd_per_gram"]) == ("40.0000", "30.0000")
    assert store.end_crawl("alpha", "c2", True, week(1)) == []
    assert store.end_crawl("alpha", "c3", True, week(2)) == []  # one miss: not yet removed
    removed = store.end_crawl("alpha", "c4", True, week(3))
    assert types(removed) == ["REMOVED"] and removed[0].listing_key == "alpha:1"
    assert store.end_crawl("alpha", "c4", True, week(3)) == []  # the same crawl twice: nothing new
    assert store.search("key:alpha\\:1 AND removed:true").total == 1
    back = store.ingest([(listing("alpha", "1", "Etonitazene 5g - restock", price="150", crawl="c5", at=week(4)),
                          extraction("etonitazene", "nitazene", grams="5", usd="150"))])
    assert types(back) == ["REAPPEARED"]
    hist = store.listing("alpha:1")
    assert [s["price"] for s in hist.snapshots] == ["200", "150", "150"]
    assert hist.current["first_seen"] < hist.current["last_seen"]
    assert {e["type"] for e in hist.events} >= {"NEW", "PRICE_CHANGED", "REMOVED", "REAPPEARED"}


def test_seen_unchanged_listing_is_never_removed(store: Any) -> None:
    """An incremental recrawl does not refetch unchanged listings; a sighting keeps them present."""
    store.ingest([(listing("alpha", "1", "Etonitazene 5g", price="200"), extraction("etonitazene", "nitazene")),
                  (listing("alpha", "2", "Isotonitazene 1g", price="90"), extraction("isotonitazene", "nitazene"))])
    for n in (2, 3, 4):
        assert store.mark_seen([("alpha:1", f"c{n}", week(n - 1))]) == 1
        assert store.mark_seen([("alpha:1", f"c{n}", week(n - 1))]) in (0, 1)  # replay: harmless
        gone = store.end_crawl("alpha", f"c{n}", True, week(n - 1))
        assert [e.listing_key for e in gone] == (["alpha:2"] if n == 3 else [])
    assert store.mark_seen([("alpha:1", "c0", week(-5))]) == 0  # an older sighting never moves it back
    assert store.mark_seen([("alpha:404", "c4", week(3))]) == 0  # unknown listings are ignored
    assert store.counts()["snapshots"] == 2
    assert [e.type.value for e in store.events(types=["REMOVED"])] == ["REMOVED"]


def test_incomplete_crawl_never_removes(store: Any) -> None:
    store.ingest([(listing("alpha", "1", "x y"), None)])
    for i in range(2, 6):
        assert store.end_crawl("alpha", f"c{i}", False, week(i)) == []


class Q(NamedTuple):
    query: str
    keys: set[str]


_QUERIES = [
    Q("etonitazene", {"alpha:1", "beta:9", "forum:p1"}),
    Q("class:nitazene", {"alpha:1", "alpha:2", "beta:9", "forum:p1"}),
    Q("class:nitazene AND type:listing AND ships_from:EU AND usd_per_gram:<100", {"alpha:1", "alpha:2"}),
    Q("substance:etonitazene AND NOT market:alpha", {"beta:9", "forum:p1"}),
    Q('"powder 5g"', {"alpha:1"}),
    Q("nitaz*", set()),  # prefix on a token: protonitazene does not start with nitaz
    Q("protonit*", {"alpha:2"}),
    Q("etoni*", {"alpha:1", "beta:9", "forum:p1"}),
    Q("title:stealth", set()),
    Q("text:stealth", {"alpha:1", "forum:p1"}),
    Q("vendor:drgreen", {"alpha:1", "beta:9", "forum:p1"}),
    Q("vendor:*king OR vendor:benzo*", {"beta:10", "gamma:7"}),
    Q("price:[80 TO 120]", {"alpha:2", "alpha:3", "beta:10"}),
    Q("price:{80 TO 120}", {"alpha:2"}),
    Q("currency:eur", {"beta:10"}),
    Q("usd_per_gram:>=40", {"alpha:1", "alpha:3", "alpha:2"}),
    Q("ships_from:CO", {"alpha:3"}),  # raw listing field when the extraction has none
    Q("wallet:*", {"alpha:1"}),
    Q("pgp:abcd1234abcd1234abcd1234abcd1234abcd1234", {"beta:9"}),
    Q("identifier:bc1qfictionalwalletaaaa", {"alpha:1"}),
    Q("available:false", {"gamma:7"}),
    Q("novel:true", {"alpha:1"}),
    Q("first_seen:>=2026-11-02 AND first_seen:<2026-11-03", {"alpha:1", "alpha:2", "alpha:3", "beta:9", "beta:10", "gamma:7", "forum:p1"}),
    Q("first_seen:<2026-11-01", set()),
    Q("(class:stimulant OR class:dissociative) AND -ketamine", {"alpha:3"}),
    Q("event:NEW", set()),  # event-only field never matches a stored listing
]


@pytest.mark.parametrize("row", _QUERIES, ids=[r.query for r in _QUERIES])
def test_query_returns_the_same_ids_on_every_backend(store: Any, row: Q) -> None:
    store.ingest(corpus())
    result = store.search(row.query, limit=100)
    assert set(result.keys) == row.keys
    assert result.total == len(row.keys)


def test_sort_and_paging(store: Any) -> None:
    store.ingest(corpus())
    r = store.search("type:listing AND price:*", sort="-price", limit=3)
    assert r.keys == ["beta:9", "alpha:1", "gamma:7"] and r.total == 6
    assert store.search("type:listing AND price:*", sort="-price", limit=3, offset=3).keys == ["beta:10", "alpha:2", "alpha:3"]
    assert store.search("type:listing", sort="usd_per_gram", limit=2).keys == ["beta:9", "alpha:1"]
    with pytest.raises(ValueError, match="sortable"):
        store.search("*", sort="colour")


def test_relevance_ranks_title_hits_and_highlights(store: Any) -> None:
    store.ingest(corpus())
    r = store.search("etonitazene")
    assert r.keys[-1] == "forum:p1"  # a title hit outranks a body-only mention
    hl = r.hits[0].highlights
    assert "\ue000" in hl.get("title", "") or "\ue000" in hl.get("text", "")


def test_facets(store: Any) -> None:
    store.ingest(corpus())
    f = store.facets("type:listing", ["class", "market", "ships_from", "vendor"])
    assert {c.value: c.count for c in f["class"]}["nitazene"] == 3
    assert [(c.value, c.count) for c in f["market"]] == [("alpha", 3), ("beta", 2), ("gamma", 1)]
    assert {c.value: c.count for c in f["vendor"]}["drgreen"] == 2
    assert {c.value: c.count for c in f["ships_from"]}["eu"] == 2


def test_vendor_history_across_markets(store: Any) -> None:
    store.ingest(corpus())
    store.ingest([(listing("beta", "9", "Etonitazene 10g bulk", price="300", crawl="c2", at=week(1),
                           description="same lab, new market"),
                   extraction("etonitazene", "nitazene", grams="10", usd="300"))])
    v = store.vendor("drgreen")
    assert v.name == "DrGreen" and v.markets == ["alpha", "beta"]
    assert {a["source"] for a in v.accounts} == {"alpha", "beta"}
    assert next(a for a in v.accounts if a["source"] == "alpha")["profile"]["sales"] == 120
    assert [x["key"] for x in v.listings] == ["alpha:1", "beta:9"]
    assert [(p["key"], p["price"]) for p in v.price_history] == [("alpha:1", "200"), ("beta:9", "350"), ("beta:9", "300")]
    assert [w["listings"] for w in v.listings_per_week] == [2, 1]
    assert {i["kind"] for i in v.identifiers} == {"wallet:BTC", "pgp_fingerprint"}
    assert all(i["capture_id"] for i in v.identifiers)
    assert store.vendor("nobody") is None


def test_trends(store: Any) -> None:
    store.ingest(corpus())
    store.ingest([(listing("alpha", "1", "Etonitazene powder 5g lab grade", price="150", crawl="c2", at=week(1)),
                   extraction("etonitazene", "nitazene", grams="5", usd="150"))])
    t = store.trends("class:nitazene")
    assert t.listings_per_week == [{"week": "2026-11-02", "count": 4}, {"week": "2026-11-09", "count": 1}]
    eto = [p for p in t.price_per_gram if p["substance"] == "etonitazene"]
    assert eto[0] == {"week": "2026-11-02", "substance": "etonitazene", "n": 2, "q1": 36.25, "median": 37.5, "q3": 38.75}
    assert eto[1]["median"] == 30.0


def test_events_and_alerts(store: Any) -> None:
    store.ingest(corpus())
    assert {e.type for e in store.events(types=["NEW_VENDOR"])} == {EventType.NEW_VENDOR}
    assert store.events(since=week(1)) == []
    ev = store.events(types=["NOVEL_SUBSTANCE"])
    alert = Alert(id="a1", rule_id="r1", rule_name="novel", created_at=T0, event_ids=[e.id for e in ev], summary="s")
    assert store.save_alerts([alert]) == 1
    assert store.counts()["alerts"] == 1


@pytest.mark.parametrize("query", ["colour:red", "a AND AND b", "usd_per_gram:<abc"])
def test_bad_queries_raise_query_error(store: Any, query: str) -> None:
    with pytest.raises(QueryError):
        store.search(query)


def test_hostile_text_is_stored_verbatim(store: Any) -> None:
    evil = "<script>alert(1)</script> ' OR 1=1; -- \x00 " + "a" * 5000
    store.ingest([(listing("alpha", "x", evil, description=evil), None)])
    r = store.search("script")
    assert r.keys == ["alpha:x"] and r.hits[0].doc["title"] == evil
