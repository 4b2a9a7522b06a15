"""Rule evaluation on change events: matching, replay dedupe, digests, throttle, payload."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.rules import DEFAULT_RULES, RuleSet, load_rules
from narcwatch.index.models import EventType, Severity

from .conftest import T0, World, event_for, listing_doc


def _rules(tmp_path: Path, body: str) -> RuleSet:
    p = tmp_path / "rules.yaml"
    p.write_text(body)
    return load_rules(p)


def _engine(tmp_path: Path, world: World, rules: RuleSet, **kw: object) -> AlertEngine:
    return AlertEngine(rules, AlertDB(tmp_path / "outbox.sqlite"), lookup=world.docs, notifiers=["hook", "mail"],
                       clock=lambda: world.clock, **kw)  # type: ignore[arg-type]


def test_default_rules_fire_on_the_right_events(tmp_path: Path, world: World) -> None:
    engine = _engine(tmp_path, world, load_rules(DEFAULT_RULES))
    nit = world.new_listing(1)
    fent = world.new_listing(2, substance="carfentanil", cls="fentanyl_analogue", vendor="fict_b")
    prec = world.new_listing(3, substance="fict-precursor", cls="precursor", vendor="fict_c")
    benzo = world.new_listing(4, substance="etizolam", cls="benzodiazepine", vendor="fict_d")
    novel = event_for(listing_doc(5, vendor="fict_e"), EventType.NOVEL_SUBSTANCE, details={"value": "fictonitazene"})
    alerts = engine.on_events([nit, fent, prec, benzo, novel])
    assert sorted(a.rule_id for a in alerts) == ["new-fentanyl-analogue-listing", "new-nitazene-listing",
                                                 "novel-substance-candidate", "precursor-offer"]
    nit_alert = next(a for a in alerts if a.rule_id == "new-nitazene-listing")
    assert nit_alert.severity == Severity.CRITICAL
    item = nit_alert.payload["items"][0]
    # what an analyst needs to act
    assert item["title"].startswith("metonitazene powder")
    assert item["url"] == "http://market-a.sandbox.test/listing/1"
    assert item["substances"] == [{"name": "metonitazene", "class": "nitazene"}]
    assert item["offer"] == {"price": "45.00", "currency": "USD", "usd": "45.00", "usd_per_gram": "45.00",
                             "quantity": "1", "unit": "g", "usd_per_unit": "45.00"}  # the document's first offer
    assert item["vendor"] == "fict_vendor_a" and item["market"] == "sandbox-market-a"
    assert item["capture"]["id"] == "cap-1" and len(item["capture"]["sha256"]) == 64
    assert nit_alert.payload["rule"]["id"] == "new-nitazene-listing"
    # queued once per configured notifier, in the same transaction
    assert {(d.alert_id, d.notifier) for d in engine.db.deliveries()} >= {(nit_alert.id, "hook"), (nit_alert.id, "mail")}


def test_replayed_events_never_fire_twice(tmp_path: Path, world: World) -> None:
    engine = _engine(tmp_path, world, load_rules(DEFAULT_RULES))
    events = [world.new_listing(1), world.new_listing(2, vendor="fict_b")]
    assert len(engine.on_events(events)) == 2
    assert engine.on_events(events) == []
    # a fresh engine on the same database (restart) remembers too
    assert _engine(tmp_path, world, load_rules(DEFAULT_RULES)).on_events(events) == []
    assert len(engine.db.deliveries()) == 4


def test_forty_listings_of_one_vendor_make_one_alert_and_one_digest(tmp_path: Path, world: World) -> None:
    engine = _engine(tmp_path, world, load_rules(DEFAULT_RULES))
    alerts = []
    for n in range(40):
        alerts += engine.on_events([world.new_listing(n)])
        world.advance(seconds=30)
    other = engine.on_events([world.new_listing(100, vendor="fict_other")])
    assert len(alerts) == 1 and len(other) == 1  # leading alert per vendor
    world.advance(hours=1)
    digests = engine.tick()
    by_vendor = {d.payload["group"]: d for d in digests}
    assert set(by_vendor) == {"vendor=fict_vendor_a"}  # fict_other had only the leading one
    d = by_vendor["vendor=fict_vendor_a"]
    assert d.payload["digest"] is True and len(d.payload["items"]) == 39 and len(d.event_ids) == 39
    assert "digest of 39" in d.summary
    assert engine.tick() == []  # closed windows close once


def test_group_without_leading_waits_for_the_window(tmp_path: Path, world: World) -> None:
    rules = _rules(tmp_path, "rules:\n  - id: g\n    name: G\n    events: [NEW]\n"
                             "    group: {by: [vendor], window: 10m, leading: false}\n")
    engine = _engine(tmp_path, world, rules)
    assert engine.on_events([world.new_listing(1), world.new_listing(2)]) == []
    world.advance(minutes=11)
    # a match after the window closes the old group first, then opens a new one
    out = engine.on_events([world.new_listing(3)])
    assert [len(a.event_ids) for a in out] == [2]
    assert [len(a.event_ids) for a in engine.flush()] == [1]


def test_flushed_digest_is_stamped_when_closed_not_at_the_window_end(tmp_path: Path, world: World) -> None:
    """Regression: a digest closed early by flush() carried its window's end (6 h ahead)."""
    engine = _engine(tmp_path, world, load_rules(DEFAULT_RULES))
    for n in range(3):
        engine.on_events([world.new_listing(n)])
    world.advance(minutes=5)
    (digest,) = engine.flush()
    assert digest.created_at <= engine.clock()


