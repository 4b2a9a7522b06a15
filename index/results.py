"""What searches and histories return, identical for every backend (and the HTTP API)."""

from __future__ import annotations

import html
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["FacetCount", "HL_END", "HL_START", "ListingHistory", "SearchHit", "SearchResult", "Trends",
           "VendorReport", "highlight_html", "parse_sort"]

#: Highlight markers (private-use code points): never present in escaped output, so a
#: renderer escapes the fragment first and only then turns markers into <mark> tags.
HL_START, HL_END = "\ue000", "\ue001"


def highlight_html(fragment: str) -> str:
    """Hostile text in, safe HTML out: escape everything, then mark the hits."""
    return html.escape(fragment).replace(HL_START, "<mark>").replace(HL_END, "</mark>")


class SearchHit(BaseModel):
    key: str
    score: float | None = None
    doc: dict[str, Any]
    highlights: dict[str, str] = Field(default_factory=dict)


class FacetCount(BaseModel):
    value: str
    count: int


class SearchResult(BaseModel):
    query: str
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[FacetCount]] = Field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [h.key for h in self.hits]


class ListingHistory(BaseModel):
    key: str
    current: dict[str, Any]
    snapshots: list[dict[str, Any]]
    events: list[dict[str, Any]]


class VendorReport(BaseModel):
    name: str
    accounts: list[dict[str, Any]]  # one per (source, handle): first/last seen, profile, capture
    markets: list[str]
    listings: list[dict[str, Any]]
    listings_per_week: list[dict[str, Any]]
    price_history: list[dict[str, Any]]
    identifiers: list[dict[str, Any]]
    first_seen: str | None
    last_seen: str | None


class Trends(BaseModel):
    query: str
    listings_per_week: list[dict[str, Any]]  # {"week": "2026-11-02", "count": n}
    price_per_gram: list[dict[str, Any]]  # {"week", "substance", "n", "q1", "median", "q3"}
    facets: dict[str, list[FacetCount]] = Field(default_factory=dict)


SORTABLE = ("relevance", "key", "first_seen", "last_seen", "price", "price_usd", "usd_per_gram", "usd_per_unit")


def parse_sort(sort: str | None, has_text: bool) -> tuple[str, bool]:
    """``"-price"`` -> ("price", descending). Default: relevance with text, else newest first."""
    if not sort:
        return ("relevance", True) if has_text else ("last_seen", True)
    desc = sort.startswith("-")
    name = sort.lstrip("-+")
    if name not in SORTABLE:
        raise ValueError(f"cannot sort by {name!r}; sortable: {', '.join(SORTABLE)} (prefix - for descending)")
    return name, desc if name != "relevance" else True
