"""What the crawler collects: the contracts every later stage reads.

Models are born here and only read downstream (extract/, index/ import them, never the
reverse). Money is ``Decimal`` with a currency code; floats never hold a price.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Capture",
    "CrawlItem",
    "Listing",
    "Money",
    "Network",
    "Post",
    "PriceTier",
    "Source",
    "SourceKind",
    "VendorProfile",
    "listing_key",
    "normalise_url",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=False)


class Money(_Model):
    """An amount in a fiat (ISO 4217) or crypto currency code (BTC, XMR, USDT, ...)."""

    amount: Decimal
    currency: str = Field(min_length=2, max_length=10)

    @field_validator("currency")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class SourceKind(StrEnum):
    MARKET = "market"
    FORUM = "forum"
    TELEGRAM = "telegram"
    SHOP = "shop"


class Network(StrEnum):
    """How a source is reached. TOR and I2P traffic only ever leaves through SOCKS."""

    TOR = "tor"
    I2P = "i2p"
    CLEARNET = "clearnet"


class Source(_Model):
    """A configured site: where to start, how to reach it, which profile parses it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str = ""
    kind: SourceKind = SourceKind.MARKET
    network: Network = Network.CLEARNET
    profile: str
    start_urls: list[str] = Field(min_length=1)
    language: str = "en"
    enabled: bool = True
    schedule: str = "interval:6h"
    render_js: bool = False
    credentials: str | None = None  # name of a secret, never the secret itself
    # Politeness per source; None means the network's conservative default (crawler/settings.py).
    # A sandbox or a site the operator owns may go fast; a real onion market should not.
    concurrency: int | None = Field(default=None, ge=1, le=256)  # requests in flight to this source
    delay: float | None = Field(default=None, ge=0.0, le=3600.0)  # seconds between requests (per slot)
    autothrottle: bool | None = None  # adapt the delay to the site's latency


class Capture(_Model):
    """One fetched response as stored in the evidence archive.

    ``id`` is stable for the bytes and the moment: any stored fact carries it and the
    payload's sha256 so an investigator can show where and when it was seen.
    """

    id: str
    source: str
    url: str
    status: int
    fetched_at: datetime
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str = ""
    length: int = 0
    warc_file: str = ""
    warc_offset: int = 0
    rendered: bool = False
    screenshot: str | None = None
    crawl_id: str = ""


class PriceTier(_Model):
    """One row of a tier table as the site shows it (``5 g -> 180 USD``)."""

    quantity: str
    price: Money


class _Item(_Model):
    source: str
    url: str
    site_id: str | None = None
    crawl_id: str = ""
    seen_at: datetime = Field(default_factory=utcnow)
    capture_id: str = ""
    capture_sha256: str = ""

    @property
    def key(self) -> str:
        return listing_key(self.source, self.site_id, self.url)


class Listing(_Item):
    """A vendor's offer on a market or shop page, as displayed."""

    type: Literal["listing"] = "listing"
    title: str
    vendor: str | None = None
    category: str | None = None
    price: Money | None = None
    displayed_prices: list[Money] = Field(default_factory=list)
    tiers: list[PriceTier] = Field(default_factory=list)
    ships_from: str | None = None
    ships_to: str | None = None
    escrow: str | None = None
    description: str = ""
    available: bool = True
    language: str = "en"


class Post(_Item):
    """A forum post or channel message."""

    type: Literal["post"] = "post"
    author: str | None = None
    thread: str | None = None
    title: str | None = None
    text: str
    posted_at: datetime | None = None
    links: list[str] = Field(default_factory=list)
    language: str = "en"


class VendorProfile(_Item):
    """A vendor's page on one market: the account, not the person behind it."""

    type: Literal["vendor"] = "vendor"
    handle: str
    pgp_key: str | None = None
    joined: str | None = None
    sales: int | None = None
    feedback: str | None = None
    description: str = ""


CrawlItem = Annotated[Listing | Post | VendorProfile, Field(discriminator="type")]

_TRACKING = frozenset({"utm_source", "utm_medium", "utm_campaign", "sid", "session", "sessionid", "phpsessid"})


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, drop fragments, session and tracking parameters, sort the query."""
    parts = urlsplit(url.strip())
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _TRACKING)
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))


def listing_key(source: str, site_id: str | None, url: str) -> str:
    """Stable key: (source, site-native id), else the normalised URL."""
    if site_id:
        return f"{source}:{site_id}"
    digest = hashlib.sha256(normalise_url(url).encode()).hexdigest()[:16]
    return f"{source}:u{digest}"