def test_flushed_digests_are_due_for_delivery_now(tmp_path: Path, world: World) -> None:
    """Regression: flush() queued digest deliveries at the end of time (year 9999): the
    demo left 47 digests pending forever."""
    body = "rules:\n  - id: t\n    name: T\n    events: [NEW]\n    throttle: {max: 1, per: 1h}\n"
    engine = _engine(tmp_path, world, _rules(tmp_path, body) + load_rules(DEFAULT_RULES))
    for n in range(3):
        engine.on_events([world.new_listing(n)])
    flushed = engine.flush()
    assert sorted(bool(a.payload.get("throttled")) for a in flushed) == [False, True]  # group + throttle digests
    due = {d.alert_id for d in engine.db.claim(100, now=world.clock.timestamp())}
    assert {a.id for a in flushed} <= due


def test_throttle_holds_back_and_delivers_the_rest_as_one_digest_when_the_window_ends(
        tmp_path: Path, world: World) -> None:
    rules = _rules(tmp_path, "rules:\n  - id: t\n    name: T\n    events: [NEW]\n"
                             "    throttle: {max: 2, per: 1h, by: [vendor]}\n")
    engine = _engine(tmp_path, world, rules)
    out = []
    for n in range(5):
        out += engine.on_events([world.new_listing(n)])
        world.advance(minutes=1)
    out += engine.on_events([world.new_listing(50, vendor="fict_b")])
    assert len(out) == 3 and engine.stats.throttled == 3
    assert [(r, n) for r, _, n, _ in engine.db.held()] == [("t", 3)]
    world.advance(minutes=53)  # T0+58min
    assert engine.tick() == []  # the first alert (T0) leaves the window at T0+1h: not yet
    world.advance(minutes=2)
    (digest,) = engine.tick()
    assert digest.payload["throttled"] is True and digest.payload["matches"] == 3
    assert [i["url"].rsplit("/", 1)[1] for i in digest.payload["items"]] == ["2", "3", "4"]
    assert "3 further matches during the throttle window (vendor=fict_vendor_a)" in digest.summary
    assert engine.db.held() == [] and engine.tick() == []
    # the digest took the slot that opened: the next match is held for the next window
    assert engine.on_events([world.new_listing(9)]) == []
    world.advance(minutes=1)
    (second,) = engine.tick()  # the second alert (T0+1min) leaves the window
    assert second.payload["matches"] == 1 and second.id != digest.id


def test_throttle_digest_survives_a_restart_and_a_removed_rule(tmp_path: Path, world: World) -> None:
    body = "rules:\n  - id: t\n    name: T\n    events: [NEW]\n    severity: high\n    throttle: {max: 1, per: 1h}\n"
    engine = _engine(tmp_path, world, _rules(tmp_path, body))
    assert len(engine.on_events([world.new_listing(n) for n in range(4)])) == 1
    engine.db.close()
    world.advance(hours=2)
    # a new process with a rules file that no longer has rule t
    other = _rules(tmp_path, "rules:\n  - id: u\n    name: U\n    events: [REMOVED]\n")
    restarted = _engine(tmp_path, world, other)
    (digest,) = restarted.tick()
    assert (digest.rule_id, digest.rule_name, digest.severity, digest.payload["matches"]) == ("t", "T", Severity.HIGH, 3)
    assert {d.notifier for d in restarted.db.deliveries(alert_id=digest.id)} == {"hook", "mail"}


def test_dry_run_shows_throttle_digests(tmp_path: Path, world: World) -> None:
    from narcwatch.index.alerts.dryrun import dry_run

    rules = _rules(tmp_path, "rules:\n  - id: t\n    name: T\n    events: [NEW]\n    throttle: {max: 2, per: 1h}\n")
    events = []
    for n in range(7):
        events.append(world.new_listing(n))
        world.advance(minutes=5)
    run = dry_run(rules, events, world.docs)
    digests = [a for a in run.alerts if a.payload.get("throttled")]
    assert len(run.alerts) == 3 and len(digests) == 1 and digests[0].payload["matches"] == 5
    assert sorted(e for a in run.alerts for e in a.event_ids) == sorted(e.id for e in events)


