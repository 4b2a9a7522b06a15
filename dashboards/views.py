"""What the pages read: the dashboard's read model and the reader protocol behind it.

The pages never talk to a backend directly. They ask a ``DashboardReader`` for small,
typed views (one per page), so the templates stay dumb and any store can be plugged in:
the index engineer's SQLite/Elasticsearch stores implement these methods (or are wrapped
by ``narcwatch.dashboards.reader.StoreReader``), tests use an in-memory double.

Every view is plain data. Nothing in it is trusted: titles, handles and URLs are scraped
and are rendered only through autoescaped templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from narcwatch.crawler.models import Capture, Listing, Money
from narcwatch.extract.models import Extraction, Offer
from narcwatch.index.models import Alert, AlertStatus

__all__ = [
    "Appearance",
    "CrawlStatus",
    "DashboardReader",
    "FacetValue",
    "Facts",
    "Hit",
    "IdentifierSeen",
    "ListingView",
    "NotAvailable",
    "OfferRow",
    "PriceLevel",
    "SearchPage",
    "Snapshot",
    "TimelineEntry",
    "Trends",
    "VendorView",
]


class NotAvailable(Exception):
    """The plugged-in store cannot answer this view (yet); pages render a 501 saying so."""


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass(frozen=True)
class Hit:
    """One search result row. ``key`` is the listing key (``source:site_id``)."""

    key: str
    title: str
    source: str
    vendor: str | None = None
    kind: str = "listing"
    price: Money | None = None
    usd_per_gram: Decimal | None = None
    classes: tuple[str, ...] = ()
    substances: tuple[str, ...] = ()
    ships_from: tuple[str, ...] = ()
    last_seen: datetime | None = None
    snippet: str = ""
    #: (text, is_match) pieces when the store highlighted the hit itself; else the page
    #: highlights the query's terms in ``title``/``snippet``.
    title_segments: tuple[tuple[str, bool], ...] = ()
    snippet_segments: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class SearchPage:
    query: str
    total: int
    hits: Sequence[Hit]
    facets: dict[str, Sequence[FacetValue]] = field(default_factory=dict)
    offset: int = 0
    limit: int = 20
    error: str | None = None  # a query-language error, shown to the user next to the box
    terms: tuple[str, ...] = ()  # free-text terms to highlight


@dataclass(frozen=True)
class Snapshot:
    """A listing as one crawl saw it."""

    seen_at: datetime
    title: str
    price: Money | None = None
    usd: Decimal | None = None
    usd_per_gram: Decimal | None = None
    available: bool = True
    capture_id: str = ""
    capture_sha256: str = ""


#: units whose "per unit" price is per gram (``Offer.usd_per_unit`` is USD per gram for these)
MASS_UNITS = frozenset({"g", "gr", "gram", "grams", "mg", "ug", "mcg", "kg", "oz", "lb"})


@dataclass(frozen=True)
class OfferRow:
    """One extracted tier of a listing (``5 g for 180 EUR`` = 195.30 USD, 39.06 USD/g)."""

    quantity: Decimal | None = None
    unit: str | None = None
    purity: Decimal | None = None  # percent
    price: Decimal | None = None
    currency: str | None = None
    usd: Decimal | None = None
    usd_per_unit: Decimal | None = None  # per gram for mass units, per piece otherwise

    @property
    def per(self) -> str:
        """What ``usd_per_unit`` is per: ``g`` for any mass unit, else the unit itself."""
        unit = (self.unit or "").lower()
        return "g" if unit in MASS_UNITS else unit

    @classmethod
    def from_offer(cls, o: Offer) -> "OfferRow":
        return cls(o.quantity, o.unit, o.purity, o.price, o.currency, o.usd, o.usd_per_unit)


@dataclass(frozen=True)
class Facts:
    """What extraction found, as the index keeps it on the current document."""

    substances: Sequence[tuple[str, str]] = ()  # (canonical, class or "")
    classes: Sequence[str] = ()
    price_usd: Decimal | None = None
    usd_per_gram: Decimal | None = None
    usd_per_unit: Decimal | None = None
    wallets: Sequence[tuple[str, str]] = ()  # (chain, address)
    identifiers: Sequence[tuple[str, str]] = ()  # (kind, value)
    cas: Sequence[str] = ()
    novel: Sequence[str] = ()
    offers: Sequence[OfferRow] = ()  # the extracted tiers, in text order


@dataclass(frozen=True)
class ListingView:
    listing: Listing  # the current document (latest snapshot)
    extraction: Extraction | None  # the full extraction (offers with spans) when the store keeps it
    snapshots: Sequence[Snapshot]  # oldest first
    captures: Sequence[Capture] = ()
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    removed: bool = False
    facts: Facts = field(default_factory=Facts)
    events: Sequence["TimelineEntry"] = ()


@dataclass(frozen=True)
class Appearance:
    """A vendor's account on one source (market, forum, channel)."""

    source: str
    handle: str
    first_seen: datetime | None
    last_seen: datetime | None
    listings: int = 0


@dataclass(frozen=True)
class IdentifierSeen:
    kind: str
    value: str
    first_seen: datetime | None = None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class PriceLevel:
    substance: str
    unit: str
    low: Decimal
    median: Decimal
    high: Decimal
    n: int


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    source: str
    what: str  # event type or "listing"
    text: str
    listing_key: str | None = None


@dataclass(frozen=True)
class VendorView:
    handle: str
    appearances: Sequence[Appearance]
    identifiers: Sequence[IdentifierSeen] = ()
    price_levels: Sequence[PriceLevel] = ()
    timeline: Sequence[TimelineEntry] = ()
    linked: Sequence[str] = ()  # other handles sharing an identifier (identity issue)
    listings: Sequence[Hit] = ()


@dataclass(frozen=True)
class Trends:
    """Weekly series; weeks are ISO dates of the Monday starting the week."""

    weeks: Sequence[str]
    listings_per_class: dict[str, Sequence[int]]  # class -> count per week (aligned with weeks)
    usd_per_gram: dict[str, Sequence[Decimal | None]]  # substance -> median per week
    ships_from: Sequence[FacetValue]


@dataclass(frozen=True)
class CrawlStatus:
    """The last crawl of a source as the crawler recorded it."""

    last_crawl_at: datetime | None = None
    finished: bool = False
    items: int = 0
    errors: Sequence[str] = ()


@runtime_checkable
class DashboardReader(Protocol):
    """The questions the dashboard asks. A store may implement them directly."""

    def search_page(self, query: str, *, limit: int = 20, offset: int = 0, sort: str | None = None,
                    facets: Sequence[str] = ()) -> SearchPage:
        """Run the query language; raise ``ValueError`` (shown to the user) on a bad query.
        ``facets`` names the facet fields to count (each costs a pass over the matches)."""

    def listing_view(self, key: str) -> ListingView | None: ...

    def vendor_view(self, handle: str) -> VendorView | None: ...

    def alert_list(self, status: AlertStatus | None = None, limit: int = 200) -> list[Alert]: ...

    def set_alert_status(self, alert_id: str, status: AlertStatus, by: str) -> Alert | None: ...

    def trends(self, weeks: int = 12) -> Trends: ...

    def crawl_status(self, source: str) -> CrawlStatus | None: ...
