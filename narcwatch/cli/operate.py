"""``run`` and ``crawl``: scheduling and crawling sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from narcwatch.cli._common import console, fail, not_available, state


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
        crawl_id: Annotated[Optional[str], typer.Option("--crawl-id", help="Resume this crawl (after a kill).")] = None,
        proxy: Annotated[Optional[str], typer.Option("--proxy", help="socks5h:// proxy overriding the config's Tor.")] = None,
    ) -> None:
        st = state(ctx)
        if import_telegram is not None:
            from narcwatch.spiders.telegram_export import import_export

            if not import_telegram.is_file():
                fail(f"no such file: {import_telegram}")
            counts = import_export(import_telegram, st.data, source_id=source or "telegram-import")
            console.print(json.dumps(counts))
            return
        if source is None:
            fail("name a source (see `narcwatch sources list`) or pass --import-telegram FILE")
        if not now:
            fail("scheduled crawling is `narcwatch run`; use --now to crawl immediately")
        try:
            src = st.config.source(source)
        except KeyError as exc:
            fail(str(exc.args[0]))
        from narcwatch.crawler.runner import crawl_source

        result = crawl_source(src, st.config, st.data, crawl_id=crawl_id, proxy_url=proxy)
        console.print(json.dumps({k: v for k, v in result.to_json().items() if k != "stats"}, indent=2))
        if not result.complete:
            raise typer.Exit(1)
