"""``sources``: list configured sources, validate config and profiles, show health."""

from __future__ import annotations

import typer
from rich.table import Table

from narcwatch.cli._common import console, err_console, not_available, state
from narcwatch.crawler.config import Config, ConfigError, load_config
from narcwatch.crawler.yamlsource import Problem, load_located

app = typer.Typer(help="List, validate and inspect the configured sources.", no_args_is_help=True)


def _profile_problems(cfg: Config, config_file: str) -> list[Problem]:
    from narcwatch.spiders.profile import ProfileRegistry

    registry = ProfileRegistry(cfg.profiles_dirs)
    problems = list(registry.problems)
    located = load_located(config_file) if cfg.sources else None
    for i, src in enumerate(cfg.sources):
        if src.profile not in registry:
            line = located.line_of(("sources", i, "profile")) if located else None
            problems.append(Problem(config_file, line, f"sources.{i}.profile", "unknown profile", src.profile,
                                    tuple(sorted(registry.names()))))
    return problems


@app.command(help="Validate the config and every site profile; report each error with file and line.")
def check(ctx: typer.Context) -> None:
    st = state(ctx)
    problems: list[Problem] = []
    try:
        cfg = load_config(st.config_path)
    except ConfigError as exc:
        problems += exc.problems
        cfg = None
    except ValueError as exc:
        err_console.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    if cfg is not None:
        problems += _profile_problems(cfg, str(st.config_path or "(defaults)"))
    for p in problems:
        err_console.print(f"[red]error[/red] {p}", highlight=False)
    if problems:
        err_console.print(f"{len(problems)} problem(s) found", highlight=False)
        raise typer.Exit(1)
    console.print(f"ok: {len(cfg.sources)} source(s), config and profiles valid")  # type: ignore[union-attr]


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
