"""JSON round trip of every contract model; money stays Decimal."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from narcwatch.crawler.models import (
    Capture, CrawlItem, Listing, Money, Post, PriceTier, Source, VendorProfile, listing_key, normalise_url,
)
from narcwatch.extract.models import Extraction, Identifier, Offer, SubstanceMention, Wallet
from narcwatch.index.models import Alert, ChangeEvent, EventType

T = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
SHA = "ab" * 32

EXAMPLES = [
    Money(amount=Decimal("0.00123456"), currency="btc"),
    Source(id="market-a", profile="classic", start_urls=["http://x.onion/"], network="tor"),
    Capture(id="c1", source="market-a", url="http://x.onion/l/1", status=200, fetched_at=T, sha256=SHA),
    Listing(source="m", url="http://x/l/1", site_id="1", title="Title", price=Money(amount=Decimal("40.10"), currency="USD"),
            tiers=[PriceTier(quantity="5g", price=Money(amount=Decimal("180"), currency="USD"))], seen_at=T),
    Post(source="f", url="http://f/t/1#p2", site_id="p2", text="hello", seen_at=T, links=["http://y.onion/"]),
    VendorProfile(source="m", url="http://x/v/a", handle="alpha", pgp_key="-----BEGIN PGP", seen_at=T),
    Extraction(id="x", substances=[SubstanceMention(canonical="isotonitazene", cls="nitazene", text="iso", start=0, end=3)],
               offers=[Offer(quantity=Decimal("1"), unit="g", price=Decimal("40"), currency="USD", start=0, end=5)],
               wallets=[Wallet(chain="BTC", address="bc1q", start=0, end=4)],
               identifiers=[Identifier(kind="telegram", value="@x", start=0, end=2)]),
    ChangeEvent(id="e1", type=EventType.PRICE_CHANGED, at=T, source="m", details={"old": "1", "new": "2"}),
    Alert(id="a1", rule_id="r", rule_name="R", created_at=T, event_ids=["e1"], summary="s"),
]


@pytest.mark.parametrize("model", EXAMPLES, ids=lambda m: type(m).__name__)
def test_json_round_trip(model):
    again = type(model).model_validate_json(model.model_dump_json(by_alias=True))
    assert again == model


def test_money_is_decimal_not_float():
    m = Money.model_validate_json('{"amount": "0.1", "currency": "usd"}')
    assert isinstance(m.amount, Decimal) and m.amount + Decimal("0.2") == Decimal("0.3")
    assert m.currency == "USD"


def test_crawl_item_discriminates_by_type():
    adapter = TypeAdapter(CrawlItem)
    for item in EXAMPLES[3:6]:
        assert adapter.validate_json(item.model_dump_json()) == item


def test_unknown_field_rejected():
    with pytest.raises(ValidationError, match="extra"):
        Listing(source="m", url="u", title="t", colour="red")


@pytest.mark.parametrize("a, b", [
    ("HTTP://X.onion/l/1?b=2&a=1#frag", "http://x.onion/l/1?a=1&b=2"),
    ("http://x/l/1?utm_source=z&id=3", "http://x/l/1?id=3"),
    ("http://x", "http://x/"),
])
def test_normalise_url(a, b):
    assert normalise_url(a) == b


def test_listing_key_prefers_site_id():
    assert listing_key("m", "42", "http://x/anything") == "m:42"
    assert listing_key("m", None, "http://x/l?id=1#a") == listing_key("m", None, "HTTP://X/l?id=1")
    assert listing_key("m", None, "http://x/l?id=1") != listing_key("m", None, "http://x/l?id=2")
