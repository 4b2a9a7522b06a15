"""The actor behind a vendor: every account across markets and channels, each link with
its evidence and confidence, and the analyst's confirm/split on a link.

Deciding is an *analyst* action, not an admin one: the analysts who read the evidence
are the ones who know a shared wallet is an escrow or a sold key, a decision is
reversible (a later one replaces it) and every decision is audited with who, when, the
pair and the note. POSTs need the session's CSRF token and our Origin (``need``).
Resolution is cached per store state and decisions file, so a page view does not
re-resolve the whole store.
"""

from __future__ import annotations

import html
import sqlite3
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from narcwatch.dashboards.auth import Role, Session
from narcwatch.dashboards.security import client_info, need
from narcwatch.dashboards.web import AppContext, ctx, render
from narcwatch.index.identity import DecisionStore, Resolution, decisions_path, resolve_store
from narcwatch.index.identity.review import UnknownAccount, link_rows, record_decision

__all__ = ["router"]

router = APIRouter()
Analyst = Annotated[Session, Depends(need(Role.ANALYST))]
_LOCK = threading.Lock()


def _state(c: AppContext) -> tuple[Any, ...]:
    path = decisions_path(c.data_dir)
    try:
        counts = tuple(sorted(c.store.counts().items())) if c.store is not None else ()
    except Exception:  # noqa: BLE001 - a store that cannot count is simply not cached
        counts = (object(),)
    return counts, path.stat().st_mtime_ns if path.exists() else 0


def _resolution(c: AppContext) -> Resolution:
    key = _state(c)
    with _LOCK:
        cached = c.extra.get("identity")
        if cached is not None and cached[0] == key:
            return cached[1]
        res = resolve_store(c.store, c.data_dir)
        c.extra["identity"] = (key, res)
        return res


def _decisions(c: AppContext) -> list[Any]:
    path = decisions_path(c.data_dir)
    if not path.exists():
        return []
    with DecisionStore(path) as ds:
        return ds.all()


def _panel(request: Request, ref: str) -> dict[str, Any] | None:
    c = ctx(request)
    res = _resolution(c)
    actor = res.actor(ref)
    if actor is None:
        return None
    accounts = [res.accounts[a] for a in actor.accounts]
    return {"actor": actor, "accounts": accounts, "rows": link_rows(res, actor, _decisions(c)), "ref": ref}


@router.get("/actor", response_class=HTMLResponse)
def actor_page(request: Request, session: Analyst, ref: Annotated[str, Query(min_length=1, max_length=300)],
               message: Annotated[str | None, Query(max_length=300)] = None) -> Response:
    c = ctx(request)
    panel = _panel(request, ref)
    c.audit.record(session.user.name, "view_actor", ref, found=panel is not None, **client_info(request))
    if panel is None:
        return render(request, "notfound.html", code=404, what="actor", name=ref)
    return render(request, "actor.html", message=message, **panel)


@router.get("/actor/panel", response_class=HTMLResponse)
def actor_panel(request: Request, session: Analyst, ref: Annotated[str, Query(min_length=1, max_length=300)]) -> Response:
    """The fragment the vendor page loads (htmx): the actor behind the handle."""
    try:
        panel = _panel(request, ref)
    except (ValueError, OSError, sqlite3.Error, ConnectionError) as exc:  # the vendor page stands without it
        return HTMLResponse(f"<p>Actor links unavailable: {html.escape(type(exc).__name__)}</p>")
    if panel is None:
        return HTMLResponse("<p>No actor: this handle has no account in the store.</p>")
    return render(request, "_actor_panel.html", **panel)


@router.post("/actor/decision", response_class=HTMLResponse)
def decide(request: Request, session: Analyst, a: Annotated[str, Form(max_length=300)],
           b: Annotated[str, Form(max_length=300)], verdict: Annotated[str, Form(max_length=16)],
           ref: Annotated[str, Form(max_length=300)] = "", note: Annotated[str, Form(max_length=1000)] = "",
           csrf_token: Annotated[str, Form()] = "") -> Response:
    c = ctx(request)
    try:
        d = record_decision(decisions_path(c.data_dir), _resolution(c), a, b, verdict, session.user.name, note)
    except (UnknownAccount, ValueError) as exc:
        c.audit.record(session.user.name, "identity_decision_refused", f"{a} {b}", verdict=verdict, reason=str(exc),
                       **client_info(request))
        return render(request, "error.html", code=400, title="Decision not recorded", message=str(exc))
    c.audit.record(session.user.name, "identity_decision", f"{d.a} {d.b}", verdict=d.verdict, note=d.note, at=d.at,
                   **client_info(request))
    from urllib.parse import urlencode

    back = urlencode({"ref": ref or d.a, "message": f"{d.verdict}: {d.a} and {d.b}"})
    return RedirectResponse(f"/actor?{back}", status_code=303)