def test_conditions_on_price_change(tmp_path: Path, world: World) -> None:
    rules = _rules(tmp_path, "rules:\n  - id: drop\n    name: Drop\n    events: [PRICE_CHANGED]\n"
                             "    filter: class:nitazene\n    conditions: ['price_drop_pct > 30', 'usd_per_unit_new < 20']\n")
    engine = _engine(tmp_path, world, rules)
    doc = listing_doc(1)
    world.docs.docs[doc["key"]] = doc
    big = event_for(doc, EventType.PRICE_CHANGED, details={"usd_per_unit_old": "40", "usd_per_unit_new": "18"}, n=1)
    small = event_for(doc, EventType.PRICE_CHANGED, details={"usd_per_unit_old": "20", "usd_per_unit_new": "18"}, n=2)
    rise = event_for(doc, EventType.PRICE_CHANGED, details={"usd_per_unit_old": "10", "usd_per_unit_new": "18"}, n=3)
    garbage = event_for(doc, EventType.PRICE_CHANGED, details={"usd_per_unit_old": "x", "usd_per_unit_new": None}, n=4)
    out = engine.on_events([big, small, rise, garbage])
    assert [a.event_ids for a in out] == [[big.id]]
    assert out[0].payload["items"][0]["change"]["price_drop_pct"] == "55.00"


def test_watchlist_rule_matches_identifiers(tmp_path: Path, world: World) -> None:
    (tmp_path / "wallets.txt").write_text("# case 9\nbc1qfictwatched000000000000000000000000000\n")
    rules = _rules(tmp_path, "rules:\n  - id: w\n    name: W\n    events: [IDENTIFIER_FIRST_SEEN, NEW]\n"
                             "    watchlist: {file: wallets.txt, kind: wallet}\n")
    engine = _engine(tmp_path, world, rules)
    doc = listing_doc(1)
    seen = event_for(doc, EventType.IDENTIFIER_FIRST_SEEN,
                     details={"kind": "btc", "value": "BC1QFICTWATCHED000000000000000000000000000"})
    other = event_for(doc, EventType.IDENTIFIER_FIRST_SEEN, details={"kind": "btc", "value": "bc1qsomeoneelse"}, n=2)
    doc2 = listing_doc(2, wallet="bc1qfictwatched000000000000000000000000000")
    world.docs.docs[doc2["key"]] = doc2
    listing = event_for(doc2, EventType.NEW)
    out = engine.on_events([seen, other, listing])
    assert sorted(a.event_ids[0] for a in out) == sorted([seen.id, listing.id])
    assert out[0].payload["items"][0]["watchlist_hits"] == ["bc1qfictwatched000000000000000000000000000"]


def test_grouping_state_survives_restart(tmp_path: Path, world: World) -> None:
    engine = _engine(tmp_path, world, load_rules(DEFAULT_RULES))
    engine.on_events([world.new_listing(n) for n in range(3)])
    engine.db.close()
    world.advance(hours=2)
    again = _engine(tmp_path, world, load_rules(DEFAULT_RULES))
    digests = again.tick()
    assert [len(d.event_ids) for d in digests] == [2]


@pytest.mark.parametrize("details", [{}, {"price_old": "NaN", "price_new": "1"}, {"usd_old": 0, "usd_new": 5},
                                     {"price_old": {"amount": "10", "currency": "EUR"}, "price_new": "5 USD"},
                                     {"price_old": [], "price_new": {}}])
def test_garbage_details_never_crash(tmp_path: Path, world: World, details: dict[str, object]) -> None:
    rules = _rules(tmp_path, "rules:\n  - id: d\n    name: D\n    events: [PRICE_CHANGED]\n"
                             "    conditions: ['price_drop_pct > 0']\n")
    engine = _engine(tmp_path, world, rules)
    ev = event_for(listing_doc(1), EventType.PRICE_CHANGED, details=details)
    assert engine.on_events([ev]) == []


def test_event_time_windows_for_dry_runs(tmp_path: Path, world: World) -> None:
    engine = _engine(tmp_path, world, load_rules(DEFAULT_RULES), event_time=True)
    evs = [world.new_listing(n, at=T0 + timedelta(minutes=n * 20)) for n in range(6)]  # spans 100 minutes
    out = engine.on_events(evs) + engine.flush()
    # first at 0 (leading), 20/40 grouped, 60 closes that window and leads a new one, 80/100 grouped
    assert [len(a.event_ids) for a in out] == [1, 2, 1, 2]
    assert all(isinstance(a.created_at, datetime) for a in out)
