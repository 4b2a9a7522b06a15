"""``export``: STIX 2.1, MISP or CSV of an actor or a query result, with provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from narcwatch.cli._common import console, echo_data, fail, reading_store, state


def register(app: typer.Typer) -> None:
    @app.command(help="Export a query result or actor as STIX 2.1, MISP or CSV with provenance.")
    def export(ctx: typer.Context,
               fmt: Annotated[str, typer.Argument(metavar="stix|misp|csv")],
               query: Annotated[Optional[str], typer.Option("--query", "-q", help="Only accounts and identifiers of listings matching this query.")] = None,
               actor: Annotated[Optional[str], typer.Option("--actor", help="Actor id, account (source/handle) or handle.")] = None,
               out: Annotated[Path, typer.Option("-o", "--output", help="File to write.")] = Path("-"),
               limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 10_000) -> None:
        from narcwatch.index.exports import facts_for, to_csv, to_misp, to_stix
        from narcwatch.index.identity import resolve_store
        from narcwatch.index.query import QueryError

        if fmt not in ("stix", "misp", "csv"):
            fail(f"unknown format {fmt!r}; use stix, misp or csv")
        st = state(ctx)
        store = reading_store(ctx)
        try:
            res = resolve_store(store, st.data.root)
            keys: set[str] | None = None
            actors: set[str] | None = None
            if query:
                try:
                    result = store.search(query, limit=limit)
                except (QueryError, ValueError) as exc:
                    fail(str(exc))
                keys = set(result.keys)
                from narcwatch.index.identity import account_id
                actors = {res.actor_of[a] for a in (account_id(h.doc["source"], h.doc["vendor"])
                                                      for h in result.hits if h.doc.get("vendor")) if a in res.actor_of}
            if actor:
                found = res.actor(actor)
                if found is None:
                    fail(f"no actor or account {actor!r}")
                actors = {found.id} if actors is None else actors & {found.id}
        except ValueError as exc:
            fail(str(exc))
        finally:
            store.close()
        facts = facts_for(res, actors, keys)
        if fmt == "csv":
            text = to_csv(facts)
        elif fmt == "stix":
            text = to_stix(facts).serialize(pretty=True)
        else:
            text = to_misp(facts, info=f"narcwatch export {query or actor or 'all actors'}").to_json(indent=2)
        if str(out) == "-":
            echo_data(text)
        else:
            out.write_text(text, encoding="utf-8")
            console.print(f"wrote {len(facts)} fact(s) as {fmt} to {out}", highlight=False)

    watch = typer.Typer(help="Alert watch-lists from partner intelligence.", no_args_is_help=True)
    app.add_typer(watch, name="watchlist")

    @watch.command("import", help="Import a STIX bundle, MISP event or plain list into alert watch-list files.")
    def watchlist_import(ctx: typer.Context,
                         file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="STIX/MISP JSON or a text list.")],
                         directory: Annotated[Optional[Path], typer.Option("--dir", help="Watch-list folder (default: <data dir>/watchlists).")] = None,
                         prefix: Annotated[str, typer.Option("--prefix", help="File name prefix, e.g. the partner's name.")] = "partner") -> None:
        from narcwatch.index.exports.partner import read_partner_file, write_watchlists

        if not prefix.replace("-", "").replace("_", "").isalnum():
            fail("--prefix may contain letters, digits, - and _ only")
        target = directory or state(ctx).data.root / "watchlists"
        try:
            items = read_partner_file(file)
        except (ValueError, OSError) as exc:
            fail(str(exc))
        if not items:
            fail(f"{file}: no wallet, PGP fingerprint or handle found")
        for kind, (path, added) in write_watchlists(items, target, prefix).items():
            console.print(f"{kind.value}: {added} new value(s) -> {path}", highlight=False)
            console.print(f"  rule: watchlist: {{file: {path}, kind: {kind.value}}}", highlight=False, markup=False)

    @app.command(help="Weekly vendor profiles per active actor (Markdown, HTML or JSON).")
    def report(ctx: typer.Context,
               what: Annotated[str, typer.Argument(metavar="vendors")] = "vendors",
               week: Annotated[bool, typer.Option("--week", help="The 7 days ending --at.")] = True,
               at: Annotated[Optional[str], typer.Option("--at", help="End of the week, ISO date/time (default: now).")] = None,
               fmt: Annotated[str, typer.Option("--format", "-f", help="md, html or json")] = "md",
               out: Annotated[Path, typer.Option("-o", "--output")] = Path("-")) -> None:
        import json
        from datetime import UTC, datetime, timedelta

        from narcwatch.index.identity import resolve_store
        from narcwatch.index.reports import profiles, to_html, to_markdown

        if what != "vendors":
            fail(f"unknown report {what!r}; available: vendors")
        if fmt not in ("md", "html", "json"):
            fail("--format must be md, html or json")
        try:
            end = datetime.fromisoformat(at) if at else datetime.now(UTC)
        except ValueError:
            fail(f"--at {at!r} is not an ISO date or date-time")
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        if at and len(at) == 10:
            end += timedelta(days=1)  # a date means the end of that day
        st = state(ctx)
        store = reading_store(ctx)
        try:
            res = resolve_store(store, st.data.root)
            events = store.events(since=end - timedelta(days=7), limit=1_000_000)
        except ValueError as exc:
            fail(str(exc))
        finally:
            store.close()
        rep = profiles(res, events, end, days=7 if week else 7)
        text = json.dumps(rep, indent=2, ensure_ascii=False) if fmt == "json" else \
            to_html(rep) if fmt == "html" else to_markdown(rep)
        if str(out) == "-":
            echo_data(text)
        else:
            out.write_text(text, encoding="utf-8")
            console.print(f"wrote {len(rep['actors'])} profile(s) to {out}", highlight=False)
