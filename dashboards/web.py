"""Shared plumbing for the route modules: the app context and page rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from narcwatch.crawler.config import Config
from narcwatch.dashboards.assets import HERE
from narcwatch.dashboards.audit import AuditLog
from narcwatch.dashboards.auth import Accounts, Role, Session
from narcwatch.dashboards.highlight import segments
from narcwatch.dashboards.throttle import LoginThrottle
from narcwatch.dashboards.views import DashboardReader

__all__ = ["AppContext", "ctx", "make_env", "render"]


@dataclass
class AppContext:
    reader: DashboardReader
    accounts: Accounts
    audit: AuditLog
    data_dir: Path
    config: Config
    env: Environment
    store: Any = None
    throttle: LoginThrottle | None = None  # failed-login locks (create_app always sets one)
    extra: dict[str, Any] = field(default_factory=dict)


def ctx(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


def _money(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else "—"


def make_env() -> Environment:
    """Jinja with autoescape on for every template, whatever its name."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["when"] = _when
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.globals["segments"] = segments
    env.globals["Role"] = Role
    return env


def render(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
    session: Session | None = getattr(request.state, "session", None)
    env = ctx(request).env
    html = env.get_template(template).render(
        request_path=request.url.path, session=session,
        csrf=session.csrf if session else "", user=session.user if session else None, **context)
    return HTMLResponse(html, status_code=code)
