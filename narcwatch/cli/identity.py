"""``vendor``: a vendor and the actor behind it; ``vendor links`` and ``vendor link confirm|split``.

``narcwatch vendor NAME`` stays what it was (the ``show`` command is the default, so a
handle needs no sub-command); ``vendor links NAME`` lists every link of the actor with
its evidence, confidence and the analyst's decision (who, when); ``vendor link confirm
A B`` / ``vendor link split A B`` record a decision in ``identity.sqlite`` of the data
directory, which wins over the automatic link from then on. A vendor literally named
``links`` or ``link`` is shown with ``vendor show links``.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from typing import Annotated, Any

import click
import typer
from rich.table import Table
from typer.core import TyperGroup

from narcwatch.cli._common import console, echo_data, fail, reading_store, state

__all__ = ["register", "vendor_app"]


class _DefaultShow(TyperGroup):
    """``vendor NAME`` means ``vendor show NAME`` unless NAME is a sub-command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


vendor_app = typer.Typer(cls=_DefaultShow, no_args_is_help=True,
                         help="A vendor and the actor behind it; review the links between accounts.")
link_app = typer.Typer(no_args_is_help=True, help="Confirm or split the link between two accounts (source/handle).")
vendor_app.add_typer(link_app, name="link")


def _resolution(ctx: typer.Context) -> Any:
    from narcwatch.index.identity import resolve_store

    st = state(ctx)
    store = reading_store(ctx)
    try:
        return resolve_store(store, st.data.root)
    except (ValueError, OSError, sqlite3.Error) as exc:
        fail(f"cannot resolve identities: {type(exc).__name__}: {exc}")
    finally:
        store.close()


def _analyst(given: str | None) -> str:
    if given and given.strip():
        return given.strip()
    env = os.environ.get("NARCWATCH_ANALYST", "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _decide(ctx: typer.Context, a: str, b: str, verdict: str, analyst: str | None, note: str) -> None:
    from narcwatch.index.identity import decisions_path
    from narcwatch.index.identity.review import UnknownAccount, record_decision

    res = _resolution(ctx)
    try:
        d = record_decision(decisions_path(state(ctx).data.root), res, a, b, verdict, _analyst(analyst), note)
    except (UnknownAccount, ValueError) as exc:
        fail(str(exc))
    console.print(f"{d.verdict}: {d.a} <-> {d.b} by {d.analyst} at {d.at}", highlight=False)


_ANALYST = typer.Option("--analyst", help="Who decides (default: $NARCWATCH_ANALYST, else the login name).")
_NOTE = typer.Option("--note", "-m", help="Why: kept with the decision.")


@link_app.command("confirm", help="The two accounts are one actor (wins over the automatic result).")
def confirm(ctx: typer.Context, a: Annotated[str, typer.Argument(help="Account: source/handle.")],
            b: Annotated[str, typer.Argument(help="Account: source/handle.")],
            analyst: Annotated[str | None, _ANALYST] = None, note: Annotated[str, _NOTE] = "") -> None:
    _decide(ctx, a, b, "confirmed", analyst, note)


@link_app.command("split", help="The two accounts are different actors (wins over any automatic link).")
def split(ctx: typer.Context, a: Annotated[str, typer.Argument(help="Account: source/handle.")],
          b: Annotated[str, typer.Argument(help="Account: source/handle.")],
          analyst: Annotated[str | None, _ANALYST] = None, note: Annotated[str, _NOTE] = "") -> None:
    _decide(ctx, a, b, "split", analyst, note)


@vendor_app.command("links", help="Every link of the actor behind NAME: evidence, confidence, decision (who, when).")
def links(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Handle, source/handle or actor id.")],
          as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    from narcwatch.index.identity import DecisionStore, decisions_path
    from narcwatch.index.identity.review import link_rows

    res = _resolution(ctx)
    actor = res.actor(name)
    if actor is None:
        fail(f"no account or actor {name!r} in the store")
    path = decisions_path(state(ctx).data.root)
    decisions = []
    if path.exists():
        with DecisionStore(path) as ds:
            decisions = ds.all()
    rows = link_rows(res, actor, decisions)
    if as_json:
        echo_data(json.dumps({"actor": actor.id, "accounts": actor.accounts, "links": [
            {"a": r.a, "b": r.b, "strength": r.strength, "confidence": r.confidence, "joins": r.joins,
             "decision": r.decision, "analyst": r.analyst, "note": r.note, "at": r.at,
             "evidence": [{"kind": e.kind, "value": e.value, "score": e.score,
                           "provenance": [{"key": s.key, "capture_id": s.capture_id, "capture_sha256": s.capture_sha256,
                                           "first_seen": s.first_seen} for s in e.sightings]} for e in r.evidence]}
            for r in rows]}, indent=2, ensure_ascii=False))
        return
    console.print(f"actor {actor.id}: {', '.join(actor.accounts)}", highlight=False)
    t = Table(title=f"{len(rows)} link(s)", title_justify="left")
    for c in ("a", "b", "strength", "confidence", "evidence", "decision"):
        t.add_column(c, overflow="fold")
    for r in rows:
        ev = "; ".join(f"{e.kind}={e.value} ({e.score:g})" for e in r.evidence)
        dec = f"{r.decision} by {r.analyst} {r.at[:19]}" if r.decision else ("joins" if r.joins else "-")
        t.add_row(r.a, r.b, r.strength, f"{r.confidence:.2f}", ev, dec)
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(vendor_app, name="vendor")
