"""Offer tiers on the listing page over the index's real SQLite store.

The listing goes the product's way: spooled as the crawler spools it, then the real
``Ingestor`` extracts it (spaCy pipeline, page exchange rate) and writes the store. The
page must show each extracted offer (quantity, unit, price, currency, USD, USD per
unit) and the tier table as the site displayed it. Before the fix the index document
carried no offers, and the page over SQLite showed none (only the test double had them).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from narcwatch.crawler.config import StoreConfig
from narcwatch.crawler.models import Listing, Money, PriceTier
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.spool import Spool
from narcwatch.dashboards.app import create_app
from narcwatch.dashboards.index_reader import IndexReader, offers_from_document, tiers_from_document
from narcwatch.dashboards.views import OfferRow
from narcwatch.extract.models import Offer
from narcwatch.index import open_store
from narcwatch.index.documents import MAX_OFFERS, offer_rows
from narcwatch.ingest import Ingestor, _extract

from dash_helpers import ANALYST, FAST_ARGON2, login

KEY = "market-t:7"


def tier_listing() -> Listing:
    eur = [("1 g", "45"), ("5 g", "180")]
    return Listing(
        source="market-t", url="http://market-t.fictional.onion/item/7", site_id="7",
        title="Protonitazene powder 98%", vendor="TierVendor", price=Money(amount=Decimal("45"), currency="EUR"),
        displayed_prices=[Money(amount=Decimal("45"), currency="EUR"), Money(amount=Decimal("49.50"), currency="USD")],
        tiers=[*(PriceTier(quantity=q, price=Money(amount=Decimal(p), currency="EUR")) for q, p in eur),
               PriceTier(quantity="10 pills", price=Money(amount=Decimal("90"), currency="USD"))],
        description="Fictional test listing. Price 45 EUR ($49.50). Stealth shipping.", crawl_id="crawl-1",
        seen_at=datetime(2026, 1, 5, 10, tzinfo=timezone.utc), capture_id="cap-7", capture_sha256="0" * 64)


def ingest_through_spool(data_dir: Path, items: list[Listing]) -> Any:
    """Spool the items as the crawler does, drain the real ingest into a real SqliteStore."""
    data = DataDir.at(data_dir)
    store = open_store(StoreConfig(), data)
    with Spool(data_dir / "spool.sqlite") as spool:
        for item in items:
            spool.put(f"{item.key}|{item.crawl_id}", item.type, item.model_dump(mode="json"), item.source)
        stats = Ingestor(spool, store).drain()
    assert stats.items == len(items) and stats.rejected == 0
    return store


@pytest.fixture
def client(data_dir: Path, config: Any) -> Iterator[TestClient]:
    store = ingest_through_spool(data_dir, [tier_listing()])
    app = create_app(store, data_dir, config, password_hasher=FAST_ARGON2)
    assert isinstance(app.state.ctx.reader, IndexReader)
    app.state.ctx.accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
    with TestClient(app, base_url="http://127.0.0.1") as c:
        login(c, ANALYST)
        yield c
    store.close()


def _money(v: Decimal | None) -> str:
    return "—" if v is None else f"{v:,.2f}"


def _table_rows(page: str, table_id: str) -> list[list[str]]:
    m = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    assert m, f"no table#{table_id} on the page"
    body = m.group(1).split("<tbody>", 1)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", "", c)).split()) for c in re.findall(r"<td>(.*?)</td>", r, re.S)]
            for r in rows]


def test_the_real_extraction_found_priced_tiers():
    """The premise of the page test: the pipeline converts the tiers to USD (EUR at the
    rate the page displays: 45 EUR ($49.50))."""
    tiers = [o for o in _extract(tier_listing()).offers if o.quantity is not None]
    assert [(o.quantity, o.unit, o.currency) for o in tiers] == [(1, "g", "EUR"), (5, "g", "EUR"), (10, "unit", "USD")]
    assert all(o.usd is not None and o.usd_per_unit is not None for o in tiers)


def test_store_document_keeps_offers_and_tiers(client):
    store = client.app.state.ctx.store
    doc = store.listing(KEY).current
    expected = offer_rows(_extract(tier_listing()).offers)
    assert doc["offers"] == expected  # decimal strings, as stored
    assert [OfferRow(**{k: (Decimal(v) if k not in ("unit", "currency") else v) for k, v in o.items()})
            for o in doc["offers"]] == offers_from_document({"offers": expected})
    assert [(t["quantity"], Decimal(t["price"]), t["currency"]) for t in doc["tiers"]] == [
        ("1 g", Decimal("45"), "EUR"), ("5 g", Decimal("180"), "EUR"), ("10 pills", Decimal("90"), "USD")]


def test_listing_page_shows_every_offer_tier(client):
    r = client.get("/listing", params={"key": KEY})
    assert r.status_code == 200, r.text
    rows = _table_rows(r.text, "offers")
    offers = _extract(tier_listing()).offers
    assert len(rows) == len(offers)
    for row, o in zip(rows, offers):
        qty, price, usd, per_unit = row
        assert qty.startswith(f"{o.quantity} {o.unit}" if o.quantity is not None else "—")
        assert price == f"{_money(o.price)} {o.currency}"
        assert usd == _money(o.usd)
        per = "g" if o.unit == "g" else o.unit
        assert per_unit == (f"{_money(o.usd_per_unit)} /{per}" if o.usd_per_unit is not None else "—")
    assert ["5 g (98%)", "180.00 EUR", "198.00", "39.60 /g"] in rows  # the rows as an analyst reads them
    assert _table_rows(r.text, "tiers") == [["1 g", "45.00 EUR"], ["5 g", "180.00 EUR"], ["10 pills", "90.00 USD"]]


def _o(**kw: Any) -> dict[str, Any]:
    return kw


@pytest.mark.parametrize("doc, expected", [
    pytest.param({}, [], id="no-offers-key"),
    pytest.param({"offers": None}, [], id="null"),
    pytest.param({"offers": "5g 180$"}, [], id="a-string"),
    pytest.param({"offers": [1, None, "x", []]}, [], id="garbage-entries"),
    pytest.param({"offers": [{}]}, [], id="empty-entry"),
    pytest.param({"offers": [_o(quantity="5", unit="g", price="180", currency="EUR", usd="198.0000",
                                usd_per_unit="39.6000")]},
                 [OfferRow(Decimal(5), "g", None, Decimal(180), "EUR", Decimal("198.0000"), Decimal("39.6000"))],
                 id="json-strings"),
    pytest.param({"offers": [_o(quantity="NaN", unit=7, price="Infinity", currency="EUROPEAN-DOLLAR", usd=True)]},
                 [], id="non-finite-and-wrong-types"),
    pytest.param({"offers": [_o(quantity=2.5, unit="x" * 500)]}, [OfferRow(Decimal("2.5"), "x" * 20)], id="long-unit"),
    pytest.param({"offers": [_o(quantity="1")] * 500}, [OfferRow(Decimal(1))] * 50, id="capped"),
])
def test_offers_from_document_is_total(doc, expected):
    assert offers_from_document(doc) == expected


@pytest.mark.parametrize("doc, expected", [
    pytest.param({}, [], id="none"),
    pytest.param({"tiers": [{"quantity": "5 g", "price": "180", "currency": "EUR"}]}, [("5 g", Decimal(180), "EUR")],
                 id="one"),
    pytest.param({"tiers": [{"quantity": "5 g", "price": "abc", "currency": "EUR"}, {"price": "1"}, "x"]}, [],
                 id="garbage"),
])
def test_tiers_from_document_is_total(doc, expected):
    assert [(t.quantity, t.price.amount, t.price.currency) for t in tiers_from_document(doc)] == expected


def test_offer_rows_are_capped_and_skip_empty_offers():
    many = [Offer(text="1g", start=0, end=2, quantity=Decimal(1), unit="g")] * (MAX_OFFERS + 5)
    assert len(offer_rows(many)) == MAX_OFFERS
    assert offer_rows([Offer(text="?", start=0, end=1)]) == []


def test_listing_page_shows_each_substance_with_its_class(client):
    r = client.get("/listing", params={"key": KEY})
    rows = re.search(r"<h3>Substances</h3>\s*<table>(.*?)</table>", r.text, re.S)
    assert rows and re.search(r"<td>Protonitazene</td><td><span class=\"tag\">nitazene</span></td>", rows.group(1))
