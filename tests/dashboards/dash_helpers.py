"""Users and log-in helpers shared by the dashboard tests."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

try:  # FastAPI >= 0.16x keeps included routers as branches; this walks them
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI: app.routes is already flat
    iter_route_contexts = None

# Still argon2id, with small costs: the default profile takes ~0.7 s per hash on the shared
# CI cores and every fixture hashes three passwords. Production uses the library defaults.
FAST_ARGON2 = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
ADMIN = ("root-admin", "correct horse battery")
ANALYST = ("ana", "analyst password 1")


def app_routes(app: FastAPI) -> Iterable[Any]:
    """Every route of ``app``, those of included routers too."""
    return iter_route_contexts(app.routes) if iter_route_contexts else app.routes


def route_dependencies(route: Any) -> set[str]:
    """The names of every dependency ``route`` runs (nested ones too): how a test sees
    which guard (``need_user``, ``need_admin``, ...) protects it."""
    names: set[str] = set()
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant else []
    while stack:
        d = stack.pop()
        if d.call is not None:
            names.add(getattr(d.call, "__name__", ""))
        stack.extend(d.dependencies)
    return names


def login(client: TestClient, user: tuple[str, str]) -> str:
    """Log in through the form; returns the session's CSRF token (read from a page)."""
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token, page.text
    r = client.post("/login", data={"username": user[0], "password": user[1], "login_csrf": token.group(1)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    page = client.get("/account")
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m, page.text
    return m.group(1)
