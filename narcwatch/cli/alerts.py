"""``alerts`` and ``rules``: what fired, what is pending delivery, rule dry-runs."""

from __future__ import annotations

import typer

from narcwatch.cli._common import not_available


def register(app: typer.Typer) -> None:
    @app.command(help="List alerts, pending deliveries (--pending) or tail new ones (--follow).")
    def alerts(ctx: typer.Context, pending: bool = typer.Option(False, "--pending"),
               follow: bool = typer.Option(False, "--follow")) -> None:
        not_available("alerting (issue: Alerting)")

    rules = typer.Typer(help="Validate and dry-run alert rules.", no_args_is_help=True)

    @rules.command("test", help="Dry-run rules over stored history and show what they would have fired.")
    def rules_test(ctx: typer.Context) -> None:
        not_available("alert rules (issue: Alerting)")

    app.add_typer(rules, name="rules", help="Validate alert rules and dry-run them over history.")
