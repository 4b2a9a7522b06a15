"""``serve`` and ``users``: the dashboard and HTTP API, and their accounts."""

from __future__ import annotations

import typer

from narcwatch.cli._common import not_available


def register(app: typer.Typer) -> None:
    @app.command(help="Serve the dashboard and HTTP API (127.0.0.1 unless configured otherwise).")
    def serve(ctx: typer.Context) -> None:
        not_available("dashboard and HTTP API (issue: Dashboards)")

    users = typer.Typer(help="Manage dashboard users and API tokens.", no_args_is_help=True)

    @users.command("add", help="Create a user (the first one should be an admin).")
    def users_add(ctx: typer.Context, name: str) -> None:
        not_available("access control (issue: Dashboards)")

    app.add_typer(users, name="users", help="Manage dashboard users and API tokens.")
