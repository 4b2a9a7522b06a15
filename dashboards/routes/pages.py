"""Analyst pages: search, listing, evidence, vendor, alerts, trends, account.

Every page that shows intelligence writes an audit entry before it answers.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from narcwatch.dashboards.auth import Role, Session
from narcwatch.dashboards.evidence import read_payload
from narcwatch.dashboards.highlight import query_terms
from narcwatch.dashboards.security import COOKIE, EVIDENCE_CSP, client_info, need
from narcwatch.dashboards.views import SearchPage
from narcwatch.dashboards.web import ctx, render
from narcwatch.index.models import AlertStatus

__all__ = ["router"]

router = APIRouter()
Analyst = Annotated[Session, Depends(need(Role.ANALYST))]
PAGE = 25
MAX_QUERY = 1000
MAX_EXPORT = 5000


#: Facets shown beside the results; counted by a second request the page makes with htmx,
#: so the results never wait for them.
FACETS = ("classes", "source", "ships_from", "vendor")


def run_search(request: Request, q: str, offset: int, sort: str | None, limit: int = PAGE,
               facets: tuple[str, ...] = ()) -> SearchPage:
    """Search through the reader; a bad query becomes a page with the error, not a 500."""
    try:
        page = ctx(request).reader.search_page(q, limit=limit, offset=offset, sort=sort, facets=facets)
    except ValueError as exc:  # the query language's errors (QueryError is a ValueError)
        return SearchPage(query=q, total=0, hits=[], error=str(exc)[:500], offset=offset, limit=limit)
    terms = page.terms or query_terms(q)
    return SearchPage(query=q, total=page.total, hits=page.hits, facets=page.facets, offset=page.offset,
                      limit=page.limit, error=page.error, terms=terms)


@router.get("/", include_in_schema=False)
def home(session: Analyst) -> RedirectResponse:
    return RedirectResponse("/search", status_code=303)


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, session: Analyst, q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
           offset: Annotated[int, Query(ge=0, le=100_000)] = 0, sort: str | None = None) -> Response:
    page = None
    if q.strip():
        page = run_search(request, q, offset, sort)
        ctx(request).audit.record(session.user.name, "search", q, total=page.total, offset=offset,
                                  error=page.error, **client_info(request))
    return render(request, "search.html", q=q, page=page, sort=sort or "")


@router.get("/search/facets", response_class=HTMLResponse)
def search_facets(request: Request, session: Analyst, q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY)],
                  partial: bool = True) -> Response:
    """Facet counts for ``q`` (the search itself was audited by the results page)."""
    page = run_search(request, q, 0, None, limit=0, facets=FACETS)
    return render(request, "_facets.html" if partial else "facets.html", q=q, page=page)


def _csv_cell(value: object) -> str:
    """Spreadsheet-safe: a cell starting with = + - @ (or tab/CR) is prefixed with '."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/search/export.csv")
def export_csv(request: Request, session: Analyst, q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY)]) -> Response:
    page = run_search(request, q, 0, None, limit=MAX_EXPORT)
    if page.error:
        raise HTTPException(400, page.error)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["key", "source", "vendor", "title", "price", "currency", "usd_per_gram", "classes",
                     "substances", "ships_from", "last_seen"])
    for h in page.hits:
        writer.writerow([_csv_cell(v) for v in (
            h.key, h.source, h.vendor, h.title, h.price.amount if h.price else "", h.price.currency if h.price else "",
            h.usd_per_gram, " ".join(h.classes), " ".join(h.substances), " ".join(h.ships_from),
            h.last_seen.isoformat() if h.last_seen else "")])
    ctx(request).audit.record(session.user.name, "export", q, format="csv", rows=len(page.hits), **client_info(request))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="narcwatch-search.csv"'})


def _price_series(view: object) -> dict[str, list[object]]:
    labels: list[str] = []
    price: list[float | None] = []
    per_gram: list[float | None] = []
    currency = ""
    for s in getattr(view, "snapshots", ()):
        labels.append(s.seen_at.strftime("%Y-%m-%d"))
        price.append(float(s.price.amount) if s.price else None)
        per_gram.append(float(s.usd_per_gram) if isinstance(s.usd_per_gram, Decimal) else None)
        currency = s.price.currency if s.price else currency
    return {"labels": labels, "series": [
        {"label": f"price ({currency})" if currency else "price", "data": price},
        {"label": "USD per gram", "data": per_gram},
    ]}


@router.get("/listing", response_class=HTMLResponse)
def listing(request: Request, session: Analyst, key: Annotated[str, Query(min_length=1, max_length=600)]) -> Response:
    c = ctx(request)
    view = c.reader.listing_view(key)
    c.audit.record(session.user.name, "view_listing", key, found=view is not None, **client_info(request))
    if view is None:
        return render(request, "notfound.html", code=404, what="listing", name=key)
    return render(request, "listing.html", view=view, chart=_price_series(view))


