"""``sources``: list configured sources, validate config and profiles, show health."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from narcwatch.cli._common import console, err_console, not_available, state
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
    problems.sort(key=lambda p: (p.file, p.line or 0))
    for p in problems:
        err_console.print(f"error {p}", highlight=False, markup=False)
    if problems:
        err_console.print(f"{len(problems)} problem(s) found", highlight=False)
        raise typer.Exit(1)
    console.print(f"ok: {len(cfg.sources) if cfg else 0} source(s); config and profiles valid")


@app.command("list", help="List configured sources.")
def list_(ctx: typer.Context) -> None:
    cfg = state(ctx).config
    table = Table("id", "kind", "network", "profile", "schedule", "start")
    for s in cfg.sources:
        table.add_row(s.id, s.kind.value, s.network.value, s.profile, s.schedule, s.start_urls[0])
    console.print(table)


@app.command(help="Show per-source health: last crawl, pages, items, errors, CAPTCHA waits, Tor.")
def status(ctx: typer.Context) -> None:
    not_available("source health (issue: Operations)")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="sources", help="List, validate (check) and inspect the health of sources.")
