"""The Elasticsearch indices and fields the Kibana objects are built on.

Names follow the flat listing document of the index (``narcwatch.index.fields`` and
``narcwatch.index.documents.item_document``): one index of current listings and one of
snapshots (every observed version, with the same fields plus ``seen_at``), both under the
configured ``store.index_prefix`` (default ``narcwatch``). The index branch had no
Elasticsearch templates yet when this was written; when they land, a test compares this
table with them (tests/dashboards/test_kibana.py).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DATA_VIEWS", "DataView", "PREFIX"]

PREFIX = "narcwatch"

#: field -> Elasticsearch type, as the index templates must map them.
_LISTING_FIELDS: dict[str, str] = {
    "key": "keyword", "type": "keyword", "source": "keyword", "vendor": "keyword", "category": "keyword",
    "currency": "keyword", "title": "text", "text": "text", "url": "keyword", "capture_id": "keyword",
    "substances": "keyword", "classes": "keyword", "cas": "keyword", "wallets": "keyword", "pgp": "keyword",
    "identifiers": "keyword", "ships_from": "keyword", "ships_to": "keyword",
    "price": "scaled_float", "price_usd": "scaled_float", "usd_per_gram": "scaled_float", "usd_per_unit": "scaled_float",
    "first_seen": "date", "last_seen": "date", "available": "boolean", "novel": "boolean", "removed": "boolean",
}


@dataclass(frozen=True)
class DataView:
    id: str
    name: str
    pattern: str
    time_field: str
    fields: dict[str, str]


DATA_VIEWS: dict[str, DataView] = {
    "listings": DataView("narcwatch-dv-listings", "narcwatch listings", f"{PREFIX}-listings*", "first_seen",
                         _LISTING_FIELDS),
    "snapshots": DataView("narcwatch-dv-snapshots", "narcwatch listing snapshots", f"{PREFIX}-snapshots*", "seen_at",
                          {**_LISTING_FIELDS, "seen_at": "date", "crawl_id": "keyword"}),
}
