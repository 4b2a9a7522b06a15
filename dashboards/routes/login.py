"""Log in. The form is protected by a double-submit token (a cookie and a hidden field)
because there is no session yet to bind a CSRF token to."""

from __future__ import annotations

import hmac
import secrets
import sqlite3
from datetime import datetime, timezone
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from narcwatch.dashboards.security import COOKIE, LOGIN_CSRF_COOKIE, client_info
from narcwatch.dashboards.web import ctx, render

__all__ = ["router", "safe_next"]

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only a local path may follow a login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/search"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/search"


def _login_page(request: Request, error: str | None, next_url: str, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", code=status, error=error, login_csrf=token, next_url=next_url)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=request.url.scheme == "https")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, None, safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=1024)],
          login_csrf: Annotated[str, Form(max_length=100)] = "", next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    c = ctx(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), login_csrf.encode()):
        return _login_page(request, "The form expired; please try again.", safe_next(next), status=403)
    client = client_info(request)
    throttle = c.throttle
    if throttle is not None and (lock := throttle.locked(username, client["ip"])) is not None:
        # refused before the password is checked: a guess made during a lock learns nothing
        c.audit.record(username[:64], "login_locked", scope=lock.scope.value, **client)
        wait = lock.retry_after(throttle.now())
        response = _login_page(request, f"Too many failed log-ins. Try again in {max(1, (wait + 59) // 60)} minute(s).",
                               safe_next(next), status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = c.accounts.authenticate(username, password)
    if user is None:
        c.audit.record(username[:64], "login_failed", **client)
        for started in throttle.failure(username, client["ip"]) if throttle is not None else ():
            c.audit.record(username[:64], "locked_out", started.subject, scope=started.scope.value,
                           until=datetime.fromtimestamp(started.until, timezone.utc).isoformat(timespec="seconds"),
                           **client)
        return _login_page(request, "Wrong user name or password.", safe_next(next), status=401)
    if throttle is not None:
        throttle.success(username)
    value, _ = c.accounts.start_session(user)
    c.audit.record(user.name, "login", role=user.role.value, **client_info(request))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(COOKIE, value, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https", max_age=int(c.accounts.session_ttl.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> Response:
    """Up *and* able to read the index: 503 while the store is unreachable, so a load
    balancer or a compose healthcheck sees an index outage, not a cheerful "ok"."""
    store = ctx(request).store
    if store is not None:
        try:
            store.events(limit=1)  # one cheap read on either backend
        except (ConnectionError, TimeoutError, sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
            return Response(f"index unavailable: {type(exc).__name__}", status_code=503, media_type="text/plain",
                            headers={"Retry-After": "30"})
    return Response("ok", media_type="text/plain")
