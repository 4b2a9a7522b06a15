"""The actor panel on the vendor page and analyst confirm/split over a REAL SQLite store
(identity reads the store itself, so the dashboards' test-double store cannot stand in)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dash_helpers import ANALYST, FAST_ARGON2, login
from narcwatch.crawler.config import Config
from narcwatch.crawler.models import Listing, Money, VendorProfile
from narcwatch.dashboards.app import create_app
from narcwatch.extract.models import Extraction, Identifier, IdentifierKind
from narcwatch.index.identity import DecisionStore, decisions_path
from narcwatch.index.sqlite import SqliteStore

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)
PGP = "ABCD1234ABCD1234ABCD1234ABCD1234ABCD1234"


def _listing(source: str, sid: str, vendor: str, title: str) -> Listing:
    return Listing(source=source, site_id=sid, url=f"http://{source}.example/item/{sid}", crawl_id="c1", seen_at=T0,
                   title=title, vendor=vendor, price=Money(amount=Decimal("90"), currency="USD"),
                   capture_id=f"cap-{source}-{sid}", capture_sha256=hashlib.sha256(sid.encode()).hexdigest())


def _pgp() -> Extraction:
    return Extraction(identifiers=[Identifier(start=0, end=1, kind=IdentifierKind.PGP_FINGERPRINT, value=PGP)])


@pytest.fixture
def client(data_dir: Path) -> Iterator[tuple[TestClient, str, object]]:
    store = SqliteStore(data_dir / "store.sqlite")
    store.ingest([
        (_listing("alpha", "1", "NordicPharm", "Protonitazene 1g"), _pgp()),
        (_listing("beta", "2", "<b>frost_owl</b>", "Protonitazene 5g"), _pgp()),  # hostile handle: escaped
        (_listing("beta", "3", "Unrelated", "Cannabis 10g"), None),
        (VendorProfile(source="alpha", url="http://alpha.example/v/n", site_id="v-n", crawl_id="c1", seen_at=T0,
                       handle="NordicPharm", capture_id="cap-v", capture_sha256="c" * 64), None),
    ])
    app = create_app(store, data_dir, Config(data_dir=data_dir), password_hasher=FAST_ARGON2)
    app.state.ctx.accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c, login(c, ANALYST), app
    store.close()


def test_vendor_page_loads_the_actor_panel(client: tuple) -> None:
    c, _, _ = client
    page = c.get("/vendor", params={"handle": "NordicPharm"})
    assert page.status_code == 200 and 'hx-get="/actor/panel?ref=NordicPharm"' in page.text
    panel = c.get("/actor/panel", params={"ref": "NordicPharm"})
    assert panel.status_code == 200
    assert "alpha/nordicpharm" in panel.text and "beta/&lt;b&gt;frost_owl&lt;/b&gt;" in panel.text
    assert "<b>frost_owl</b>" not in panel.text  # scraped text is never markup
    assert "pgp_fingerprint" in panel.text and PGP in panel.text and "1.00" in panel.text  # evidence, confidence
    assert "/listing/evidence?key=alpha%3A1&amp;capture=cap-alpha-1" in panel.text  # provenance of the evidence
    assert "beta/unrelated" not in panel.text


def test_analyst_splits_and_confirms_with_csrf_and_audit(client: tuple, data_dir: Path) -> None:
    c, csrf, app = client
    form = {"a": "alpha/NordicPharm", "b": "beta/<b>frost_owl</b>", "verdict": "split", "note": "key was sold",
            "ref": "NordicPharm"}
    assert c.post("/actor/decision", data=form, follow_redirects=False).status_code == 403  # no CSRF token
    assert c.post("/actor/decision", data={**form, "csrf_token": csrf}, headers={"Origin": "http://evil.test"},
                  follow_redirects=False).status_code == 403
    r = c.post("/actor/decision", data={**form, "csrf_token": csrf}, headers={"Origin": "http://127.0.0.1"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/actor?ref=NordicPharm")
    page = c.get(r.headers["location"])
    assert page.status_code == 200 and "split by ana" in page.text and "key was sold" in page.text
    assert "beta/&lt;b&gt;frost_owl&lt;/b&gt;" in page.text and "(not joined)" in page.text
    with DecisionStore(decisions_path(data_dir)) as ds:
        assert [(d.verdict, d.analyst) for d in ds.all()] == [("split", "ana")]
    r = c.post("/actor/decision", data={"a": "alpha/nordicpharm", "b": "beta/unrelated", "verdict": "confirm",
                                        "csrf_token": csrf, "ref": "NordicPharm"}, follow_redirects=False)
    assert r.status_code == 303
    panel = c.get("/actor/panel", params={"ref": "NordicPharm"}).text
    assert "beta/unrelated" in panel and "confirmed by ana" in panel
    audit = [(e.user, e.action, e.target) for e in app.state.ctx.audit.entries(action="identity_decision")]
    assert ("ana", "identity_decision", "alpha/nordicpharm beta/<b>frost_owl</b>") in audit
    assert ("ana", "identity_decision", "alpha/nordicpharm beta/unrelated") in audit


@pytest.mark.parametrize("form,message", [
    ({"a": "alpha/nordicpharm", "b": "nowhere/x", "verdict": "split"}, "no account"),
    ({"a": "alpha/nordicpharm", "b": "beta/unrelated", "verdict": "maybe"}, "confirm or split"),
])
def test_bad_decisions_are_refused_and_audited(client: tuple, form: dict, message: str) -> None:
    c, csrf, app = client
    r = c.post("/actor/decision", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 400 and message in r.text
    assert app.state.ctx.audit.entries(action="identity_decision_refused")
    assert re.search(r"no actor|Not found", c.get("/actor", params={"ref": "ghost"}).text)
