"""``search``, ``vendor`` and ``listing``: the query language and histories."""

from __future__ import annotations

from typing import Annotated

import typer

from narcwatch.cli._common import not_available


def register(app: typer.Typer) -> None:
    @app.command(help="Search listings, posts and vendors with the query language.")
    def search(ctx: typer.Context, query: Annotated[str, typer.Argument(help="Query string, e.g. 'class:nitazene AND usd_per_gram:<50'.")]) -> None:
        not_available("search (issue: Index and search)")

    @app.command(help="Show a vendor: markets, handles, listings over time, prices, identifiers.")
    def vendor(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Vendor handle or actor id.")]) -> None:
        not_available("vendor history (issue: Index and search)")

    @app.command(help="Show one listing and, with --history, every snapshot of it.")
    def listing(ctx: typer.Context, key: Annotated[str, typer.Argument(help="Listing key (source:site_id).")],
                history: Annotated[bool, typer.Option("--history")] = False) -> None:
        not_available("listing history (issue: Index and search)")
