"""Access control on every operation of the API's OpenAPI schema (plus the routes the
schema leaves out: pages, the vendor files), over the real SQLite store and outbox.

Each operation is called the way a client following the schema would: path parameters
filled, required query parameters given, a JSON or form body built from the schema, so a
refusal comes from the access check and not from validation. For every one:

* no credentials -> 401 (API, or any state change) or a redirect to /login (pages);
* an analyst (session cookie or bearer token) on an admin operation -> 403;
* a state-changing call with a session cookie but no CSRF token -> 403;
* an admin with a valid token gets no 5xx anywhere, and after every operation has been
  called the audit log's existing entries are unchanged and its hash chain verifies
  (no route edits the log; tampering below the product is caught by ``verify``:
  tests/dashboards/test_audit.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from narcwatch.crawler.config import Config
from narcwatch.crawler.models import Listing, Money
from narcwatch.crawler.paths import DataDir
from narcwatch.dashboards.app import create_app
from narcwatch.dashboards.security import is_public
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.models import Alert, Severity
from narcwatch.index.sqlite import SqliteStore
from narcwatch.ingest import ingest_items
from tests.dashboards.dash_helpers import ADMIN, ANALYST, FAST_ARGON2, app_routes, login, route_dependencies

T0 = datetime(2026, 11, 4, 10, 0, tzinfo=timezone.utc)
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _world(root: Path) -> SqliteStore:
    data = DataDir.at(root)
    data.ensure()
    store = SqliteStore(data.store)
    ingest_items(store, [Listing(source="market-a", site_id=str(i), url=f"http://market.sandbox.test/l/{i}",
                                 crawl_id="c1", seen_at=T0, title=f"Fictional protonitazene tablets {i}",
                                 vendor="fict_vendor_a", price=Money(amount=Decimal(30 + i), currency="USD"),
                                 capture_id=f"cap-{i}", capture_sha256=hashlib.sha256(str(i).encode()).hexdigest())
                         for i in range(3)])
    alerts = [Alert(id=f"al-{i}", rule_id="new-nitazene-listing", rule_name="New nitazene listing",
                    severity=Severity.HIGH, created_at=T0, event_ids=[f"ev-{i}"], summary=f"fictional alert {i}")
              for i in range(3)]
    db = AlertDB(data.outbox)
    db.add_alerts([(a, []) for a in alerts])
    db.close()
    store.save_alerts(alerts)
    return store


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    """A fresh app per test: leaving a TestClient runs the lifespan, which closes the databases."""
    root = tmp_path / "data"
    store = _world(root)
    app = create_app(store, root, Config(data_dir=root), password_hasher=FAST_ARGON2)
    app.state.ctx.accounts.add_user(ADMIN[0], "admin", ADMIN[1])
    app.state.ctx.accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
    yield app
    store.close()


def _sample(schema: dict[str, Any], spec: dict[str, Any], depth: int = 0) -> Any:
    """A minimal valid-looking value for a JSON schema (refs resolved, bounded depth)."""
    if depth > 6:
        return None
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _sample(spec["components"]["schemas"][name], spec, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _sample(options[0], spec, depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _sample(props[k], spec, depth + 1) for k in schema.get("required", []) if k in props}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return "x" * max(1, schema.get("minLength", 1))


class Op:
    def __init__(self, method: str, template: str, path: str, query: dict[str, Any], json_body: Any, form: Any,
                 in_schema: bool, admin: bool):
        self.method, self.template, self.path, self.query = method, template, path, query
        self.json_body, self.form, self.in_schema, self.admin = json_body, form, in_schema, admin

    def __repr__(self) -> str:
        return f"{self.method} {self.template}"

    def call(self, client: TestClient, *, csrf: str | None = None, headers: dict[str, str] | None = None) -> Any:
        headers = dict(headers or {})
        form = self.form
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
            if form is not None:
                form = {**form, "csrf_token": csrf}
        if self.json_body is not None:
            return client.request(self.method, self.path, params=self.query, json=self.json_body, headers=headers,
                                  follow_redirects=False)
        return client.request(self.method, self.path, params=self.query, data=form, headers=headers,
                              follow_redirects=False)


def operations(app: FastAPI) -> list[Op]:
    spec = app.openapi()
    routes = {}
    for r in app_routes(app):
        for m in getattr(r, "methods", None) or ():
            routes[(m, r.path)] = r
    ops: list[Op] = []
    seen: set[tuple[str, str]] = set()
    for template, item in spec["paths"].items():
        for method, op in item.items():
            method = method.upper()
            path_values = {p["name"]: _sample(p.get("schema", {}), spec) for p in op.get("parameters", [])
                           if p["in"] == "path"}
            query = {p["name"]: _sample(p.get("schema", {}), spec) for p in op.get("parameters", [])
                     if p["in"] == "query" and p.get("required")}
            content = op.get("requestBody", {}).get("content", {})
            json_body = _sample(content["application/json"]["schema"], spec) if "application/json" in content else None
            form_schema = content.get("application/x-www-form-urlencoded") or content.get("multipart/form-data")
            form = _sample(form_schema["schema"], spec) if form_schema else None
            path = re.sub(r"\{([^}:]+)(:[^}]*)?\}", lambda m: str(path_values.get(m.group(1), "x")), template)
            route = routes.get((method, template))
            ops.append(Op(method, template, path, query, json_body, form, True,
                          "need_admin" in route_dependencies(route) if route else False))
            seen.add((method, template))
    for (method, template), route in routes.items():  # what the schema leaves out
        if method == "HEAD" or (method, template) in seen:
            continue
        path = re.sub(r"\{[^}]+\}", "x", template)
        form = {"status": "acknowledged", "answer": "a", "name": "eve", "role": "analyst",
                "password": "long enough pw"} if method in STATE_CHANGING else None
        ops.append(Op(method, template, path, {}, None, form, False, "need_admin" in route_dependencies(route)))
    return ops


@pytest.fixture
def ops(app: FastAPI) -> list[Op]:
    return operations(app)


def test_the_schema_is_enumerated(app: FastAPI, ops: list[Op]) -> None:
    in_schema = [o for o in ops if o.in_schema]
    assert len(in_schema) >= 10 and len(ops) > 25
    assert {"GET /api/search", "GET /api/index/search"} <= {repr(o) for o in in_schema}
    assert any(o.admin for o in ops) and any(o.method in STATE_CHANGING for o in in_schema)


def test_unauthenticated_is_refused_on_every_operation(app: FastAPI, ops: list[Op]) -> None:
    with TestClient(app, base_url="http://127.0.0.1") as anon:
        for op in ops:
            if is_public(op.method, op.path) or op.path.startswith("/static/"):
                continue
            r = op.call(anon)
            if op.path.startswith("/api/") or op.method != "GET":
                assert r.status_code == 401, f"{op}: {r.status_code}"
            else:
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), f"{op}: {r.status_code}"
            bogus = op.call(anon, headers={"Authorization": "Bearer not-a-token", "Cookie": "nw_session=forged"})
            assert bogus.status_code in (401, 303), f"{op} with forged credentials: {bogus.status_code}"


def test_analyst_is_refused_on_every_admin_operation(app: FastAPI, ops: list[Op]) -> None:
    admin_ops = [o for o in ops if o.admin]
    assert {"/admin/users", "/admin/audit"} <= {o.template for o in admin_ops}
    token = app.state.ctx.accounts.create_token(ANALYST[0], "access-test")
    with TestClient(app, base_url="http://127.0.0.1") as client:
        csrf = login(client, ANALYST)
        for op in admin_ops:
            r = op.call(client, csrf=csrf if op.method in STATE_CHANGING else None)
            assert r.status_code == 403, f"{op} as analyst: {r.status_code}"
        bearer = TestClient(app, base_url="http://127.0.0.1")  # no cookies; not entered: the lifespan runs once
        for op in admin_ops:
            if op.path.startswith("/api/"):
                r = op.call(bearer, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 403, f"{op} with an analyst token: {r.status_code}"


def test_state_changes_need_the_csrf_token(app: FastAPI, ops: list[Op]) -> None:
    changing = [o for o in ops if o.method in STATE_CHANGING and not is_public(o.method, o.path)]
    assert changing
    with TestClient(app, base_url="http://127.0.0.1") as client:
        login(client, ADMIN)
        for op in changing:
            r = op.call(client)
            assert r.status_code == 403, f"{op} without CSRF: {r.status_code}"
            forged = op.call(client, csrf="forged-token-value")
            assert forged.status_code == 403, f"{op} with a forged CSRF token: {forged.status_code}"


def test_no_operation_edits_the_audit_log(app: FastAPI, ops: list[Op]) -> None:
    audit = app.state.ctx.audit
    with TestClient(app, base_url="http://127.0.0.1") as client:
        csrf = login(client, ADMIN)
        client.get("/api/search", params={"q": "protonitazene"})  # something in the log to protect
        before = [(e.seq, e.user, e.action, e.target, e.details) for e in audit.entries(limit=100_000)]
        assert before
        for op in ops:
            if op.template in ("/logout",):
                continue
            r = op.call(client, csrf=csrf if op.method in STATE_CHANGING else None,
                        headers={"Origin": "http://127.0.0.1"})
            assert r.status_code < 500, f"{op} as admin: {r.status_code} {r.text[:200]}"
        after = [(e.seq, e.user, e.action, e.target, e.details) for e in audit.entries(limit=100_000)]
        ok, bad, n = audit.verify()
    by_seq = {row[0]: row for row in after}
    assert all(by_seq.get(row[0]) == row for row in before)  # appended to, never edited or deleted
    assert len(after) > len(before)  # the calls were audited
    assert ok and bad is None and n == len(after)
