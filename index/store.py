"""The ``Store`` interface every backend implements (SQLite default, Elasticsearch).

Ingest is idempotent per (listing key, crawl id): replaying spooled items after a crash
writes nothing new and produces no second change event. Change events are derived
inside the same write as the snapshot they describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from narcwatch.crawler.models import Listing, Post, VendorProfile
from narcwatch.extract.models import Extraction
from narcwatch.index.models import Alert, ChangeEvent

__all__ = ["IngestItem", "Store", "ingest_batches"]

IngestItem = tuple[Listing | Post | VendorProfile, Extraction | None]


@runtime_checkable
class Store(Protocol):
    def ingest(self, batch: Sequence[IngestItem]) -> list[ChangeEvent]:
        """Write snapshots and current documents; return the change events this caused."""

    def end_crawl(self, source: str, crawl_id: str, complete: bool, at: datetime) -> list[ChangeEvent]:
        """Record a finished crawl; listings missing from N complete crawls become REMOVED."""

    def mark_seen(self, seen: Sequence[tuple[str, str, datetime]]) -> int:
        """``(listing key, crawl id, seen at)`` for listings a recrawl saw unchanged: present, no snapshot."""

    def events(self, since: datetime | None = None, types: Sequence[str] = (), limit: int = 1000) -> list[ChangeEvent]:
        ...

    def save_alerts(self, alerts: Sequence[Alert]) -> int:
        ...

    def counts(self) -> dict[str, int]:
        """Documents per kind: listings, snapshots, posts, vendors, identifiers, events, alerts."""

    def search(self, query: str, *, limit: int = 20, offset: int = 0, sort: str | None = None) -> Any:
        ...

    def close(self) -> None:
        ...


def ingest_batches(store: Store, batches: Sequence[Sequence[IngestItem]]) -> list[ChangeEvent]:
    """Several batches at once: through the backend's ``ingest_many`` (SQLite: one transaction
    for all of them) where it has one, else one ``ingest`` call per batch. The events are
    those the calls one by one would return, in the same order."""
    many = getattr(store, "ingest_many", None)
    if many is None or len(batches) < 2:
        return [e for b in batches for e in store.ingest(b)]
    return [e for group in many(batches) for e in group]
