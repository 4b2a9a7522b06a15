"""Every listing in the ground truth is reachable by following category pages.

Regression: with a partly filled last block of 100 (sizes that are not a multiple of
100), category pages listed the block's first k slots instead of the created ones, so
some listings were in the truth but linked from nowhere.
"""

from __future__ import annotations

import re

import pytest

from narcwatch.sandbox import SandboxServer, World
from narcwatch.sandbox.testing import fetch


@pytest.mark.parametrize("size", [137, 300])
def test_every_truth_listing_is_linked_from_a_category_page(size):
    with SandboxServer(World(seed=7, size=size)) as server:
        src = server.source("velvet-market")
        truth = {r["site_id"] for r in server.truth() if r.get("kind") == "listing" and r["source"] == src.id}
        base = src.base_url.rstrip("/")
        home = fetch(server, src.base_url).body.decode()
        found: set[str] = set()
        for cat in sorted(set(re.findall(r'href="(/category/[a-z_-]+)"', home))):
            page = 1
            while True:
                body = fetch(server, f"{base}{cat}?page={page}").body.decode()
                found |= set(re.findall(r"/listing/(\d+)", body))
                if f"page={page + 1}" not in body or page > 50:
                    break
                page += 1
    assert truth and truth <= found, sorted(truth - found)[:10]
