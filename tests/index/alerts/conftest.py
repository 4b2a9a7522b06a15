"""Fixtures for alerting tests: fictional listings and change events.

``DictDocuments`` stands in for the store's document lookup (test double) until the
store from the index branch is merged; every listing here is fictional.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from narcwatch.crawler.models import Listing, Money
from narcwatch.extract.models import Extraction, Offer, SubstanceMention, Wallet
from narcwatch.index.alerts.documents import DictDocuments
from narcwatch.index.documents import item_document
from narcwatch.index.models import ChangeEvent, EventType

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def listing_doc(n: int, *, substance: str = "metonitazene", cls: str = "nitazene", vendor: str = "fict_vendor_a",
                market: str = "sandbox-market-a", ships_from: str = "DE", usd_per_gram: str = "45.00",
                wallet: str | None = None) -> dict[str, Any]:
    """The store's own flat document (``index.documents.item_document``) of a fictional listing."""
    listing = Listing(source=market, site_id=str(n), url=f"http://market-a.sandbox.test/listing/{n}", crawl_id="c1",
                      seen_at=T0, title=f"{substance} powder {n}g lab tested", vendor=vendor,
                      price=Money(amount=Decimal(usd_per_gram), currency="USD"), capture_id=f"cap-{n}",
                      capture_sha256=hashlib.sha256(f"capture-{n}".encode()).hexdigest())
    ext = Extraction(
        substances=[SubstanceMention(canonical=substance, start=0, end=len(substance), **{"class": cls})],
        offers=[Offer(start=0, end=1, quantity=Decimal(1), unit="g", price=Decimal(usd_per_gram), currency="USD",
                      usd=Decimal(usd_per_gram), usd_per_unit=Decimal(usd_per_gram))],
        wallets=[Wallet(start=0, end=1, chain="BTC", address=wallet)] if wallet else [],
        ships_from=[ships_from])
    doc = item_document(listing, ext)
    doc["first_seen"] = doc["last_seen"] = doc["seen_at"]
    return doc


def event_for(doc: dict[str, Any], etype: EventType = EventType.NEW, at: datetime = T0,
              details: dict[str, Any] | None = None, n: int | None = None) -> ChangeEvent:
    eid = hashlib.sha256(f"{doc['key']}|{etype}|{at.isoformat()}|{n}".encode()).hexdigest()[:20]
    return ChangeEvent(id=f"ev-{eid}", type=etype, at=at, source=doc["source"], listing_key=doc["key"],
                       vendor=doc.get("vendor"), capture_id=doc["capture_id"], capture_sha256=doc["capture_sha256"],
                       details=details or {})


class World:
    """Listings and their events, with the lookup the engine reads documents through."""

    def __init__(self) -> None:
        self.docs = DictDocuments()
        self.clock = T0

    def new_listing(self, n: int, at: datetime | None = None, **kw: Any) -> ChangeEvent:
        doc = listing_doc(n, **kw)
        self.docs.docs[doc["key"]] = doc
        return event_for(doc, EventType.NEW, at or self.clock)

    def advance(self, **kw: float) -> datetime:
        self.clock += timedelta(**kw)
        return self.clock


@pytest.fixture
def world() -> World:
    return World()
