"""Identity rows from a search-engine store (Elasticsearch/OpenSearch), in SQLite's order.

The same three things the SQLite reader takes from its tables: vendor accounts (the
``vendors`` index keeps one document per lower-cased handle with its accounts), the
current listing/post documents that name a vendor (kept verbatim under ``doc``) and the
identifier sightings (``doc_kind: sighting``). Everything is read by ``search_after``
pages on the store's aliases, sorted as SQLite sorts, so both backends give the same
accounts and therefore the same actors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["engine_rows"]

_PAGE = 500


def _scan(store: Any, kind: str, query: dict[str, Any], sort: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        body: dict[str, Any] = {"query": query, "sort": sort, "size": _PAGE, "track_total_hits": False}
        if after is not None:
            body["search_after"] = after
        hits = store.client.search(store.alias(kind), body)["hits"]["hits"]
        for h in hits:
            yield h["_source"]
        if len(hits) < _PAGE:
            return
        after = hits[-1]["sort"]


def engine_rows(store: Any) -> tuple[list[tuple[Any, ...]], list[tuple[str, dict[str, Any]]], list[tuple[Any, ...]]]:
    """``(vendor rows, (type, document) pairs, sighting rows)`` as ``accounts.build_accounts`` takes them."""
    if hasattr(store, "refresh"):
        store.refresh()  # what was just ingested is searchable
    vendors = []
    for src in _scan(store, "vendors", {"match_all": {}}, [{"id": "asc"}]):
        for a in src.get("accounts") or ():
            vendors.append((a["source"], a["handle"], a["first_seen"], a["last_seen"], a.get("capture_id") or "",
                            a.get("capture_sha256") or "", a.get("profile")))
    vendors.sort(key=lambda r: (r[0], r[1].strip().lower()))
    docs: list[tuple[str, dict[str, Any]]] = []
    has_vendor = {"bool": {"filter": [{"exists": {"field": "vendor"}}]}}
    for kind in ("listings", "posts"):
        for src in _scan(store, kind, has_vendor, [{"key_exact": "asc"}]):
            d = src.get("doc")
            if isinstance(d, dict) and isinstance(d.get("vendor"), str) and d["vendor"].strip():
                docs.append((str(d.get("type") or ("post" if kind == "posts" else "listing")), d))
    docs.sort(key=lambda td: str(td[1].get("key")))
    sightings = [(s["kind"], s["value"], s["source"], s.get("key_exact") or "", s.get("vendor") or "", s["first_seen"],
                  s["last_seen"], s.get("first_capture_id") or "", s.get("first_capture_sha256") or "")
                 for s in _scan(store, "identifiers", {"bool": {"filter": [{"term": {"doc_kind": "sighting"}}]}},
                                [{"id": "asc"}]) if s.get("vendor")]
    sightings.sort(key=lambda r: (r[5], r[3]))
    return vendors, docs, sightings
