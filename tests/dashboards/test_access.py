"""Access control on every route, found by enumerating the app (a route added later is
covered without editing this file): anonymous callers are refused everywhere except the
login and static paths, analysts never reach admin routes, and every state-changing
request made with a session cookie needs the CSRF token and our Origin."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from narcwatch.dashboards.security import CSP, PUBLIC_PATHS, is_public

from dash_helpers import ANALYST, app_routes, login, route_dependencies


def _routes(app: FastAPI) -> list[tuple[str, str, set[str]]]:
    out = []
    for r in app_routes(app):
        if not r.methods:  # the /static mount
            continue
        path = re.sub(r"\{[^}]+\}", "x", r.path)
        for m in sorted(set(r.methods) - {"HEAD"}):
            out.append((m, path, route_dependencies(r)))
    return out


def test_every_route_is_public_or_guarded(app):
    routes = _routes(app)
    assert len(routes) > 25
    assert ("GET", "/api/index/search") in {(m, p) for m, p, _ in routes}  # the index engineer's router
    for method, path, deps in routes:
        if is_public(method, path) or path == "/api/openapi.json":  # the schema: gated by the middleware only
            continue
        assert deps & {"need_analyst", "need_admin"}, f"{method} {path} has no role dependency"


def test_anonymous_is_refused_everywhere(app, anon):
    checked = 0
    for method, path, _ in _routes(app):
        if is_public(method, path):
            continue
        r = anon.request(method, path, follow_redirects=False)
        checked += 1
        if path.startswith("/api/") or method != "GET":
            assert r.status_code == 401, f"{method} {path}: {r.status_code}"
        else:
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), f"{method} {path}"
    assert checked > 20
    for method, path in sorted(PUBLIC_PATHS):
        if method == "GET":
            assert anon.get(path).status_code == 200


def test_static_is_public_and_vendor_files_only(anon):
    assert anon.get("/static/app.js").status_code == 200
    js = anon.get("/static/vendor/chart.umd.min.js")
    assert js.status_code == 200 and "Chart" in js.text[:5000]
    assert anon.get("/static/vendor/htmx.min.js").status_code == 200
    assert anon.get("/static/vendor/package.json").status_code == 404
    for sneaky in ("/static/../auth.py", "/static/%2e%2e/auth.py", "/static/vendor/..%2fauth.py"):
        r = anon.get(sneaky, follow_redirects=False)
        assert r.status_code in (303, 404) and "PasswordHasher" not in r.text, sneaky


def test_analyst_never_reaches_admin_routes(app, analyst):
    client, csrf = analyst
    admin_routes = [(m, p) for m, p, deps in _routes(app) if "need_admin" in deps]
    assert {"/sources", "/admin/users", "/admin/audit", "/admin/rules"} <= {p for _, p in admin_routes}
    for method, path in admin_routes:
        data = {"csrf_token": csrf, "answer": "x", "request_id": "x", "name": "eve", "role": "admin",
                "password": "long enough pw"} if method == "POST" else None
        r = client.request(method, path, data=data, follow_redirects=False)
        assert r.status_code == 403, f"{method} {path}: {r.status_code}"
    # and the nav does not offer them
    assert "/admin/users" not in client.get("/search").text
    assert [u.name for u, _ in app.state.ctx.accounts.users()] == ["ana", "root-admin"]


def test_every_post_needs_csrf_and_origin(app, admin):
    client, csrf = admin
    posts = [p for m, p, deps in _routes(app) if m == "POST" and not is_public(m, p)]
    assert "/alerts/x/status" in posts and "/logout" in posts
    for path in posts:
        body = {"status": "acknowledged"} if path.startswith("/api/") else {"status": "acknowledged", "answer": "a"}
        no_token = (client.post(path, json=body) if path.startswith("/api/")
                    else client.post(path, data=body, follow_redirects=False))
        assert no_token.status_code == 403, f"POST {path} without CSRF: {no_token.status_code}"
        wrong_origin = client.post(path, data={**body, "csrf_token": csrf}, headers={"Origin": "http://evil.test"},
                                   follow_redirects=False)
        assert wrong_origin.status_code == 403, f"POST {path} cross-origin: {wrong_origin.status_code}"
        cross_site = client.post(path, data={**body, "csrf_token": csrf}, headers={"Sec-Fetch-Site": "cross-site"},
                                 follow_redirects=False)
        assert cross_site.status_code == 403


def test_ack_with_csrf_works_and_is_audited(app, analyst):
    client, csrf = analyst
    r = client.post("/alerts/al-1/status", data={"status": "acknowledged", "csrf_token": csrf},
                    headers={"HX-Request": "true", "Origin": "http://127.0.0.1"})
    assert r.status_code == 200 and "acknowledged by ana" in r.text
    header = client.post("/api/alerts/al-2/status", json={"status": "dismissed"}, headers={"X-CSRF-Token": csrf})
    assert header.status_code == 200 and header.json()["status"] == "dismissed"
    actions = [(e.user, e.action, e.target) for e in app.state.ctx.audit.entries(action="alert_status")]
    assert ("ana", "alert_status", "al-1") in actions and ("ana", "alert_status", "al-2") in actions


def test_bearer_tokens(app, anon):
    accounts = app.state.ctx.accounts
    token = accounts.create_token("ana", "script")
    auth = {"Authorization": f"Bearer {token}"}
    r = anon.get("/api/search", params={"q": "cocaine"}, headers=auth)
    assert r.status_code == 200 and r.json()["total"] >= 1
    # tokens need no CSRF (no cookie is involved) but keep the role
    assert anon.post("/api/alerts/al-1/status", json={"status": "acknowledged"}, headers=auth).status_code == 200
    assert anon.get("/api/me", headers=auth).json() == {"user": "ana", "role": "analyst", "via_token": True}
    # a token is for /api only, and a broken or revoked token is refused
    assert anon.get("/search", headers=auth, follow_redirects=False).status_code == 303
    assert anon.get("/api/me", headers={"Authorization": f"Bearer {token[:-1]}x"}).status_code == 401
    accounts.revoke_token(token.split("_")[1])
    assert anon.get("/api/me", headers=auth).status_code == 401
    # the secret is stored hashed: the raw token is nowhere in the database file
    raw = (app.state.ctx.data_dir / "dashboard.sqlite").read_bytes()
    assert token.split("_", 2)[2].encode() not in raw


def test_session_cookie_flags_and_logout(app, anon):
    page = anon.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    r = anon.post("/login", data={"username": ANALYST[0], "password": ANALYST[1], "login_csrf": token},
                  follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "nw_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', anon.get("/account").text).group(1)
    assert anon.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    anon.cookies.set("nw_session", cookie.split(";")[0].split("=", 1)[1])  # replaying the old cookie fails
    assert anon.get("/search", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("form, status", [
    ({"username": "ana", "password": "wrong password"}, 401),
    ({"username": "nobody", "password": "analyst password 1"}, 401),
    ({"username": "ana", "password": "analyst password 1", "login_csrf": "forged"}, 403),
])
def test_failed_logins(app, anon, form, status):
    page = anon.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    r = anon.post("/login", data={"login_csrf": token, **form}, follow_redirects=False)
    assert r.status_code == status
    assert "nw_session" not in r.headers.get("set-cookie", "")
    if status == 401:
        assert app.state.ctx.audit.entries(action="login_failed")[0].user == form["username"]


@pytest.mark.parametrize("target, lands", [
    ("/vendor?handle=NordicChem", "/vendor?handle=NordicChem"),
    ("//evil.test/x", "/search"),
    ("http://evil.test/", "/search"),
    ("/\\evil.test", "/search"),
    ("", "/search"),
])
def test_login_redirects_only_locally(anon, target, lands):
    page = anon.get("/login", params={"next": target})
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    r = anon.post("/login", data={"username": ANALYST[0], "password": ANALYST[1], "login_csrf": token, "next": target},
                  follow_redirects=False)
    assert r.headers["location"] == lands


@pytest.mark.parametrize("path", ["/login", "/static/app.css", "/search?q=cocaine", "/listing?key=nope",
                                  "/api/me", "/definitely-missing"])
def test_security_headers_everywhere(analyst, path):
    client, _ = analyst
    r = client.get(path, follow_redirects=False)
    assert r.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP and "object-src 'none'" in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"  # never a referrer to another origin


def test_create_user_via_admin_page(app, admin):
    client, csrf = admin
    r = client.post("/admin/users", data={"name": "bob", "role": "analyst", "password": "bob's long password",
                                          "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    short = client.post("/admin/users", data={"name": "eve", "role": "analyst", "password": "short", "csrf_token": csrf})
    assert "at least 10 characters" in short.text
    assert app.state.ctx.accounts.user("bob").role.value == "analyst"
    assert app.state.ctx.audit.entries(action="user_add")[0].target == "bob"


def test_missing_front_end_libraries_fail_at_startup(tmp_path, world, config):
    from narcwatch.dashboards.app import create_app
    from narcwatch.dashboards.assets import MissingAssets

    with pytest.raises(MissingAssets, match=r"chart\.umd\.min\.js.*bootstrap\.sh"):
        create_app(world, tmp_path / "d", config, assets_root=tmp_path)
