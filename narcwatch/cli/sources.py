"""``sources``: list configured sources, validate config and profiles, show health."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from narcwatch.cli._common import console, err_console, state, styled
from narcwatch.crawler.config import check_config
from narcwatch.crawler.yamlsource import LocatedYaml, Problem

app = typer.Typer(help="List, validate and inspect the configured sources.", no_args_is_help=True)


def _profile_problems(doc: LocatedYaml, profiles_dirs: list[Any]) -> list[Problem]:
    """Problems in the site profiles, and sources that name a profile that does not exist."""
    from pathlib import Path

    from narcwatch.spiders.profile import ProfileRegistry

    base = Path(doc.file).resolve().parent
    dirs = [Path(d) if Path(d).is_absolute() else base / d for d in profiles_dirs if isinstance(d, str)]
    registry = ProfileRegistry(dirs)
    problems = list(registry.problems)
    sources = (doc.data or {}).get("sources") if isinstance(doc.data, dict) else None
    for i, raw in enumerate(sources if isinstance(sources, list) else []):
        name = raw.get("profile") if isinstance(raw, dict) else None
        if isinstance(name, str) and name not in registry:
            problems.append(Problem(doc.file, doc.line_of(("sources", i, "profile")), f"sources.{i}.profile",
                                    "unknown profile", name, tuple(registry.names())))
    return problems


def _rates_problems(rates_files: list[Any], data_dir: Any) -> list[Problem]:
    """Every bad row of the rates files ingest would load (configured + <data>/rates/)."""
    from narcwatch.extract.rates import rates_paths, read_rates_file

    return [p for f in rates_paths(rates_files, data_dir) for p in read_rates_file(f)[1]]


@app.command(help="Validate the config and every site profile; report each error with file and line.")
def check(ctx: typer.Context) -> None:
    st = state(ctx)
    if st.config_path is None:
        err_console.print("error: no config file given (--config FILE or NARCWATCH_CONFIG)", highlight=False)
        raise typer.Exit(2)
    cfg, doc, problems = check_config(st.config_path)
    if doc is not None:
        dirs = doc.data.get("profiles_dirs", []) if isinstance(doc.data, dict) else []
        problems += _profile_problems(doc, dirs if isinstance(dirs, list) else [])
    if cfg is not None:
        problems += _rates_problems(cfg.rates_files, cfg.data_dir)
    problems.sort(key=lambda p: (p.file, p.line or 0))
    for p in problems:
        err_console.print(f"error {p}", highlight=False, markup=False)
    if problems:
        err_console.print(f"{len(problems)} problem(s) found", highlight=False)
        raise typer.Exit(1)
    console.print(f"ok: {len(cfg.sources) if cfg else 0} source(s); config and profiles valid")


def _no_sources(ctx: typer.Context) -> None:
    """An empty table reads as "all quiet": say why there is nothing to show."""
    path = state(ctx).config_path
    where = f"the config {path}" if path else "no config file (pass -c narcwatch.yaml or set NARCWATCH_CONFIG)"
    console.print(f"no sources configured: {where}. `narcwatch demo` crawls its own sandbox sources, "
                  "not configured ones; README, 'Pointing it at real sources through Tor', shows a config.",
                  highlight=False)


@app.command("list", help="List configured sources.")
def list_(ctx: typer.Context) -> None:
    cfg = state(ctx).config
    if not cfg.sources:
        _no_sources(ctx)
        return
    table = Table("id", "kind", "network", "profile", "schedule", "start")
    for s in cfg.sources:
        table.add_row(s.id, s.kind.value, s.network.value, s.profile, s.schedule, s.start_urls[0])
    console.print(table)


@app.command(help="Show per-source health: last crawl, pages, items, errors, CAPTCHA waits, Tor.")
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per source, for scripts and monitoring."),
    probe: bool = typer.Option(True, "--probe/--no-probe", help="Check that the Tor SOCKS proxy answers."),
) -> None:
    """Exit 0 when every source is healthy, 1 when any has an operator-visible problem."""
    import json

    from narcwatch.crawler import health
    from narcwatch.crawler.scheduler import parse_schedule

    st = state(ctx)
    cfg, data = st.config, st.data
    if not cfg.sources and not as_json:
        _no_sources(ctx)
        return
    rows = []
    for src in cfg.sources:
        try:
            interval: float | None = parse_schedule(src.schedule).seconds
        except ValueError:
            interval = None
        h = health.evaluate(data.jobs, data.root, src, socks_url=cfg.tor.socks_url, interval=interval, probe=probe)
        if interval is None:
            h.errors.insert(0, f"bad schedule {src.schedule!r}")
        rows.append(h)
    if as_json:
        for h in rows:
            typer.echo(json.dumps({**h.to_json(), "ok": h.ok}))
    else:
        table = Table("source", "state", "last success", "last crawl", "pages", "items", "errors by reason",
                      "tor", "captcha", "problems")
        for h in rows:
            tor = "-" if h.tor_up is None else ("up" if h.tor_up else styled(("DOWN", "red")))
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(h.errors_by_reason.items())) or "-"
            state_txt = styled(("ok", "green"), " (crawling)" if h.in_flight else "") if h.ok else styled(("ERROR", "red"))
            table.add_row(h.source, state_txt, h.last_success_at or "never", h.last_crawl_at or "never",
                          str(h.pages), str(h.items), reasons, tor, str(h.captcha_waiting or "-"),
                          "\n".join(h.errors) or "-")
        console.print(table)
    if any(not h.ok for h in rows):
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sources", help="List, validate (check) and inspect the health of sources.")
