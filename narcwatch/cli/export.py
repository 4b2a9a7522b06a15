"""``export`` and ``report``: STIX 2.1, MISP, CSV and weekly vendor profiles."""

from __future__ import annotations

import typer

from narcwatch.cli._common import not_available


def register(app: typer.Typer) -> None:
    @app.command(help="Export a query result or actor as STIX 2.1, MISP or CSV with provenance.")
    def export(ctx: typer.Context, fmt: str = typer.Argument(..., metavar="stix|misp|csv")) -> None:
        not_available("exports (issue: Vendor identity and exports)")

    @app.command(help="Write reports such as weekly vendor profiles.")
    def report(ctx: typer.Context, what: str = typer.Argument("vendors")) -> None:
        not_available("vendor profiles (issue: Vendor identity and exports)")
