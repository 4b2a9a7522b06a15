"""Alerting on the change events a real SQLite store produces at ingest."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from narcwatch.crawler.models import Listing, Money
from narcwatch.extract.models import Extraction, Identifier, IdentifierKind, Offer, SubstanceMention
from narcwatch.index.alerts.documents import StoreDocuments
from narcwatch.index.alerts.dryrun import dry_run
from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.rules import DEFAULT_RULES, load_rules
from narcwatch.index.sqlite import SqliteStore

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc)


def _item(site_id: str, substance: str, cls: str, usd: str, *, crawl: str, at: datetime, vendor: str = "fict_lab",
          pgp: str | None = None, novel: bool = False) -> tuple[Listing, Extraction]:
    listing = Listing(source="fict-market", site_id=site_id, url=f"http://fict-market.test/item/{site_id}",
                      crawl_id=crawl, seen_at=at, title=f"{substance} 1g", vendor=vendor,
                      price=Money(amount=Decimal(usd), currency="USD"), capture_id=f"cap-{site_id}-{crawl}",
                      capture_sha256=hashlib.sha256(f"{site_id}{crawl}".encode()).hexdigest())
    ext = Extraction(substances=[SubstanceMention(canonical=substance, start=0, end=3, novel=novel, **{"class": cls})],
                     offers=[Offer(start=0, end=1, quantity=Decimal(1), unit="g", price=Decimal(usd), currency="USD",
                                   usd=Decimal(usd), usd_per_unit=Decimal(usd))],
                     identifiers=[Identifier(start=0, end=1, kind=IdentifierKind.PGP_FINGERPRINT, value=pgp)] if pgp else [],
                     ships_from=["NL"])
    return listing, ext


def test_ingest_to_alerts_through_the_store(tmp_path: Path) -> None:
    watched = "ABCD" * 10
    (tmp_path / "watch").mkdir()
    (tmp_path / "watch" / "identifiers.txt").write_text(f"{watched}  # fictional case\n")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(DEFAULT_RULES.read_text().replace("watchlists/identifiers.txt", "watch/identifiers.txt") + """
  - id: nitazene-price-drop
    name: Nitazene price drop over 30%
    events: [PRICE_CHANGED]
    filter: 'class:nitazene'
    conditions: ['price_drop_pct > 30', 'usd_per_gram_new < 60']
    severity: high
""")
    rules = load_rules(rules_file)
    store = SqliteStore(tmp_path / "store.sqlite")
    engine = AlertEngine(rules, AlertDB(tmp_path / "outbox.sqlite"), lookup=StoreDocuments(store),
                         notifiers=["hook"], clock=lambda: T0)
    crawl1 = [_item("1", "metonitazene", "nitazene", "90", crawl="c1", at=T0, pgp=watched),
              _item("2", "cocaine", "stimulant", "80", crawl="c1", at=T0),
              _item("3", "fictonitazene", "nitazene", "70", crawl="c1", at=T0, vendor="fict_other", novel=True)]
    fired = engine.on_events(store.ingest(crawl1))
    assert sorted(a.rule_id for a in fired) == ["new-nitazene-listing", "new-nitazene-listing",
                                                "novel-substance-candidate", "watched-identifier-seen"]
    watched_alert = next(a for a in fired if a.rule_id == "watched-identifier-seen")
    assert watched_alert.payload["items"][0]["watchlist_hits"] == [watched.lower()]  # kind any: case-folded
    assert watched_alert.payload["items"][0]["capture"]["id"] == "cap-1-c1"
    # the next crawl: price of listing 1 drops from 90 to 50 (-44%)
    crawl2 = [_item("1", "metonitazene", "nitazene", "50", crawl="c2", at=T0 + timedelta(hours=6), pgp=watched)]
    events = store.ingest(crawl2)
    fired2 = engine.on_events(events)
    assert [a.rule_id for a in fired2] == ["nitazene-price-drop"]
    change = fired2[0].payload["items"][0]["change"]
    assert change["usd_per_gram_old"] == "90.0000" and change["usd_per_gram_new"] == "50.0000"
    # replaying the same crawl writes no new events, and nothing fires twice
    assert engine.on_events(store.ingest(crawl2)) == []
    # dry-run over the stored history sees what the live engine saw
    result = dry_run(rules, store.events(since=T0 - timedelta(days=30)), StoreDocuments(store))
    assert sorted(result.per_rule.items()) == [("new-nitazene-listing", 2), ("nitazene-price-drop", 1),
                                               ("novel-substance-candidate", 1), ("watched-identifier-seen", 1)]
    store.close()
