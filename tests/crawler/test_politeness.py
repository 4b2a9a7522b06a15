"""A crawl keeps to its source's concurrency limit, measured where it matters: at the site.

The sandbox counts requests being answered at once per Host. With a Tor-like latency on
every response, an unbounded crawler would have far more than ``concurrency`` in flight;
the test also requires the limit to be *reached*, so it fails if the crawl ran serially."""

from __future__ import annotations

from pathlib import Path

import pytest
from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import crawl_source

sandbox = pytest.importorskip("narcwatch.sandbox")

pytestmark = [pytest.mark.server, pytest.mark.slow]

SOURCE = "velvet-market"


@pytest.mark.parametrize("limit", [2, 5])
def test_requests_in_flight_at_the_site_never_exceed_the_source_limit(tmp_path: Path, limit: int) -> None:
    faults = sandbox.FaultConfig(throttle_seconds=0.1, only_sources=frozenset({SOURCE}))
    with sandbox.SandboxServer(sandbox.World(seed=3, size=60), faults) as server:
        src = server.source(SOURCE).as_source().model_copy(
            update={"concurrency": limit, "autothrottle": False, "delay": 0.0})
        cfg = Config(data_dir=tmp_path / "data", tor=TorConfig(socks_url=server.socks_url, control=None))
        result = crawl_source(src, cfg, DataDir.at(tmp_path / "data"), crawl_id=f"polite{limit}",
                              proxy_url=server.socks_url, timeout=240)
        host = server.site(SOURCE).host
        assert server.onion_listener is not None
        peak = server.onion_listener.max_in_flight[host]
    assert result.complete, result.errors
    assert result.pages > 4 * limit  # enough pages that a missing limit would show
    assert peak == limit
