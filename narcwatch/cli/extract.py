"""``extract`` and ``reextract``: the extraction pipeline on text and on the archive."""

from __future__ import annotations

import typer

from narcwatch.cli._common import not_available


def register(app: typer.Typer) -> None:
    @app.command(help="Extract substances, offers, wallets and identifiers from text or JSONL on stdin.")
    def extract(ctx: typer.Context) -> None:
        not_available("extraction (issue: Extraction)")

    @app.command(help="Replay the evidence archive through the current pipeline and update the index.")
    def reextract(ctx: typer.Context) -> None:
        not_available("re-extraction (issue: Extraction)")
