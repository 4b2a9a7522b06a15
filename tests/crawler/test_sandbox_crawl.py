"""Crawls of the sandbox through its SOCKS proxy: completeness against ground truth, and no leaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import crawl_source
from narcwatch.crawler.spool import Spool

sandbox = pytest.importorskip("narcwatch.sandbox")

pytestmark = [pytest.mark.server, pytest.mark.slow]  # ~40 s: 930 pages through SOCKS


@pytest.fixture(scope="module")
def server():
    with sandbox.SandboxServer(sandbox.World(seed=1)) as srv:
        yield srv


def test_classic_market_leak_free_and_complete(server, tmp_path: Path) -> None:
    src = server.source("velvet-market").as_source()
    cfg = Config(data_dir=tmp_path / "data", tor=TorConfig(socks_url=server.socks_url, control=None))
    data = DataDir.at(tmp_path / "data")
    result = crawl_source(src, cfg, data, crawl_id="leak1", proxy_url=server.socks_url)
    assert server.direct_onion_connections() == []
    assert result.complete, (result.errors, result.health, Path(result.log_file).read_text()[-2000:])
    with Spool(data.spool) as spool:
        listings = [e.payload for e in spool.iter_all("listing")]
        vendors = {e.payload["site_id"] for e in spool.iter_all("vendor")}
    truth = [t for t in server.truth() if t.get("source") == "velvet-market"]
    want = {t["site_id"]: t["fields"] for t in truth if t["kind"] == "listing"}
    assert len(listings) == len({x["site_id"] for x in listings}), "duplicates in the spool"
    assert {x["site_id"] for x in listings} == set(want)
    for x in listings:
        assert x["title"] == want[x["site_id"]]["title"]
        assert x["price"] == {"amount": want[x["site_id"]]["price"], "currency": "USD"}
    assert vendors == {t["site_id"] for t in truth if t["kind"] == "vendor"}