@router.get("/listing/evidence", response_class=HTMLResponse)
def evidence(request: Request, session: Analyst, key: Annotated[str, Query(min_length=1, max_length=600)],
             capture: Annotated[str, Query(min_length=1, max_length=200)], raw: bool = False) -> Response:
    """The captured page: as escaped text, or (``raw=1``) for a sandboxed iframe only."""
    c = ctx(request)
    view = c.reader.listing_view(key)
    cap = next((x for x in (view.captures if view else ()) if x.id == capture), None)
    c.audit.record(session.user.name, "view_evidence", capture, listing=key, raw=raw, found=cap is not None,
                   **client_info(request))
    if view is None or cap is None:
        return render(request, "notfound.html", code=404, what="capture", name=capture)
    payload = read_payload(c.data_dir / "evidence", cap)
    if raw:
        body = payload.body if payload else b"capture payload not readable"
        return Response(body, media_type="text/html; charset=utf-8" if payload else "text/plain",
                        headers={"Content-Security-Policy": EVIDENCE_CSP, "X-Frame-Options": "SAMEORIGIN",
                                 "Content-Disposition": "inline"})
    return render(request, "evidence.html", view=view, capture=cap, payload=payload)


@router.get("/vendor", response_class=HTMLResponse)
def vendor(request: Request, session: Analyst, handle: Annotated[str, Query(min_length=1, max_length=300)]) -> Response:
    c = ctx(request)
    view = c.reader.vendor_view(handle)
    c.audit.record(session.user.name, "view_vendor", handle, found=view is not None, **client_info(request))
    if view is None:
        return render(request, "notfound.html", code=404, what="vendor", name=handle)
    return render(request, "vendor.html", view=view)


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request, session: Analyst, status: AlertStatus | None = AlertStatus.NEW) -> Response:
    c = ctx(request)
    rows = c.reader.alert_list(status, limit=500)
    c.audit.record(session.user.name, "view_alerts", status.value if status else "all", rows=len(rows))
    return render(request, "alerts.html", alerts=rows, status=status, statuses=list(AlertStatus))


@router.post("/alerts/{alert_id}/status", response_class=HTMLResponse)
def alert_status(request: Request, session: Analyst, alert_id: str,
                 status: Annotated[AlertStatus, Form()], csrf_token: Annotated[str, Form()] = "") -> Response:
    c = ctx(request)
    alert = c.reader.set_alert_status(alert_id, status, session.user.name)
    c.audit.record(session.user.name, "alert_status", alert_id, status=status.value, found=alert is not None,
                   **client_info(request))
    if alert is None:
        return render(request, "notfound.html", code=404, what="alert", name=alert_id)
    if request.headers.get("hx-request") == "true":
        return render(request, "_alert_row.html", alert=alert)
    return RedirectResponse("/alerts", status_code=303)


@router.get("/trends", response_class=HTMLResponse)
def trends(request: Request, session: Analyst, weeks: Annotated[int, Query(ge=1, le=260)] = 12) -> Response:
    c = ctx(request)
    t = c.reader.trends(weeks)
    c.audit.record(session.user.name, "view_trends", str(weeks))
    chart = {
        "per_class": {"labels": list(t.weeks), "series": [
            {"label": cls, "data": list(counts)} for cls, counts in sorted(t.listings_per_class.items())]},
        "per_gram": {"labels": list(t.weeks), "series": [
            {"label": sub, "data": [float(v) if v is not None else None for v in vals]}
            for sub, vals in sorted(t.usd_per_gram.items())]},
    }
    return render(request, "trends.html", trends=t, chart=chart, weeks=weeks)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, session: Analyst) -> Response:
    return render(request, "account.html", tokens=ctx(request).accounts.tokens(session.user.name), new_token=None)


@router.post("/account/tokens", response_class=HTMLResponse)
def account_token(request: Request, session: Analyst, label: Annotated[str, Form(max_length=100)] = "",
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    c = ctx(request)
    token = c.accounts.create_token(session.user.name, label)
    c.audit.record(session.user.name, "token_create", session.user.name, label=label, **client_info(request))
    return render(request, "account.html", tokens=c.accounts.tokens(session.user.name), new_token=token)


@router.post("/logout")
def logout(request: Request, session: Analyst, csrf_token: Annotated[str, Form()] = "") -> Response:
    c = ctx(request)
    cookie = request.cookies.get(COOKIE)
    if cookie:
        c.accounts.end_session(cookie)
    c.audit.record(session.user.name, "logout", **client_info(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
