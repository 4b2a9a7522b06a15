"""The JSON API under ``/api``: bearer token or session (with CSRF for changes).

Routers the index engineer provides (``narcwatch.index.api``) are mounted under
``/api/index`` with the same authentication; these endpoints are the dashboard's own
read model, so scripts see exactly what the pages show (and the same audit entries).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request

from narcwatch.dashboards.auth import Role, Session
from narcwatch.dashboards.routes.pages import MAX_QUERY, run_search
from narcwatch.dashboards.security import client_info, need
from narcwatch.dashboards.web import ctx
from narcwatch.index.models import AlertStatus

__all__ = ["router", "to_json"]

router = APIRouter(prefix="/api", tags=["api"])
Analyst = Annotated[Session, Depends(need(Role.ANALYST))]


def to_json(value: Any) -> Any:
    """Views (dataclasses, pydantic models) as JSON-ready data; Decimals as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@router.get("/me")
def me(session: Analyst) -> dict[str, Any]:
    return {"user": session.user.name, "role": session.user.role.value, "via_token": session.via_token}


@router.get("/search")
def search(request: Request, session: Analyst, q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY)],
           offset: Annotated[int, Query(ge=0, le=100_000)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 20,
           sort: str | None = None) -> Any:
    page = run_search(request, q, offset, sort, limit=limit)
    ctx(request).audit.record(session.user.name, "search", q, api=True, total=page.total, error=page.error,
                              **client_info(request))
    if page.error:
        raise HTTPException(400, page.error)
    return to_json(page)


@router.get("/listing")
def listing(request: Request, session: Analyst, key: Annotated[str, Query(min_length=1, max_length=600)]) -> Any:
    view = ctx(request).reader.listing_view(key)
    ctx(request).audit.record(session.user.name, "view_listing", key, api=True, found=view is not None,
                              **client_info(request))
    if view is None:
        raise HTTPException(404, f"no listing {key!r}")
    return to_json(view)


@router.get("/vendor")
def vendor(request: Request, session: Analyst, handle: Annotated[str, Query(min_length=1, max_length=300)]) -> Any:
    view = ctx(request).reader.vendor_view(handle)
    ctx(request).audit.record(session.user.name, "view_vendor", handle, api=True, found=view is not None,
                              **client_info(request))
    if view is None:
        raise HTTPException(404, f"no vendor {handle!r}")
    return to_json(view)


@router.get("/alerts")
def alerts(request: Request, session: Analyst, status: AlertStatus | None = None,
           limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> Any:
    rows = ctx(request).reader.alert_list(status, limit=limit)
    ctx(request).audit.record(session.user.name, "view_alerts", status.value if status else "all", api=True)
    return to_json(rows)


@router.post("/alerts/{alert_id}/status")
def alert_status(request: Request, session: Analyst, alert_id: str,
                 status: Annotated[AlertStatus, Body(embed=True)]) -> Any:
    alert = ctx(request).reader.set_alert_status(alert_id, status, session.user.name)
    ctx(request).audit.record(session.user.name, "alert_status", alert_id, api=True, status=status.value,
                              found=alert is not None, **client_info(request))
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return to_json(alert)


@router.get("/trends")
def trends(request: Request, session: Analyst, weeks: Annotated[int, Query(ge=1, le=260)] = 12) -> Any:
    ctx(request).audit.record(session.user.name, "view_trends", str(weeks), api=True)
    return to_json(ctx(request).reader.trends(weeks))
