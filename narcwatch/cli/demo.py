"""``demo``: the whole product on the bundled sandbox, end to end, on 127.0.0.1."""

from __future__ import annotations

import typer

from narcwatch.cli._common import not_available


def register(app: typer.Typer) -> None:
    @app.command(help="Start the sandbox, crawl it, extract, index into SQLite, evaluate alerts, print a summary.")
    def demo(ctx: typer.Context, serve: bool = typer.Option(False, "--serve", help="Keep serving the dashboard afterwards.")) -> None:
        not_available("demo wiring (issue: Foundation)")
