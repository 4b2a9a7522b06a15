"""``search``, ``vendor`` and ``listing``: the query language and histories."""

from __future__ import annotations

import json
import re
import sqlite3
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from narcwatch.cli._common import console, echo_data, fail, reading_store, state, styled, terminal_safe



def _usd(v: object) -> str:
    """A USD amount for a table: cents (the store keeps four decimals for arithmetic)."""
    if v is None or v == "":
        return ""
    try:
        return f"{Decimal(str(v)):,.2f}"
    except ArithmeticError:  # decimal.InvalidOperation: not a number, shown as stored
        return str(v)


def _hl(text: str) -> Text:
    """Scraped text with the store's highlight marks (U+E000 ... U+E001) shown in bold
    yellow; nothing in it read as markup, every part ``terminal_safe``."""
    out, on = Text(), False
    for piece in re.split("([\ue000\ue001])", text):
        if piece in ("\ue000", "\ue001"):
            on = piece == "\ue000"
        elif piece:
            out.append(terminal_safe(piece), style="bold yellow" if on else None)
    return out


def _actor_section(ctx: typer.Context, name: str) -> None:
    """The actor behind the handle: every linked account with the evidence of each link."""
    from narcwatch.index.identity import resolve_store

    st = state(ctx)
    store = reading_store(ctx)  # either backend: identity reads through the store
    try:
        res = resolve_store(store, st.data.root)
    except (ValueError, OSError, sqlite3.Error, ConnectionError) as exc:
        # The vendor report above stands on its own: a failing actor section is a note, not an error.
        console.print(f"actor links unavailable: {type(exc).__name__}: {exc}", highlight=False)
        return
    finally:
        store.close()
    actor = res.actor(name)
    if actor is None:
        return
    t = Table(title=f"actor {actor.id}: {len(actor.accounts)} account(s)", title_justify="left")
    for c in ("account", "first seen", "last seen"):
        t.add_column(c, overflow="fold")
    for aid in actor.accounts:
        a = res.accounts[aid]
        t.add_row(aid, a.first_seen[:10], a.last_seen[:10])
    console.print(t)
    for link in actor.links:
        ev = "; ".join(f"{e.kind}={e.value}" for e in link.evidence)
        console.print(f"  {link.a} <-> {link.b}  {link.strength} {link.confidence:.2f}  {ev}", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command(help="Search listings and posts with the query language, e.g. 'class:nitazene AND usd_per_gram:<50'.")
    def search(ctx: typer.Context,
               query: Annotated[str, typer.Argument(help="Query string, e.g. 'class:nitazene AND usd_per_gram:<50'.")],
               limit: Annotated[int, typer.Option("--limit", "-n", min=0, max=10_000)] = 20,
               sort: Annotated[str | None, typer.Option("--sort", help="relevance, last_seen, price, usd_per_gram, ...; prefix - for descending")] = None,
               as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False) -> None:
        from narcwatch.index.query import QueryError

        store = reading_store(ctx)
        try:
            result = store.search(query, limit=limit, sort=sort)
        except QueryError as exc:
            fail(str(exc))
        except ValueError as exc:
            fail(str(exc))
        finally:
            store.close()
        if as_json:
            echo_data(result.model_dump_json(indent=2))
            return
        table = Table(title=f"{result.total} match(es) for {query!r}", title_justify="left")
        for col in ("key", "title", "vendor", "market", "price", "USD/g", "ships from", "last seen"):
            table.add_column(col, overflow="fold")
        for h in result.hits:
            d = h.doc
            price = f"{d['price']} {d['currency']}" if d.get("price") is not None else ""
            table.add_row(h.key, _hl(h.highlights.get("title") or d.get("title") or ""), d.get("vendor") or "",
                          d["source"], price, _usd(d.get("usd_per_gram")), ",".join(d.get("ships_from") or []),
                          (d.get("last_seen") or "")[:10])
        console.print(table)

    from narcwatch.cli.identity import vendor_app

    @vendor_app.command("show", help="Show a vendor: markets, handles, listings over time, prices, identifiers.")
    def vendor(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Vendor handle or actor id.")],
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        store = reading_store(ctx)
        try:
            report = store.vendor(name)
        finally:
            store.close()
        if report is None:
            fail(f"no vendor {name!r} in the store")
        if as_json:
            echo_data(report.model_dump_json(indent=2))
            return
        console.print(styled((report.name, "bold"), f"  markets: {', '.join(report.markets)}  "
                             f"first seen {report.first_seen}  last seen {report.last_seen}"), highlight=False)
        acc = Table(title="accounts", title_justify="left")
        for c in ("market", "handle", "first seen", "last seen", "capture"):
            acc.add_column(c)
        for a in report.accounts:
            acc.add_row(a["source"], a["handle"], a["first_seen"][:10], a["last_seen"][:10], a["capture_id"])
        console.print(acc)
        lst = Table(title="listings", title_justify="left")
        for c in ("key", "title", "price", "USD/g", "first seen", "last seen"):
            lst.add_column(c, overflow="fold")
        for x in report.listings:
            lst.add_row(x["key"], x["title"], f"{x['price'] or ''} {x['currency'] or ''}", _usd(x["usd_per_gram"]),
                        x["first_seen"][:10], x["last_seen"][:10])
        console.print(lst)
        console.print("listings per week: " + ", ".join(f"{w['week']}={w['listings']}" for w in report.listings_per_week))
        ids = Table(title="identifiers", title_justify="left")
        for c in ("kind", "value", "markets", "first seen", "capture"):
            ids.add_column(c, overflow="fold")
        for i in report.identifiers:
            ids.add_row(i["kind"], i["value"], ",".join(i["sources"]), i["first_seen"][:10], i["capture_id"])
        console.print(ids)
        _actor_section(ctx, name)

    @app.command(help="Show one listing and, with --history, every snapshot of it.")
    def listing(ctx: typer.Context, key: Annotated[str, typer.Argument(help="Listing key (source:site_id).")],
                history: Annotated[bool, typer.Option("--history")] = False,
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        store = reading_store(ctx)
        try:
            h = store.listing(key)
        finally:
            store.close()
        if h is None:
            fail(f"no listing {key!r} in the store")
        if as_json:
            data = h.model_dump(mode="json")
            if not history:
                data.pop("snapshots")
            echo_data(json.dumps(data, indent=2))
            return
        d = h.current
        head = _hl(d["title"])
        head.stylize("bold")
        head.append(f"  ({terminal_safe(d['key'])}, {terminal_safe(d['source'])}, vendor {terminal_safe(d.get('vendor') or '-')})")
        console.print(head, highlight=False)
        console.print(f"first seen {d['first_seen']}  last seen {d['last_seen']}  available {d['available']}", highlight=False)
        if history:
            t = Table(title="snapshots", title_justify="left")
            for c in ("seen at", "crawl", "price", "USD/g", "available", "capture", "sha256"):
                t.add_column(c, overflow="fold")
            for s in h.snapshots:
                t.add_row(s["seen_at"], s["crawl_id"], f"{s['price'] or ''} {s['currency'] or ''}",
                          _usd(s.get("usd_per_gram")), str(s["available"]), s["capture_id"], s["capture_sha256"][:16])
            console.print(t)
            for e in h.events:
                console.print(f"{e['at']}  {e['type']}  {json.dumps(e['details'], ensure_ascii=False)}", highlight=False)
