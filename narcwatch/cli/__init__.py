"""The ``narcwatch`` command line: the whole product surface in one place.

Each area registers its commands from its own module so the stages stay independent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from narcwatch import __version__
from narcwatch.cli import alerts, demo, evidence, export, extract, operate, search, serve, sources
from narcwatch.cli import identity, index_admin, rates
from narcwatch.cli import sandbox as sandbox_cli
from narcwatch.cli._common import State

app = typer.Typer(
    name="narcwatch",
    help="Open-source intelligence crawler for drug markets: crawl, extract, search, alert.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"narcwatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", envvar="NARCWATCH_DATA_DIR",
                                                     help="Directory holding all state (store, spool, evidence, logs).")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", envvar="NARCWATCH_CONFIG",
                                                   help="YAML config file (sources, store, notifiers, Tor).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    ctx.obj = State(data_dir, config)


for module in (demo, operate, extract, search, identity, alerts, export, evidence, serve, sources, rates):
    module.register(app)
app.add_typer(index_admin.app, name="index", help="Search-engine index administration: apply templates, migrate.")
app.add_typer(sandbox_cli.app, name="sandbox", help="Serve the local replica of markets, forum, channels and shop; write its ground truth.")


def main() -> None:
    app()
