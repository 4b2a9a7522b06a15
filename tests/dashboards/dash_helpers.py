"""Users and log-in helpers shared by the dashboard tests."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

# Still argon2id, with small costs: the default profile takes ~0.7 s per hash on the shared
# CI cores and every fixture hashes three passwords. Production uses the library defaults.
FAST_ARGON2 = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
ADMIN = ("root-admin", "correct horse battery")
ANALYST = ("ana", "analyst password 1")



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
