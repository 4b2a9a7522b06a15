"""The sandbox's exchange rates, published the way a deployment receives rates: a daily file.

The sandbox's markets price in EUR, RUB, BTC and XMR at ``World.rate(currency, hours)``
(units per USD, one rate per simulated day). A real deployment gets its rates from a
feed or a file dated by calendar day; the sandbox publishes its own the same way, as
``date,currency,usd`` rows (USD per one unit), so the demo's ingest converts prices
without ever reading the sandbox's internals. Every rate here is fictional.

Calendar dates: a crawl's captures carry wall-clock dates, while the sandbox runs on a
simulated clock. The sandbox day of ``hours`` is published under ``today`` and the days
before it under the days before ``today``: what a rates feed running next to the market
would have said. No future day is published (a feed cannot know it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal, localcontext
from pathlib import Path

from narcwatch.sandbox.world import World

__all__ = ["HEADER", "PUBLISHED_CURRENCIES", "published_rates", "write_rates_csv"]

#: the non-USD currencies the sandbox's pages and channels price in
PUBLISHED_CURRENCIES = ("EUR", "RUB", "BTC", "XMR", "LTC", "USDT")
HEADER = ("# FICTIONAL exchange rates of the narcwatch sandbox (seed {seed}); not market data.\n"
          "# USD per 1 unit; sandbox day {day} is published as {today}.\n")


def _usd_per_unit(units_per_usd: float) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 12  # the file's precision: far finer than any displayed price
        return Decimal(1) / Decimal(repr(units_per_usd))


def published_rates(world: World, hours: float, today: date, days: int = 30,
                    currencies: Iterable[str] = PUBLISHED_CURRENCIES) -> list[tuple[date, str, Decimal]]:
    """``(date, currency, usd)`` for the ``days`` sandbox days up to the one of ``hours``."""
    day0 = int(hours // 24)
    rows = []
    for k in range(max(1, days) - 1, -1, -1):
        sim_hours = float((day0 - k) * 24)
        for cur in currencies:
            rows.append((today - timedelta(days=k), cur, _usd_per_unit(world.rate(cur, sim_hours))))
    return rows


def write_rates_csv(path: str | Path, world: World, hours: float, today: date, days: int = 30) -> Path:
    """Write the published rates as CSV (atomically: a reader never sees half a file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER.format(seed=world.seed, day=int(hours // 24), today=today.isoformat()), "date,currency,usd\n"]
    lines += [f"{d.isoformat()},{cur},{usd}\n" for d, cur, usd in published_rates(world, hours, today, days)]
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(p)
    return p
