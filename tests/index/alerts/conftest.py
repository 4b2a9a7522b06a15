"""Fixtures for alerting tests: fictional listings and change events.

``DictDocuments`` stands in for the store's document lookup (test double) until the
store from the index branch is merged; every listing here is fictional.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from narcwatch.index.alerts.documents import DictDocuments
from narcwatch.index.models import ChangeEvent, EventType

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def listing_doc(n: int, *, substance: str = "metonitazene", cls: str = "nitazene", vendor: str = "fict_vendor_a",
                market: str = "sandbox-market-a", ships_from: str = "DE", usd_per_gram: str = "45.00") -> dict[str, Any]:
    sha = hashlib.sha256(f"capture-{n}".encode()).hexdigest()
    return {
        "listing_key": f"{market}:{n}",
        "title": f"{substance} powder {n}g lab tested",
        "url": f"http://market-a.sandbox.test/listing/{n}",
        "substances": [{"canonical": substance, "class": cls}],
        "class": [cls],
        "substance": [substance],
        "vendor": vendor,
        "market": market,
        "source": market,
        "ships_from": ships_from,
        "usd_per_gram": usd_per_gram,
        "offers": [{"quantity": "1", "unit": "g", "price": usd_per_gram, "currency": "USD",
                    "usd": usd_per_gram, "usd_per_unit": usd_per_gram}],
        "capture_id": f"cap-{n}",
        "capture_sha256": sha,
    }


def event_for(doc: dict[str, Any], etype: EventType = EventType.NEW, at: datetime = T0,
              details: dict[str, Any] | None = None, n: int | None = None) -> ChangeEvent:
    eid = hashlib.sha256(f"{doc['listing_key']}|{etype}|{at.isoformat()}|{n}".encode()).hexdigest()[:20]
    return ChangeEvent(id=f"ev-{eid}", type=etype, at=at, source=doc["market"], listing_key=doc["listing_key"],
                       vendor=doc.get("vendor"), capture_id=doc["capture_id"], capture_sha256=doc["capture_sha256"],
                       details=details or {})


class World:
    """Listings and their events, with the lookup the engine reads documents through."""

    def __init__(self) -> None:
        self.docs = DictDocuments()
        self.clock = T0

    def new_listing(self, n: int, at: datetime | None = None, **kw: Any) -> ChangeEvent:
        doc = listing_doc(n, **kw)
        self.docs.docs[doc["listing_key"]] = doc
        return event_for(doc, EventType.NEW, at or self.clock)

    def advance(self, **kw: float) -> datetime:
        self.clock += timedelta(**kw)
        return self.clock


@pytest.fixture
def world() -> World:
    return World()
