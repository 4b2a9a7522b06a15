"""``demo``: the whole product on the bundled sandbox, end to end, on 127.0.0.1."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer
from rich.table import Table

from narcwatch.cli._common import console, fail, state, styled
from narcwatch.crawler.paths import default_data_dir


def print_summary(summary) -> None:  # type: ignore[no-untyped-def]
    table = Table("source", "kind", "network", "pages", "items", "complete", "errors", title="Crawls")
    for s in summary.sources:
        errors = ", ".join(f"{k}={v}" for k, v in sorted(s["errors"].items())) or "-"
        table.add_row(s["id"], s["kind"], s["network"], str(s["pages"]), str(s["items"]),
                      "yes" if s["complete"] else styled(("no", "red")), errors)
    console.print(table)
    for s in summary.sources:
        for h in s["health"]:
            console.print(styled(("health", "yellow"), f" {s['id']}: {h}"), highlight=False)
    c = summary.counts
    console.print(
        f"\n[bold]{len(summary.sources)}[/bold] sources, [bold]{summary.pages}[/bold] pages, "
        f"[bold]{c.get('listings', 0)}[/bold] listings ({c.get('snapshots', 0)} snapshots), "
        f"[bold]{c.get('posts', 0)}[/bold] posts/messages, [bold]{c.get('vendors', 0)}[/bold] vendors, "
        f"[bold]{c.get('identifiers', 0)}[/bold] identifiers, [bold]{c.get('events', 0)}[/bold] change events, "
        f"[bold]{summary.alerts}[/bold] alerts", highlight=False, markup=True)  # numbers only
    for rule, n in sorted(summary.alerts_by_rule.items()):
        console.print(f"  alert rule {rule}: {n}", highlight=False)
    if summary.ingest_rejected:
        console.print(styled((f"{summary.ingest_rejected} spooled item(s) rejected by ingest", "yellow")))
    if summary.rates_file:
        missing = sum(summary.usd_missing.values())
        unknown = ", ".join(f"{c} ({n})" for c, n in sorted(summary.usd_unknown_currencies.items()))
        console.print(f"rates:     {summary.rates_file}  (the sandbox's fictional rates; "
                      + (f"{missing} price(s) left without USD: {summary.usd_missing}"
                         + (f"; no rates for {unknown}" if unknown else "") + ")" if missing else
                         "every non-USD price converted)"), highlight=False)
    console.print(f"data:      {summary.data_dir}", highlight=False)
    console.print(f"evidence:  {summary.data_dir}/evidence  (narcwatch evidence verify)", highlight=False)
    if summary.dashboard_url:
        console.print(f"dashboard: {summary.dashboard_url}", highlight=False)
    # the commands that read this data directory: a bare ``narcwatch`` reads the default one
    found = Path(summary.data_dir).resolve() == default_data_dir().resolve()
    nw = "narcwatch" if found else f"narcwatch --data-dir {shlex.quote(str(summary.data_dir))}"
    console.print(f"next: {nw} search 'class:nitazene'   ·   {nw} alerts   ·   {nw} vendor NAME", highlight=False)


def _ensure_demo_admin(root) -> None:  # type: ignore[no-untyped-def]
    """A dashboard needs a login: create a one-off ``demo`` admin if nobody exists yet and
    print its password once (it is stored only as an argon2 hash)."""
    import secrets

    from narcwatch.dashboards.auth import Accounts

    accounts = Accounts(root)
    try:
        if accounts.has_users():
            return
        password = secrets.token_urlsafe(12)
        accounts.add_user("demo", "admin", password)
    finally:
        accounts.close()
    console.print(f"dashboard login: demo / {password}   (shown once; add your own with narcwatch users add)",
                  highlight=False)


def register(app: typer.Typer) -> None:
    @app.command(help="Start the sandbox, crawl it, extract, index into SQLite, evaluate alerts, print a summary.")
    def demo(
        ctx: typer.Context,
        serve: bool = typer.Option(False, "--serve", help="Keep serving the dashboard afterwards."),
        seed: int = typer.Option(1, "--seed", help="Sandbox world seed (same seed, same world)."),
        port: int = typer.Option(8765, "--port", min=0, max=65535, help="Dashboard port with --serve (0: any free port)."),
    ) -> None:
        from narcwatch.demo import run_demo
        from narcwatch.extract.rates import RatesFileError

        data = state(ctx).data
        with console.status("starting the sandbox ...") as status:
            try:
                summary = run_demo(data, seed=seed, progress=lambda msg: status.update(msg))
            except RatesFileError as exc:  # a bad file in <data>/rates: named by file and line
                fail(f"unusable rates file(s):\n{exc}")
        print_summary(summary)
        if not serve:
            console.print("dashboard: narcwatch serve   (or narcwatch demo --serve)", highlight=False)
            return
        from narcwatch.cli.serve import run_dashboard

        _ensure_demo_admin(data.root)
        run_dashboard(state(ctx).config, data, port=port)
