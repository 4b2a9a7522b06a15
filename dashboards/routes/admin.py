"""Admin pages: sources health and CAPTCHA answers, users and tokens, rules, the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from narcwatch.crawler.models import Source
from narcwatch.dashboards import captcha
from narcwatch.dashboards.auth import AuthError, Role, Session
from narcwatch.dashboards.security import client_info, need
from narcwatch.dashboards.views import CrawlStatus
from narcwatch.dashboards.web import ctx, render

__all__ = ["router"]

router = APIRouter()
Admin = Annotated[Session, Depends(need(Role.ADMIN))]
_MAX_RULE_BYTES = 64 * 1024


@dataclass(frozen=True)
class SourceRow:
    id: str
    source: Source | None  # None: a CAPTCHA file for a source the config does not know
    status: CrawlStatus | None
    captcha: captcha.CaptchaRequest | None


def _rows(request: Request) -> list[SourceRow]:
    c = ctx(request)
    waiting = captcha.pending(c.data_dir)
    rows = []
    for src in c.config.sources:
        rows.append(SourceRow(src.id, src, c.reader.crawl_status(src.id), waiting.pop(src.id, None)))
    for sid, req in waiting.items():
        rows.append(SourceRow(sid, None, c.reader.crawl_status(sid), req))
    return rows


@router.get("/sources", response_class=HTMLResponse)
def sources(request: Request, session: Admin, message: str | None = None) -> Response:
    return render(request, "sources.html", rows=_rows(request), message=message)


@router.get("/sources/{source}/captcha")
def captcha_image(request: Request, session: Admin, source: str) -> Response:
    c = ctx(request)
    req = captcha.read_request(c.data_dir, source)
    image = captcha.read_image(c.data_dir, req) if req else None
    if image is None:
        return Response("no CAPTCHA image", status_code=404, media_type="text/plain")
    data, ctype = image
    return Response(data, media_type=ctype, headers={"Content-Security-Policy": "default-src 'none'; sandbox"})


@router.post("/sources/{source}/captcha", response_class=HTMLResponse)
def captcha_answer(request: Request, session: Admin, source: str, request_id: Annotated[str, Form(max_length=64)],
                   answer: Annotated[str, Form(max_length=captcha.MAX_ANSWER)], csrf_token: Annotated[str, Form()] = "") -> Response:
    c = ctx(request)
    req = captcha.read_request(c.data_dir, source)
    if req is None or req.id != request_id:
        return render(request, "sources.html", code=409, rows=_rows(request),
                      message="That CAPTCHA is no longer waiting (answered or replaced); here is the current state.")
    try:
        captcha.write_answer(c.data_dir, req, answer, session.user.name)
    except ValueError as exc:
        return render(request, "sources.html", code=400, rows=_rows(request), message=str(exc))
    c.audit.record(session.user.name, "captcha_answer", source, request_id=req.id, **client_info(request))
    return RedirectResponse("/sources?message=answer+sent", status_code=303)


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, session: Admin, message: str | None = None, new_token: str | None = None) -> Response:
    c = ctx(request)
    return render(request, "users.html", users=c.accounts.users(), tokens=c.accounts.tokens(), message=message,
                  new_token=new_token, roles=list(Role))


@router.post("/admin/users", response_class=HTMLResponse)
def users_add(request: Request, session: Admin, name: Annotated[str, Form(max_length=64)],
              role: Annotated[Role, Form()], password: Annotated[str, Form(max_length=1024)],
              csrf_token: Annotated[str, Form()] = "") -> Response:
    c = ctx(request)
    try:
        c.accounts.add_user(name, role, password)
    except AuthError as exc:
        return users(request, session, message=str(exc))
    c.audit.record(session.user.name, "user_add", name, role=role.value, **client_info(request))
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{name}/disable", response_class=HTMLResponse)
def users_disable(request: Request, session: Admin, name: str, csrf_token: Annotated[str, Form()] = "") -> Response:
    c = ctx(request)
    if name == session.user.name:
        return users(request, session, message="You cannot disable yourself.")
    found = c.accounts.set_disabled(name, True)
    c.audit.record(session.user.name, "user_disable", name, found=found, **client_info(request))
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/tokens/{token_id}/revoke", response_class=HTMLResponse)
def token_revoke(request: Request, session: Admin, token_id: str, csrf_token: Annotated[str, Form()] = "") -> Response:
    c = ctx(request)
    found = c.accounts.revoke_token(token_id)
    c.audit.record(session.user.name, "token_revoke", token_id, found=found, **client_info(request))
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/rules", response_class=HTMLResponse)
def rules(request: Request, session: Admin) -> Response:
    """The configured rule files, read-only (rules are edited in the config repository)."""
    files = []
    for path in ctx(request).config.rules:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read(_MAX_RULE_BYTES)
        except OSError as exc:
            text = f"(cannot read: {exc.strerror})"
        files.append((str(path), text))
    return render(request, "rules.html", files=files)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit(request: Request, session: Admin, user: str | None = None, action: str | None = None,
          before: int | None = None) -> Response:
    c = ctx(request)
    intact, bad, checked = c.audit.verify()
    entries = c.audit.entries(user=user or None, action=action or None, before=before, limit=200)
    c.audit.record(session.user.name, "view_audit", user or "", filter_action=action, **client_info(request))
    return render(request, "audit.html", entries=entries, intact=intact, bad=bad, checked=checked,
                  user_filter=user or "", action_filter=action or "")
