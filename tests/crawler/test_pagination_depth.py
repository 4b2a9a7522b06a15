"""A paginated index longer than 50 pages is crawled to its end (Scrapy's depth counts every
"next page"; DEPTH_LIMIT 50 once ended such categories silently at page 50)."""

from __future__ import annotations

from pathlib import Path

import pytest

from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.models import Network, Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import crawl_source
from narcwatch.crawler.spool import Spool

from ._local import ONION, PROFILE, Market, serve_market, serve_socks

pytestmark = pytest.mark.server


def test_pagination_deeper_than_50_pages_is_followed_to_the_end(tmp_path: Path) -> None:
    market = Market(n=70, per_page=1)  # 70 index pages, one listing each
    http, port = serve_market(market)
    socks = serve_socks(port)
    assert socks.server is not None
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "localmarket.yaml").write_text(PROFILE.replace("max_pages: 50", "max_pages: 500"))
    cfg = Config(data_dir=tmp_path / "data", profiles_dirs=[profiles], tor=TorConfig(socks_url=socks.url, control=None))
    src = Source(id="localmkt", network=Network.TOR, profile="localmarket", start_urls=[f"http://{ONION}/"],
                 concurrency=8, delay=0.0)
    data = DataDir.at(tmp_path / "data")
    try:
        result = crawl_source(src, cfg, data, crawl_id="deep", timeout=120)
    finally:
        http.shutdown()
        http.server_close()
        socks.server.shutdown()
        socks.server.server_close()
    assert result.complete, (result, Path(result.log_file).read_text()[-3000:])
    with Spool(data.spool) as spool:
        assert sorted(int(e.payload["site_id"]) for e in spool.iter_all("listing")) == list(range(1, 71))
    assert result.pages == 70 + 70
