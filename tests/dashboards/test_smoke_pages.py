"""Every page renders for a logged-in analyst/admin and shows the world's data."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path, expect", [
    ("/search?q=protonitazene", "protonitazene"),
    ("/search?q=class:nitazene", "results"),
    ("/listing?key=market-a:100", "Price history"),
    ("/vendor?handle=GreenLeafPharma", "Markets and channels"),
    ("/alerts", "New nitazene listing"),
    ("/trends", "Ships from"),
    ("/account", "API tokens"),
])
def test_analyst_pages_render(analyst, path, expect):
    client, _ = analyst
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert expect in r.text


@pytest.mark.parametrize("path, expect", [
    ("/sources", "Sources health"),
    ("/admin/users", "Add a user"),
    ("/admin/audit", "hash chain intact"),
    ("/admin/rules", "Alert rules"),
])
def test_admin_pages_render(admin, path, expect):
    client, _ = admin
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert expect in r.text
