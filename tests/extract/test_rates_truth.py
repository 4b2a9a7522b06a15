"""USD per gram against the sandbox's ground truth, with the sandbox's published rates file.

The pipeline sees what a deployment sees: the listing as a market displays it (EUR on
Nebula, RUB on Taiga, USD with BTC/XMR on Velvet) and a dated rates file
(``sandbox.rates.write_rates_csv``), read like any rates file. The truth is the
sandbox's own USD price of each tier (``base_usd`` x the price epoch's factor), before
conversion and display rounding; only this test reads it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from narcwatch.crawler.models import Listing, Money
from narcwatch.extract.rates import RatesFileProvider
from narcwatch.index.sqlite import SqliteStore
from narcwatch.ingest import ingest_items
from narcwatch.sandbox import World
from narcwatch.sandbox.rates import write_rates_csv
from narcwatch.sandbox.truth import iter_truth

HOURS = 30.0  # sandbox day 1: the rates of day 0 are published too, under the day before
DAY = date(2026, 3, 14)
SEEN = datetime(2026, 3, 14, 15, 0, tzinfo=timezone.utc)
MARKETS = ("velvet-market", "nebula-market", "taiga-market")


@dataclass
class Metrics:
    listings: int
    with_usd: int  # listings with usd_per_gram (mass) or usd_per_unit (pieces)
    errors: list[float]  # |extracted - truth| / truth per listing with a value

    @property
    def share(self) -> float:
        return self.with_usd / self.listings

    def pct(self, q: float) -> float:
        e = sorted(self.errors)
        return e[min(len(e) - 1, int(q * len(e)))]

    @property
    def within_2pct(self) -> float:
        return sum(1 for e in self.errors if e <= 0.02) / len(self.errors)


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=3, size=400)


def _listing(rec: dict) -> Listing:
    f = rec["fields"]
    cur = f["currency"]
    return Listing(source=rec["source"], url=rec["url"], site_id=rec["site_id"], crawl_id="c1", seen_at=SEEN,
                   title=f["title"], vendor=f["vendor"], category=f["category"], description=f["description"],
                   price=Money(amount=Decimal(f["price"]), currency=cur),
                   displayed_prices=[Money(amount=Decimal(p["amount"]), currency=p["currency"]) for p in f["displayed_prices"]])
    # No structured tiers: the description carries them (and see the xfail below for why).


def _true_min_per_unit(world: World, rec: dict) -> float:
    """The sandbox's own USD per gram (or per piece) of the cheapest tier at ``HOURS``."""
    ls = world.listings
    j = ls.index_from_site_id(rec["source"], rec["site_id"])
    d = ls.get(rec["source"], j)
    f = ls.price_factor(d, HOURS)
    return min(usd * f / q for q, usd in zip(d.quantities, d.base_usd))


def _measure(world: World, tmp: Path, rates: RatesFileProvider | None) -> dict[str, Metrics]:
    records = [r for r in iter_truth(world, HOURS) if r.get("kind") == "listing" and r["source"] in MARKETS]
    store = SqliteStore(tmp / f"store-{rates is not None}.sqlite")
    try:
        ingest_items(store, [_listing(r) for r in records], rates=rates)
        out: dict[str, Metrics] = {}
        for rec in records:
            doc = store.listing(_listing(rec).key).current  # type: ignore[union-attr]
            unit = world.listings.get(rec["source"], world.listings.index_from_site_id(rec["source"], rec["site_id"])).unit
            got = doc.get("usd_per_gram") if unit == "g" else doc.get("usd_per_unit")
            m = out.setdefault(rec["source"], Metrics(0, 0, []))
            m.listings += 1
            if got is not None:
                m.with_usd += 1
                truth = _true_min_per_unit(world, rec)
                m.errors.append(abs(float(got) - truth) / truth)
        return out
    finally:
        store.close()


@pytest.fixture(scope="module")
def measured(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Metrics], dict[str, Metrics], dict]:
    tmp = tmp_path_factory.mktemp("rates-truth")
    before = _measure(world, tmp, None)
    rates = RatesFileProvider.from_path(write_rates_csv(tmp / "rates" / "sandbox.csv", world, HOURS, DAY))
    after = _measure(world, tmp, rates)
    return before, after, dict(rates.misses)


def test_without_rates_files_only_usd_and_page_rates_convert(measured) -> None:
    before, _, _ = measured
    assert before["velvet-market"].share > 0.95  # USD prices: no rate needed
    assert before["nebula-market"].share == 0 and before["taiga-market"].share == 0


@pytest.mark.parametrize("market", MARKETS)
def test_with_the_published_rates_every_market_gets_usd_per_unit(measured, market: str) -> None:
    _, after, misses = measured
    m = after[market]
    assert m.listings > 20
    assert m.share > 0.95, (market, m.share)
    assert misses == {}  # every non-USD price found its rate


@pytest.mark.parametrize("market", MARKETS)
def test_usd_per_unit_matches_the_truth(measured, market: str) -> None:
    """Display rounding (whole EUR, 50 RUB) is the only error left: a cheap 1 g tier of
    12 EUR is off by up to 4%; measured: median < 0.1%, p95 < 1%, >= 99% within 2%."""
    _, after, _ = measured
    m = after[market]
    assert statistics.median(m.errors) < 0.005, (market, statistics.median(m.errors))
    assert m.pct(0.95) < 0.03, (market, m.pct(0.95))
    assert m.within_2pct > 0.95, (market, m.within_2pct)


def test_piece_tiers_as_structured_text_pair_right() -> None:
    """Ingest writes structured tiers as 'Q P CUR': '10x' before a price is 10 pieces (it once
    swallowed the count, mispairing ~7% of the demo's Nebula piece listings)."""
    from narcwatch.extract.pipeline import extract

    offers = extract("10x 4350 RUB | 25x 9850 RUB").offers
    assert [(o.quantity, o.unit) for o in offers] == [(Decimal(10), "unit"), (Decimal(25), "unit")]
