"""The CLI commands and the HTTP API over a real SQLite store (API served by real uvicorn on port 0)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from narcwatch.cli import app
from narcwatch.index.api import search_router
from narcwatch.index.sqlite import SqliteStore

from .conftest import corpus


@pytest.fixture
def filled(data_dir: Path) -> Path:
    store = SqliteStore(data_dir / "store.sqlite")
    store.ingest(corpus())
    store.close()
    return data_dir


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_search_json(filled: Path) -> None:
    code, out, _ = run("search", "class:nitazene AND market:alpha", "--json", "--sort", "-price")
    assert code == 0
    data = json.loads(out)
    assert [h["key"] for h in data["hits"]] == ["alpha:1", "alpha:2"] and data["total"] == 2


def test_search_table_and_bad_query(filled: Path) -> None:
    code, out, _ = run("search", "etonitazene", "--limit", "2")
    assert code == 0 and "3 match(es)" in out
    code, _, err = run("search", "colour:red")
    assert code == 1 and "unknown field 'colour'" in err and "valid fields" in err


def test_vendor_and_listing_history(filled: Path) -> None:
    code, out, _ = run("vendor", "drgreen", "--json")
    assert code == 0 and json.loads(out)["markets"] == ["alpha", "beta"]
    code, out, _ = run("vendor", "DrGreen")
    assert code == 0 and "alpha:1" in out and "wallet:BTC" in out
    code, out, _ = run("listing", "alpha:1", "--history")
    assert code == 0 and "snapshots" in out and "PRICE" not in out and "NEW" in out
    assert run("listing", "nope:1")[0] == 1


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    store = SqliteStore(tmp_path / "store.sqlite")
    store.ingest(corpus())
    web = FastAPI()
    web.include_router(search_router(store), prefix="/api")
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/api"
    server.should_exit = True
    thread.join(10)
    store.close()


@pytest.mark.server
def test_http_api(api: str) -> None:
    with httpx.Client(base_url=api, timeout=10) as c:
        r = c.get("/search", params={"q": "class:nitazene", "facet": ["market"], "limit": 10})
        assert r.status_code == 200
        assert {h["key"] for h in r.json()["hits"]} == {"alpha:1", "alpha:2", "beta:9", "forum:p1"}
        assert r.json()["facets"]["market"][0] == {"value": "alpha", "count": 2}
        bad = c.get("/search", params={"q": "usd_per_gram:<abc"})
        assert bad.status_code == 400 and bad.json()["detail"]["position"] == 14
        assert c.get("/vendors/drgreen").json()["markets"] == ["alpha", "beta"]
        assert c.get("/vendors/nobody").status_code == 404
        assert len(c.get("/listings/alpha:1").json()["snapshots"]) == 1
        assert c.get("/trends", params={"q": "class:nitazene"}).json()["listings_per_week"][0]["count"] == 4
        assert "/api/search" in c.get(api.rsplit("/api", 1)[0] + "/openapi.json").json()["paths"]
