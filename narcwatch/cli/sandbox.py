"""``sandbox``: the local replica of the world the crawler faces."""

from __future__ import annotations

import typer

from narcwatch.cli._common import not_available

app = typer.Typer(help="Serve the sandbox and write its ground truth.", no_args_is_help=True)


@app.command(help="Serve all sandbox sources on 127.0.0.1 until interrupted.")
def serve(ctx: typer.Context) -> None:
    not_available("sandbox (issue: Sandbox)")


@app.command(help="Write the ground truth of every sandbox page as JSONL.")
def truth(ctx: typer.Context) -> None:
    not_available("sandbox (issue: Sandbox)")
