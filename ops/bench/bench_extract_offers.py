"""Offers/prices/geo extraction speed: listings of ~500 chars per second on one core."""

from __future__ import annotations

import time
from collections.abc import Callable

from narcwatch.extract.geo import find_shipping
from narcwatch.extract.money import find_prices
from narcwatch.extract.offers import find_offers
from ops.bench.harness import Result

_LISTING = (
    "Colombian fishscale cocaine 90% pure, lab tested. Ships from: Netherlands, ships to: Worldwide. "
    "Prices: 1g 40$ | 5g 180$ | 10g 320$ | 28g 0.35 BTC ($850). Stealth vacuum sealed, tracking on "
    "request. Reship 50% for EU, no reship for USA. We answer messages within 24 hours, PGP only. "
    "Bulk on request: 100g for 2,400 EUR. Sample 0.2g for 12 USD. Do not FE unless you have 10+ orders "
    "with us. Thanks for your trust, more products soon in our store, check the other listings too!!"
)


def _rate(fn: Callable[[str], object], n: int = 2000) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn(_LISTING)
    return n / (time.perf_counter() - t0)


def offers_speed() -> list[Result]:
    note = f"{len(_LISTING)}-char listing with 6 offers, one core"
    rows = [
        Result("extract.offers.find_offers", _rate(find_offers), "listings/s", note),
        Result("extract.offers.find_prices", _rate(find_prices), "listings/s", note),
        Result("extract.offers.find_shipping", _rate(find_shipping), "listings/s", note),
    ]
    long = _LISTING * 200  # linear in size: same throughput per char on a 100 kB text
    t0 = time.perf_counter()
    for _ in range(5):
        find_offers(long)
    per_char = 5 * len(long) / (time.perf_counter() - t0)
    rows.append(Result("extract.offers.find_offers_100kB", per_char / len(_LISTING), "listings/s", "one 100 kB text, chars/s / 500"))
    return rows


BENCHMARKS = {"extract_offers": offers_speed}
