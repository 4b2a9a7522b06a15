"""``GET /metrics`` (Prometheus) and ``GET /api/sources/health`` (per-source health as JSON).

Who may scrape: when the server listens on a loopback address, ``/metrics`` is open (only
processes on this machine reach it: the local Prometheus or node agent). On any other
address it requires ``Authorization: Bearer <token>`` where the token is the secret
``metrics_token`` (``NARCWATCH_SECRET_METRICS_TOKEN`` or the secrets file); without that
secret it answers 403, so a dashboard exposed to a network never leaks source names,
error reasons or alert volumes to anonymous callers. Prometheus sends the token with
``authorization: {credentials: ...}`` in its scrape config.

The health endpoint is part of the authenticated API (analyst role, like ``/api/*``).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from narcwatch.crawler import health, metrics
from narcwatch.crawler.secrets import SecretNotFound, Secrets
from narcwatch.dashboards.auth import Role, Session
from narcwatch.dashboards.security import need
from narcwatch.dashboards.web import ctx

__all__ = ["router"]

router = APIRouter(tags=["operations"])
Analyst = Annotated[Session, Depends(need(Role.ANALYST))]


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _allowed(request: Request) -> tuple[bool, str]:
    server = request.scope.get("server") or (None, None)
    if _loopback(server[0]):
        return True, ""
    try:
        token = Secrets(ctx(request).config.secrets_file).get("metrics_token").get_secret_value()
    except (SecretNotFound, OSError, ValueError):
        return False, "metrics on a non-loopback address need the metrics_token secret"
    auth = request.headers.get("authorization", "")
    given = auth[7:] if auth[:7].lower() == "bearer " else ""
    if given and hmac.compare_digest(given.encode(), token.encode()):
        return True, ""
    return False, "bearer token required"


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics(request: Request) -> Response:
    ok, why = _allowed(request)
    if not ok:
        return Response(why, status_code=403, media_type="text/plain", headers={"WWW-Authenticate": "Bearer"})
    c = ctx(request)
    sources = [s.id for s in c.config.sources] or None
    return Response(generate_latest(metrics.registry(c.data_dir, sources)), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/sources/health")
def sources_health(request: Request, session: Analyst) -> Any:
    """The same record ``narcwatch sources status --json`` prints (without the live Tor probe)."""
    c = ctx(request)
    jobs = c.data_dir / "jobs"
    out = []
    for src in c.config.sources:
        h = health.evaluate(jobs, c.data_dir, src, socks_url=None, interval=_interval(src.schedule), probe=False)
        out.append({**h.to_json(), "ok": h.ok})
    return JSONResponse(out)


def _interval(spec: str) -> float | None:
    from narcwatch.crawler.scheduler import parse_schedule

    try:
        return parse_schedule(spec).seconds
    except ValueError:
        return None
