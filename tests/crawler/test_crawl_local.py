"""End-to-end crawls (subprocess) of a local fictional market through a real SOCKS5 server."""

from __future__ import annotations

from pathlib import Path

import pytest

from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.evidence.verify import Mismatch, verify_archive
from narcwatch.crawler.models import Network, Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import crawl_source
from narcwatch.crawler.spool import Spool

from ._local import ONION, PROFILE, Market, serve_market, serve_socks

pytestmark = pytest.mark.server


@pytest.fixture
def world(tmp_path: Path):
    market = Market(n=25, per_page=10)
    http, port = serve_market(market)
    socks = serve_socks(port)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "localmarket.yaml").write_text(PROFILE)
    cfg = Config(data_dir=tmp_path / "data", profiles_dirs=[profiles],
                 tor=TorConfig(socks_url=socks.url, control=None))
    src = Source(id="localmkt", network=Network.TOR, profile="localmarket", start_urls=[f"http://{ONION}/"])
    yield market, socks, cfg, src, DataDir.at(tmp_path / "data")
    http.shutdown()
    http.server_close()
    assert socks.server is not None
    socks.server.shutdown()
    socks.server.server_close()


def _items(data: DataDir, kind: str = "listing") -> list[dict]:
    with Spool(data.spool) as spool:
        return [e.payload for e in spool.iter_all(kind)]


def test_onion_crawl_goes_through_socks_with_remote_dns_and_archives_evidence(world) -> None:
    market, socks, cfg, src, data = world
    result = crawl_source(src, cfg, data, crawl_id="c1")
    assert result.complete, (result, Path(result.log_file).read_text()[-3000:])
    listings = _items(data)
    assert sorted(int(x["site_id"]) for x in listings) == list(range(1, 26))
    assert all(x["capture_id"] and len(x["capture_sha256"]) == 64 for x in listings)
    assert result.pages == 3 + 25
    # every connection reached the proxy as a name (ATYP 3 = remote DNS), isolated per source
    assert socks.connects and all(h == ONION and atyp == 3 for h, _, _, atyp in socks.connects)
    assert {u for _, _, u, _ in socks.connects} == {"narcwatch-localmkt"}
    outcomes = list(verify_archive(data.evidence))
    assert outcomes and not [o for o in outcomes if isinstance(o, Mismatch)]
    ends = _items(data, "crawl_end")
    assert ends[-1]["complete"] is True and ends[-1]["pages"] == 28


def test_onion_request_without_proxy_is_refused_and_counted(world) -> None:
    market, socks, cfg, src, data = world
    cfg = cfg.model_copy(update={"tor": TorConfig(socks_url="socks5h://127.0.0.1:9", control=None)})
    result = crawl_source(src, cfg, data, crawl_id="c0",
                          extra_settings={"NARCWATCH_SOCKS_URLS": []})
    assert not result.complete
    assert result.errors.get("leak_guard_no_socks_proxy") == 1
    assert market.hits == [] and socks.connects == []
    assert _items(data) == []


def test_recrawl_of_unchanged_market_fetches_only_index_pages(world) -> None:
    market, socks, cfg, src, data = world
    first = crawl_source(src, cfg, data, crawl_id="full")
    hits_full = len(market.hits)
    market.hits.clear()
    market.prices[7] += 5  # one listing changes its index entry
    second = crawl_source(src, cfg, data, crawl_id="incr")
    assert first.complete and second.complete
    assert sorted(market.hits) == sorted(["/", "/?page=2", "/?page=3", "/item/7"])
    assert len(market.hits) <= 0.2 * hits_full
    seen = _items(data, "listing_seen")
    assert len(seen) == 24
    changed = [x for x in _items(data) if x["crawl_id"] == "incr"]
    assert [x["price"]["amount"] for x in changed] == ["112.00"]


def test_redesign_raises_a_health_error_instead_of_an_empty_crawl(world) -> None:
    market, socks, cfg, src, data = world
    market.redesigned = True
    result = crawl_source(src, cfg, data, crawl_id="r1")
    assert not result.complete
    assert any("listing.title" in h and "redesign" in h for h in result.health)
    assert _items(data) == []
