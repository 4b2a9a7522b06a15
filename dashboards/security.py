"""Who is asking, may they, and what may the browser do with the answer.

One middleware resolves the caller (session cookie, or ``Authorization: Bearer`` under
``/api``) for every request and refuses anything outside ``PUBLIC_PATHS`` without one:
a route added later is private unless it is listed here. Per-route dependencies
(``need(Role.X)``) check the role and, for state-changing requests made with a session
cookie, the CSRF token and the Origin. Every response carries the strict headers below;
the captured-page view replaces the CSP with ``EVIDENCE_CSP`` (nothing may load, scripts
never run).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from narcwatch.dashboards.auth import Accounts, Role, Session

__all__ = [
    "CSP",
    "COOKIE",
    "EVIDENCE_CSP",
    "PUBLIC_PATHS",
    "PUBLIC_PREFIXES",
    "gate",
    "need",
    "security_headers",
]

COOKIE = "nw_session"
LOGIN_CSRF_COOKIE = "nw_login_csrf"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
EVIDENCE_CSP = "default-src 'none'; sandbox; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

#: (method, path) pairs reachable without logging in. Nothing else is.
PUBLIC_PATHS: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/login"), ("POST", "/login"), ("GET", "/healthz"), ("HEAD", "/healthz"),
    ("GET", "/metrics"),  # checks its own access: loopback, or the metrics_token (routes/metrics.py)
})
PUBLIC_PREFIXES: tuple[str, ...] = ("/static/",)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

BASE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: under no-referrer browsers send "Origin: null" on form
    # POSTs (Fetch spec), so the Origin check refused every plain form of the dashboard.
    # Neither policy ever sends a referrer to another origin.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC_PATHS or (method in _SAFE_METHODS and path.startswith(PUBLIC_PREFIXES))


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and request.url.path.startswith("/api/"):
        return auth[7:]
    return None


def identify(request: Request, accounts: Accounts) -> Session | None:
    """The caller's session: a bearer token under /api, else the session cookie."""
    token = _bearer(request)
    if token is not None:
        user = accounts.token_user(token)
        return Session(user, csrf="", via_token=True) if user else None
    cookie = request.cookies.get(COOKIE)
    return accounts.session(cookie) if cookie else None


def _token_refused(request: Request) -> Response | None:
    """429 while the caller's address is locked for wrong API tokens (checked before the
    token is looked up, so guesses made during a lock learn nothing)."""
    c = request.app.state.ctx
    info = client_info(request)
    if c.throttle is None or (lock := c.throttle.locked(None, info["ip"])) is None:
        return None
    c.audit.record("", "api_token_locked", request.url.path, scope=lock.scope.value, **info)
    wait = lock.retry_after(c.throttle.now())
    return JSONResponse({"detail": f"too many wrong API tokens from this address; retry in {wait} s"},
                        status_code=429, headers={"Retry-After": str(wait)})


def _token_failed(request: Request) -> None:
    c = request.app.state.ctx
    info = client_info(request)
    c.audit.record("", "api_token_failed", request.url.path, **info)
    for started in c.throttle.failure(None, info["ip"]) if c.throttle is not None else ():
        c.audit.record("", "locked_out", started.subject, scope=started.scope.value,
                       until=datetime.fromtimestamp(started.until, timezone.utc).isoformat(timespec="seconds"), **info)


async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Middleware: identify the caller, refuse the anonymous, add security headers.
    Wrong API tokens are audited and throttled per address like failed log-ins."""
    accounts: Accounts = request.app.state.ctx.accounts
    bearer = _bearer(request) is not None
    if bearer and (refused := _token_refused(request)) is not None:
        return security_headers(refused)
    session = identify(request, accounts)
    if bearer and session is None:
        _token_failed(request)
    request.state.session = session
    path = request.url.path
    if session is None and not is_public(request.method, path):
        if path.startswith("/api/") or request.method not in _SAFE_METHODS:
            response: Response = JSONResponse({"detail": "authentication required"}, status_code=401,
                                              headers={"WWW-Authenticate": "Bearer"})
        else:
            target = path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    else:
        response = await call_next(request)
    return security_headers(response, cache=not path.startswith("/static/"))


def security_headers(response: Response, *, cache: bool = True) -> Response:
    for name, value in BASE_HEADERS.items():
        response.headers.setdefault(name, value)
    if cache:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _same_origin(request: Request) -> bool:
    """Browsers send Origin on unsafe requests; it must be us. Sec-Fetch-Site likewise."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or a browser that does not send it: CSRF still applies
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def _csrf_ok(request: Request, session: Session) -> bool:
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent.encode(), session.csrf.encode())


def need(role: Role) -> Callable[[Request], Awaitable[Session]]:
    """Dependency: the caller has ``role``; unsafe cookie requests carry CSRF and our Origin."""

    async def dependency(request: Request) -> Session:
        session: Session | None = getattr(request.state, "session", None)
        if session is None:
            raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
        if not session.user.role.allows(role):
            raise HTTPException(403, f"this needs the {role.value} role")
        if request.method not in _SAFE_METHODS and not session.via_token:
            if not _same_origin(request) or not await _csrf_ok(request, session):
                raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")
        return session

    dependency.__name__ = f"need_{role.value}"
    return dependency


def client_info(request: Request) -> dict[str, Any]:
    return {"ip": request.client.host if request.client else ""}
