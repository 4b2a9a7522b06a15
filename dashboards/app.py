"""The dashboard app factory: ``create_app(store, data_dir, config) -> FastAPI``.

The composition is explicit: a reader over the store (``reader.as_reader``), the
accounts and audit databases under the data dir, one gate middleware (authentication +
security headers, ``security.gate``), then the route modules. Static files are the
project's own ``dashboards/static`` plus the npm-installed libraries listed in
``assets.VENDOR_FILES`` (nothing else from node_modules is reachable).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, JSONResponse, Response

from narcwatch.crawler.config import Config
from narcwatch.crawler.paths import DataDir
from narcwatch.dashboards.assets import HERE, check_assets
from narcwatch.dashboards.audit import AuditLog
from narcwatch.dashboards.auth import Accounts, Role
from narcwatch.dashboards.reader import as_reader
from narcwatch.dashboards.routes import admin, api, identity, login, metrics, pages
from narcwatch.dashboards.security import gate, need
from narcwatch.dashboards.throttle import LoginThrottle, ThrottlePolicy
from narcwatch.dashboards.views import DashboardReader, NotAvailable
from narcwatch.dashboards.web import AppContext, make_env, render

__all__ = ["create_app", "index_routers"]

log = logging.getLogger(__name__)


def index_routers(store: Any) -> list[APIRouter]:
    """The index engineer's JSON routers (``narcwatch.index.api``), when that module exists."""
    try:
        module = importlib.import_module("narcwatch.index.api")
    except ModuleNotFoundError:
        return []
    for name in ("search_router", "create_router", "make_router", "router_factory"):
        factory = getattr(module, name, None)
        if callable(factory):
            return [factory(store)]
    router = getattr(module, "router", None)
    return [router] if isinstance(router, APIRouter) else []


def _changed_alerts(alert_db: Any) -> Iterator[Any]:
    """Every alert whose status is not ``new``, oldest first, page by page."""
    for status in ("acknowledged", "dismissed"):
        after = 0
        while page := alert_db.alerts(status=status, after_seq=after, limit=1000, newest_first=False):
            for after, alert in page:
                yield alert


def create_app(store: Any, data_dir: Path | DataDir, config: Config | None = None, *,
               reader: DashboardReader | None = None, extra_routers: Sequence[APIRouter] | None = None,
               session_hours: float = 12.0, assets_root: Path | None = None,
               password_hasher: PasswordHasher | None = None) -> FastAPI:
    """Build the app. Raises ``MissingAssets`` when the npm libraries are not installed."""
    vendor = check_assets(assets_root)
    root = data_dir.root if isinstance(data_dir, DataDir) else Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    config = config or Config(data_dir=root)
    dash = config.dashboard
    policy = ThrottlePolicy(max_failures=dash.login_max_failures,
                            max_failures_per_address=dash.login_max_failures_per_address,
                            window=dash.login_window_minutes * 60, lockout=dash.login_lockout_minutes * 60)
    context = AppContext(
        reader=reader or as_reader(store, root), accounts=Accounts(root, session_hours=session_hours, hasher=password_hasher),
        audit=AuditLog(root / "audit.sqlite"), data_dir=root, config=config, env=make_env(), store=store,
        throttle=LoginThrottle(root / "dashboard.sqlite", policy))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        context.accounts.close()
        context.audit.close()
        if context.throttle is not None:
            context.throttle.close()

    if (root / "outbox.sqlite").exists() and hasattr(context.reader, "alert_db"):  # acks the log missed
        if recovered := context.audit.backfill_alert_status(_changed_alerts(context.reader.alert_db)):
            log.warning("audit log: %d alert status change(s) recorded from the outbox", recovered)

    app = FastAPI(title="narcwatch", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  lifespan=lifespan)
    app.state.ctx = context
    app.middleware("http")(gate)

    @app.get("/static/vendor/{name}", include_in_schema=False)
    def vendor_file(name: str) -> Response:
        path = vendor.get(name)
        if path is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (login, pages, admin, api, metrics, identity):
        app.include_router(module.router)
    for router in [*index_routers(store), *(extra_routers or ())]:
        app.include_router(router, prefix="/api/index", dependencies=[Depends(need(Role.ANALYST))])

    @app.exception_handler(NotAvailable)
    def _not_available(request: Request, exc: NotAvailable) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": f"not available yet: {exc}"}, status_code=501)
        return render(request, "error.html", code=501, title="Not available yet", message=str(exc))

    @app.exception_handler(ConnectionError)  # the index is down (search engine unreachable: EngineUnavailable)
    @app.exception_handler(TimeoutError)
    def _store_unavailable(request: Request, exc: Exception) -> Response:
        message = "the index is unavailable right now; try again shortly"
        if request.url.path.startswith("/api/"):
            resp: Response = JSONResponse({"detail": message}, status_code=503)
        else:
            resp = render(request, "error.html", code=503, title="Index unavailable", message=message)
        resp.headers["Retry-After"] = "30"
        return resp

    @app.exception_handler(HTTPException)
    def _http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        titles = {401: "Please log in", 403: "Not allowed", 404: "Not found"}
        return render(request, "error.html", code=exc.status_code, title=titles.get(exc.status_code, "Error"),
                      message=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors())
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": problems}, status_code=422)
        return render(request, "error.html", code=422, title="Bad request", message=problems)

    return app
