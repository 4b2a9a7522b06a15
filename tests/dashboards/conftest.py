"""Dashboard fixtures: a fictional world ingested into the real SQLite store, the app,
users, clients.

The helper modules (``dash_world``, ``dash_index_world``) sit beside this file; the folder
is put on ``sys.path`` because the suite runs with ``--import-mode=importlib``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from narcwatch.crawler.config import Config  # noqa: E402
from narcwatch.crawler.models import Source  # noqa: E402
from narcwatch.dashboards.app import create_app  # noqa: E402
from dash_index_world import build_index  # noqa: E402
from narcwatch.index.sqlite import SqliteStore  # noqa: E402
from dash_helpers import ADMIN, ANALYST, FAST_ARGON2, login  # noqa: E402,F401

@pytest.fixture
def world(data_dir: Path) -> Iterator[SqliteStore]:
    store = build_index(data_dir)
    yield store
    store.close()


@pytest.fixture
def config(data_dir: Path) -> Config:
    return Config(data_dir=data_dir, sources=[
        Source(id="market-a", name="Market A (fictional)", profile="classic_market", start_urls=["http://127.0.0.1:1/"]),
        Source(id="market-b", profile="classic_market", start_urls=["http://127.0.0.1:1/"]),
    ])


@pytest.fixture
def app(world: SqliteStore, data_dir: Path, config: Config) -> FastAPI:
    app = create_app(world, data_dir, config, password_hasher=FAST_ARGON2)
    app.state.ctx.accounts.add_user(*ADMIN[:1], "admin", ADMIN[1])
    app.state.ctx.accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
    return app


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def analyst(app: FastAPI) -> Iterator[tuple[TestClient, str]]:
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c, login(c, ANALYST)


@pytest.fixture
def admin(app: FastAPI) -> Iterator[tuple[TestClient, str]]:
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c, login(c, ADMIN)
