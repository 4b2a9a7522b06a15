"""DNS for onion names never reaches a resolver, checked at the resolver itself.

The getaddrinfo-level guard (crawler/netguard.py, tests/reliability/test_netguard.py)
proves Python code cannot ask the system resolver for an onion name; it cannot see a
component with its own DNS client (Chromium has one that reads /etc/resolv.conf and
sends UDP itself). So this test gives a whole crawl a resolver of its own:
``unshare --user --map-root-user --mount --net`` (no root needed) creates a network
namespace with only loopback and a mount namespace where /etc/resolv.conf says
``nameserver 127.0.0.1``; a DNS server on 127.0.0.1:53 records every question. In it
the sandbox serves its onion markets, and the product crawls one HTML market (Scrapy in
a crawl child) and the JavaScript market (Playwright + Chromium), through the sandbox's
SOCKS proxy. The server must record no onion name, while two controls show the wiring
works: a clearnet name and an onion name looked up by the (unguarded) harness both
arrive. The proxy's log shows the onion names arrived there as domain names (ATYP 3:
the sandbox proxy resolves nothing else) and the onion listener saw no direct peer.

Limit: a DNS packet to a non-loopback resolver would fail to route in the namespace
rather than be recorded; the loopback guard of the test suite covers Python code there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.server, pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_dns_netns_child.py"
UNSHARE = ["unshare", "--user", "--map-root-user", "--mount", "--net"]
SOURCES = ("velvet-market", "nebula-market")  # server-rendered onion market; JS market (browser)


def _namespaces_allowed() -> bool:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return False
    try:
        return subprocess.run([*UNSHARE, "ip", "link", "set", "lo", "up"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def netns_crawl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not _namespaces_allowed():
        pytest.skip("unprivileged user+net+mount namespaces are not allowed here (kernel.unprivileged_userns_clone)")
    work = tmp_path_factory.mktemp("dns-netns")
    proc = subprocess.run([*UNSHARE, sys.executable, str(CHILD), str(work), *SOURCES], capture_output=True, text=True,
                          timeout=280, env=os.environ, cwd=HERE.parents[1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_resolver_is_ours(netns_crawl: dict[str, Any]) -> None:
    assert netns_crawl["control_clearnet"], netns_crawl["all_queries"]
    assert netns_crawl["control_onion"], "an unguarded onion lookup must reach the server, or silence proves nothing"


@pytest.mark.parametrize("source", SOURCES)
def test_the_crawl_really_ran_over_onion(netns_crawl: dict[str, Any], source: str) -> None:
    crawl = netns_crawl["crawls"][source]
    assert crawl["network"] == "tor" and crawl["returncode"] == 0
    assert crawl["pages"] >= 5 and crawl["items"] >= 1, crawl


def test_no_onion_name_reached_the_resolver(netns_crawl: dict[str, Any]) -> None:
    leaked = [q for q in netns_crawl["crawl_queries"] if q.rstrip(".").endswith((".onion", ".i2p"))]
    assert leaked == []
    assert netns_crawl["crawl_queries"] == []  # nothing at all: every name went to the proxy


def test_onion_names_went_to_the_proxy_as_names(netns_crawl: dict[str, Any]) -> None:
    assert set(netns_crawl["onion_hosts"]) <= set(netns_crawl["socks_hosts"])
    assert netns_crawl["direct_onion_connections"] == 0
