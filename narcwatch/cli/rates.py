"""``rates``: validate an exchange-rates file and show the rate a price would convert at.

Ingest converts prices with the config's ``rates_files`` plus ``<data>/rates/*.csv|json``
(``extract.rates.load_rates``); these commands answer "is this file usable?" and "what
rate would a capture of that day get, from which file?" without ingesting anything.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from narcwatch.cli._common import console, err_console, fail, state

__all__ = ["app", "register"]

app = typer.Typer(help="Check exchange-rate files and show the rate used for a currency on a day.",
                  no_args_is_help=True)

_REASONS = {
    "no_rates_for_currency": "no rates file has this currency",
    "before_first_rate": "the day is before the first rate of this currency",
    "rate_too_old": "the nearest earlier rate is older than {age} days",
    "no_capture_date": "no date given",
}


@app.command(help="Validate rates files (CSV date,currency,usd or JSON); report each bad row with file and line.")
def check(files: Annotated[list[Path], typer.Argument(help="Rates files to check.")]) -> None:
    from narcwatch.extract.rates import RatesFileProvider, read_rates_file

    problems = []
    for f in files:
        rows, bad = read_rates_file(f)
        problems += bad
        if not bad:
            cov = RatesFileProvider(rows).coverage()
            spans = ", ".join(f"{c} {a}..{b} ({n} days)" for c, (a, b, n) in cov.items())
            console.print(f"ok: {f}: {len(rows)} rate(s): {spans}", highlight=False, markup=False)
    for p in problems:
        err_console.print(f"error {p}", highlight=False, markup=False)
    if problems:
        err_console.print(f"{len(problems)} problem(s) found", highlight=False)
        raise typer.Exit(1)


@app.command(help="Show the USD rate a price in CURRENCY captured on a day converts at, and its source file.")
def show(
    ctx: typer.Context,
    currency: Annotated[str, typer.Argument(help="Currency code (EUR, RUB, BTC, XMR, ...).")],
    on: Annotated[Optional[str], typer.Option("--on", help="Capture day YYYY-MM-DD (default: today, UTC).")] = None,
    files: Annotated[Optional[list[Path]], typer.Option("--file", "-f", help="Use these files instead of the configured ones.")] = None,
    max_age_days: Annotated[int, typer.Option("--max-age-days", min=0, help="How old the nearest earlier rate may be.")] = 7,
) -> None:
    from narcwatch.extract.rates import RatesFileError, RatesFileProvider, load_rates

    try:
        day = date.fromisoformat(on) if on else datetime.now(timezone.utc).date()
    except ValueError:
        fail(f"--on must be YYYY-MM-DD (got {on!r})", 2)
    try:
        if files:
            provider: RatesFileProvider | None = RatesFileProvider.from_paths(files, max_age_days)
        else:
            st = state(ctx)
            provider = load_rates(st.config.rates_files, st.data.root, max_age_days)
    except RatesFileError as exc:
        fail(f"unusable rates file(s):\n{exc}")
    if currency.strip().upper() == "USD":
        console.print(f"USD on {day}: 1 USD (identity)", highlight=False)
        return
    if provider is None:
        fail("no rates configured: set rates_files in the config (or NARCWATCH_RATES_FILES) "
             "or put CSV/JSON files in <data>/rates/")
    found = provider.lookup(currency, day)
    if isinstance(found, str):
        known = ", ".join(provider.coverage()) or "(none)"
        fail(f"no rate for {currency.upper()} on {day}: {_REASONS.get(found, found).format(age=max_age_days)}; "
             f"currencies with rates: {known}")
    console.print(f"{found.currency} on {day}: {found.usd} USD per 1 {found.currency} "
                  f"(rate of {found.on}, {found.source})", highlight=False, markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="rates", help="Check exchange-rate files and show which rate converts a price.")
