"""``run`` and ``crawl``: scheduling and crawling sources."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from narcwatch.cli._common import console, fail, state, styled


def register(app: typer.Typer) -> None:
    @app.command(help="Run the daemon: schedule every source, ingest continuously, deliver alerts.")
    def run(
        ctx: typer.Context,
        max_parallel: Annotated[int, typer.Option("--max-parallel", min=1, help="Crawl processes at once.")] = 4,
        grace: Annotated[float, typer.Option("--grace", min=1, help="Seconds a crawl gets to stop after SIGTERM.")] = 120.0,
        proxy: Annotated[Optional[str], typer.Option("--proxy", help="socks5h:// proxy overriding the config's Tor.")] = None,
        log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning, error.")] = "info",
        health_every: Annotated[float, typer.Option("--health-every", min=1, help="Seconds between health checks.")] = 30.0,
        redis_url: Annotated[Optional[str], typer.Option("--redis", envvar="NARCWATCH_REDIS_URL", help="Scale-out: feed distributable sources to Redis workers and ingest their spools.")] = None,
    ) -> None:
        from narcwatch.crawler import logs
        from narcwatch.crawler.secrets import Secrets
        from narcwatch.daemon import Daemon, DaemonOptions

        st = state(ctx)
        cfg, data = st.config, st.data
        try:
            secret_values = Secrets(cfg.secrets_file).all_values()
        except (OSError, ValueError) as exc:
            fail(f"cannot read the secrets file: {exc}")
        # JSON lines to <data>/logs/run.log and to stderr (journald / docker logs).
        logs.configure(file=data.logs / "run.log", stream=sys.stderr, level=log_level, secrets=secret_values)
        opts = DaemonOptions(max_parallel=max_parallel, grace=grace, proxy_url=proxy, health_every=health_every,
                             redis_url=redis_url or None)
        try:
            code = Daemon(cfg, data, opts).run_forever()
        except ValueError as exc:  # a bad schedule: the operator's to fix, named by source
            fail(str(exc))
        raise typer.Exit(code)

    @app.command(help="Crawl one source now, or import a Telegram Desktop JSON export.")
    def crawl(
        ctx: typer.Context,
        source: Annotated[Optional[str], typer.Argument(help="Source id from the config.")] = None,
        now: Annotated[bool, typer.Option("--now", help="Run immediately instead of on schedule.")] = False,
        import_telegram: Annotated[Optional[Path], typer.Option("--import-telegram", help="Telegram Desktop result.json to import.")] = None,
        crawl_id: Annotated[Optional[str], typer.Option("--crawl-id", help="Resume this crawl (after a kill).")] = None,
        proxy: Annotated[Optional[str], typer.Option("--proxy", help="socks5h:// proxy overriding the config's Tor.")] = None,
        worker: Annotated[bool, typer.Option("--worker", help="Scale-out: crawl the source's shared Redis queue until its round is drained.")] = False,
        feed: Annotated[bool, typer.Option("--feed", help="Scale-out: start a crawl round (start pages into the Redis queue) and exit.")] = False,
        redis_url: Annotated[Optional[str], typer.Option("--redis", envvar="NARCWATCH_REDIS_URL", help="Redis URL for --worker/--feed.")] = None,
    ) -> None:
        st = state(ctx)
        if worker or feed:
            _scale_out(st, source, redis_url, worker=worker, feed=feed, proxy=proxy)
            return
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
        result = _crawl_with_prompt(src, st, crawl_id, proxy)
        from narcwatch.crawler import health

        health.record_crawl(st.data.jobs, result)  # `sources status` and the dashboard see it too
        console.print(json.dumps({k: v for k, v in result.to_json().items() if k != "stats"}, indent=2))
        if not result.complete:
            raise typer.Exit(1)


def _crawl_with_prompt(src, st, crawl_id, proxy):  # type: ignore[no-untyped-def]
    """Run the crawl child; whenever it asks for a CAPTCHA, show the image path and ask the user.

    The crawl pauses that source until the answer file exists; nothing is ever guessed."""
    import tempfile
    import time

    from narcwatch.crawler import captcha
    from narcwatch.crawler.runner import new_crawl_id, read_result, spawn_crawl

    crawl_id = crawl_id or new_crawl_id(src.id)
    with tempfile.TemporaryDirectory(prefix="narcwatch-crawl-") as tmp:
        proc = spawn_crawl(src, st.config, st.data, Path(tmp), crawl_id=crawl_id, proxy_url=proxy)
        asked: set[str] = set()
        while proc.poll() is None:
            for req in captcha.open_requests(st.data.root):
                if req.source != src.id or req.id in asked:
                    continue
                asked.add(req.id)
                console.print(styled(("CAPTCHA", "yellow"), f" on {req.url}"), highlight=False)
                console.print(f"  image: {req.image or '(not saved)'}  (source {req.image_url or '-'})", highlight=False)
                text = typer.prompt("  what does the image say? (empty: leave it for the dashboard)", default="",
                                    show_default=False)
                if text.strip():
                    captcha.answer(st.data.root, req.source, req.id, text)
            time.sleep(0.5)
        return read_result(Path(tmp), src, crawl_id, st.data, proc.returncode)


def _scale_out(st, source, redis_url, *, worker, feed, proxy):  # type: ignore[no-untyped-def]
    """``--feed`` starts a round of SOURCE in Redis; ``--worker`` crawls it with the other workers."""
    from narcwatch.crawler.distributed import feed_source, run_worker

    if source is None or not redis_url:
        fail("--worker/--feed need a SOURCE and --redis URL (or NARCWATCH_REDIS_URL)")
    try:
        src = st.config.source(source)
    except KeyError as exc:
        fail(str(exc.args[0]))
    try:
        if feed:
            fed = feed_source(src, redis_url, config=st.config)
            console.print(json.dumps({"round": fed.round, "fed": fed.fed, "queued": fed.queued}))
        if worker:
            result = run_worker(src, st.config, st.data, redis_url, proxy_url=proxy)
            console.print(json.dumps({k: v for k, v in result.to_json().items() if k != "stats"}, indent=2))
            if result.finish_reason != "finished":
                raise typer.Exit(1)
    except (ValueError, TimeoutError) as exc:
        fail(str(exc))
