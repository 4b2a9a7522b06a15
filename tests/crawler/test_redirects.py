"""Markets that redirect their listing links: the crawl still completes, and a resume
fetches nothing it already has.

Before the fix the frontier closed the page under the redirect's *target* fingerprint,
so the scheduled row stayed pending for ever: the crawl was never complete (REMOVED
could never fire for such a market) and every resume fetched the whole site again."""

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


class RedirectingMarket(Market):
    """Index links go to ``/old/N``, which answers 301 to ``/item/N``; with ``alias`` every
    listing is linked twice (``/old/N`` and ``/alt/N``), both redirecting to one page."""

    def __init__(self, n: int, per_page: int, alias: bool = False) -> None:
        super().__init__(n=n, per_page=per_page)
        self.alias = alias

    def page(self, path: str) -> tuple[int, str]:
        if path.startswith(("/old/", "/alt/")):
            self.hits.append(path)
            return 301, "/item/" + path.rsplit("/", 1)[1]
        status, body = super().page(path)
        if self.alias and "<ul>" in body:  # a second row per listing, linking /alt/N
            rows = body.split("<ul>", 1)[1].split("</ul>", 1)[0]
            body = body.replace("</ul>", rows.replace("href='/item/", "href='/alt/") + "</ul>", 1)
        return status, body.replace("href='/item/", "href='/old/")


@pytest.mark.parametrize("alias", [False, True], ids=["redirect", "two-links-one-target"])
def test_redirected_listings_complete_the_crawl_and_are_not_refetched_on_resume(tmp_path: Path, alias: bool) -> None:
    market = RedirectingMarket(n=12, per_page=5, alias=alias)
    http, port = serve_market(market)
    socks = serve_socks(port)
    assert socks.server is not None
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "localmarket.yaml").write_text(PROFILE.replace("/item/\\\\d+$", "/(old|alt|item)/\\\\d+$"))
    cfg = Config(data_dir=tmp_path / "data", profiles_dirs=[profiles], tor=TorConfig(socks_url=socks.url, control=None))
    src = Source(id="localmkt", network=Network.TOR, profile="localmarket", start_urls=[f"http://{ONION}/"],
                 concurrency=4, delay=0.0)
    data = DataDir.at(tmp_path / "data")
    try:
        first = crawl_source(src, cfg, data, crawl_id="r1", timeout=120)
        hits_after_first = len(market.hits)
        again = crawl_source(src, cfg, data, crawl_id="r1", timeout=120)  # resume of a finished crawl
    finally:
        http.shutdown()
        http.server_close()
        socks.server.shutdown()
        socks.server.server_close()
    assert first.complete, (first.errors, Path(first.log_file).read_text()[-3000:])
    with Spool(data.spool) as spool:
        site_ids = [e.payload["site_id"] for e in spool.iter_all("listing")]
    assert sorted(site_ids, key=int) == [str(i) for i in range(1, 13)]
    # the second link of each listing redirects to a page already fetched: its row is done, not pending
    assert first.stats.get("narcwatch/frontier/redirect_to_seen", 0) == (12 if alias else 0)
    assert again.complete
    assert market.hits[hits_after_first:] == []
