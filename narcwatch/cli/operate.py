"""``run`` and ``crawl``: scheduling and crawling sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from narcwatch.cli._common import not_available


def register(app: typer.Typer) -> None:
    @app.command(help="Run the daemon: schedule every source, ingest continuously, deliver alerts.")
    def run(ctx: typer.Context) -> None:
        not_available("operations daemon (issue: Operations, narcwatch run)")

    @app.command(help="Crawl one source now, or import a Telegram Desktop JSON export.")
    def crawl(
        ctx: typer.Context,
        source: Annotated[Optional[str], typer.Argument(help="Source id from the config.")] = None,
        now: Annotated[bool, typer.Option("--now", help="Run immediately instead of on schedule.")] = False,
        import_telegram: Annotated[Optional[Path], typer.Option("--import-telegram", help="Telegram Desktop result.json to import.")] = None,
    ) -> None:
        not_available("crawler (issue: Crawler)")
