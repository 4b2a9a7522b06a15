"""``evidence``: verify the archive's hashes, show a capture."""

from __future__ import annotations

import typer

from narcwatch.cli._common import not_available

app = typer.Typer(help="Verify and inspect the evidence archive.", no_args_is_help=True)


@app.command(help="Re-hash every archived payload and report any mismatch.")
def verify(ctx: typer.Context) -> None:
    not_available("evidence archive (issue: Crawler)")


@app.command(help="Print what a capture holds and when it was taken.")
def show(ctx: typer.Context, capture: str) -> None:
    not_available("evidence archive (issue: Crawler)")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="evidence", help="Verify the evidence archive and show captures.")
