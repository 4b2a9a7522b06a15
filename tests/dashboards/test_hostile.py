"""Scraped content stays text on every page and in every export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from narcwatch.crawler.models import Listing
from narcwatch.index.documents import parse_iso

from dash_world import XSS_KEY

ACTIVE = ["<script>", "<img src=x", 'onerror="', "<b>EvilVendor</b>"]


@pytest.mark.parametrize("path, params", [
    ("/search", {"q": "Oxy"}), ("/listing", {"key": XSS_KEY}), ("/vendor", {"handle": "<b>EvilVendor</b>"}),
    ("/alerts", {}), ("/listing/evidence", {"key": XSS_KEY, "capture": "cap-666"}),
    ("/search", {"q": "<script>alert(1)</script>"}), ("/vendor", {"handle": "<script>x</script>"}),
])
def test_pages_escape_scraped_text(analyst, path, params):
    client, _ = analyst
    r = client.get(path, params=params)
    assert r.status_code in (200, 404)
    for marker in ACTIVE:
        assert marker not in r.text, f"{marker} unescaped on {path}"
    assert 'href="http://market-b' not in r.text and 'src="http' not in r.text  # scraped URLs are never links


def test_evidence_frame_is_sandboxed(analyst):
    client, _ = analyst
    page = client.get("/listing/evidence", params={"key": XSS_KEY, "capture": "cap-666"}).text
    assert '<iframe class="evidence" sandbox=""' in page and "allow-scripts" not in page
    raw = client.get("/listing/evidence", params={"key": XSS_KEY, "capture": "cap-666", "raw": 1})
    assert raw.headers["content-security-policy"].startswith("default-src 'none'; sandbox")
    assert raw.headers["x-frame-options"] == "SAMEORIGIN"


def test_csv_export_neutralises_formulas_and_is_audited(analyst, world, app):
    client, _ = analyst
    seen = world.listing("market-a:100").snapshots[-1]
    retitled = Listing(source="market-a", site_id="100", url="http://market-a.fictional.onion/item/100",
                       title='=HYPERLINK("http://evil.test","click")', description="Stealth shipping.",
                       crawl_id="crawl-later", seen_at=parse_iso(seen["seen_at"]) + timedelta(days=1),
                       capture_id=seen["capture_id"], capture_sha256=seen["capture_sha256"])
    world.ingest([(retitled, None)])  # a later crawl saw the title changed to a formula
    r = client.get("/search/export.csv", params={"q": "stealth"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    titles = [row["title"] for row in rows]
    assert "'=HYPERLINK(\"http://evil.test\",\"click\")" in titles
    assert not any(t.startswith(("=", "+", "-", "@")) for t in titles)
    entry = app.state.ctx.audit.entries(action="export")[0]
    assert entry.user == "ana" and entry.target == "stealth" and entry.details["rows"] == len(rows)


def test_store_failure_modes_render_not_crash(analyst):
    client, _ = analyst
    assert client.get("/listing", params={"key": "nope:1"}).status_code == 404
    assert client.get("/search", params={"q": "x" * 2000}).status_code == 422
    bad = client.get("/search", params={"q": "nosuchfield:1"})
    assert bad.status_code == 200 and 'id="query-error"' in bad.text
