"""OPSEC: crawl credentials and API tokens never appear in logs, errors, evidence, spool,
store or exports.

A sandbox market that requires a login is crawled with credentials from
``NARCWATCH_SECRET_*`` (a thread plays the human who answers the login CAPTCHA, as in
tests/crawler/test_sessions.py), the spool is ingested, and the dashboard is used with a
bearer API token (search, a bad request, a CSV export). Then every file under the data
dir is searched for the secret values, WARC files decompressed first.

Other OPSEC properties and where they are tested:
* no packet to a non-loopback address in any test: ``netguard_plugin`` (this folder);
* an onion request without a configured proxy is refused and counted:
  tests/crawler/test_crawl_local.py::test_onion_request_without_proxy_is_refused_and_counted;
* onion names reach the SOCKS proxy as names (remote DNS), never the resolver: the same
  file's first test (ATYP 3 at the proxy) and the crawl child's resolver guard
  (``crawler.netguard``; test_netguard.py shows a lookup is refused before any query).
  Redirecting the system resolver to a fake DNS server would need changing
  /etc/resolv.conf for the whole machine, which tests must not do;
* the browser sends everything through the proxy: tests/sandbox/test_browser.py
  (``direct_onion_connections() == []``) and, for WebRTC, the STUN probe below;
* the user agent and headers: test_hostile_pipeline.py::test_request_headers_match_the_profile.
"""

from __future__ import annotations

import gzip
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from narcwatch.crawler import captcha, netguard
from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.models import Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import crawl_source
from narcwatch.crawler.spool import Spool
from narcwatch.dashboards.app import create_app
from narcwatch.index import open_store
from narcwatch.ingest import Ingestor
from narcwatch.sandbox import SandboxServer, World

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboards"))
from dash_helpers import ANALYST, FAST_ARGON2  # noqa: E402

pytestmark = [pytest.mark.server, pytest.mark.timeout(600)]

SOURCE = "velvet-market"
PASSWORD = "nw-pass-9f3c1e7a-not-real"
USERNAME = "nwuser-5d2b8c"


class Human(threading.Thread):
    """Answers the login CAPTCHA from the image it names (the sandbox knows what it drew)."""

    def __init__(self, server: SandboxServer, data: Path) -> None:
        super().__init__(daemon=True)
        self.server, self.data, self.stop = server, data, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            for req in captcha.open_requests(self.data):
                m = re.search(r"/captcha/([0-9a-z]{1,40})\.svg", req.image_url or "")
                text = self.server.captcha_answer(req.source, m.group(1)) if m else ""
                captcha.answer(self.data, req.source, req.id, text or "")


def _haystacks(root: Path) -> list[tuple[Path, bytes]]:
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        if path.name.endswith(".gz") or raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError):
                pass
        out.append((path, raw))
    return out


def test_credentials_and_api_tokens_never_leak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NARCWATCH_SECRET_VELVET_USERNAME", USERNAME)
    monkeypatch.setenv("NARCWATCH_SECRET_VELVET_PASSWORD", PASSWORD)
    data = DataDir.at(tmp_path / "data")
    with SandboxServer(World(seed=1, size=120), require_login=True) as server:
        src = server.source(SOURCE).as_source().model_copy(
            update={"concurrency": 8, "autothrottle": False, "credentials": "velvet"})
        cfg = Config(data_dir=data.root, tor=TorConfig(socks_url=server.socks_url, control=None), sources=[src])
        human = Human(server, data.root)
        human.start()
        try:
            result = crawl_source(src, cfg, data, crawl_id="opsec-1", proxy_url=server.socks_url,
                                  extra_settings={"NARCWATCH_CAPTCHA_POLL": 0.05, "NARCWATCH_CAPTCHA_TIMEOUT": 60},
                                  timeout=300)
        finally:
            human.stop.set()
            human.join(5)
    assert result.complete and result.stats.get("narcwatch/session/logins", 0) >= 1, (result.errors, result.health)

    store = open_store(cfg.store, data)
    try:
        with Spool(data.spool) as spool:
            assert Ingestor(spool, store).drain().items > 0
        app = create_app(store, data.root, cfg, password_hasher=FAST_ARGON2)
        app.state.ctx.accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
        token = app.state.ctx.accounts.create_token(ANALYST[0], "opsec-test")
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(app, base_url="http://127.0.0.1") as c:
            assert c.get("/api/search", params={"q": "nitazene"}, headers=auth).status_code == 200
            assert c.get("/api/search", params={"q": "nosuchfield:1"}, headers=auth).status_code in (200, 400, 422)
            assert c.get("/api/search", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
            export = c.get("/search/export.csv", params={"q": "nitazene"}, headers=auth)
            (data.root / "exports").mkdir(exist_ok=True)
            (data.root / "exports" / "export.csv").write_bytes(export.content)
    finally:
        store.close()

    secrets = {"password": PASSWORD.encode(), "api token": token.encode()}
    leaks = [(name, str(path.relative_to(data.root))) for path, raw in _haystacks(data.root)
             for name, value in secrets.items() if value in raw]
    assert leaks == []
    # The run did produce what would carry a leak: logs, evidence, spool, store.
    kinds = {p.relative_to(data.root).parts[0] for p, _ in _haystacks(data.root)}
    assert {"logs", "evidence"} <= kinds, kinds


_WEBRTC_PROBE = """async (url) => {
  const pc = new RTCPeerConnection({iceServers: [{urls: url}]});
  const cands = [];
  pc.onicecandidate = (e) => { if (e.candidate) cands.push(e.candidate.candidate); };
  pc.createDataChannel('probe');
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => setTimeout(r, 3000));
  pc.close();
  return cands;
}"""


def _browser_launch(tmp_path: Path) -> dict:
    """The crawler's own Chromium launch options for a rendered onion source (crawler.settings)."""
    from narcwatch.crawler.models import Network, Source
    from narcwatch.crawler.settings import build_settings

    src = Source(id="webrtc-probe", network=Network.TOR, render_js=True, profile="x",
                 start_urls=["http://abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz2345.onion/"])
    cfg = Config(data_dir=tmp_path / "data", tor=TorConfig(socks_url="socks5h://127.0.0.1:9", control=None))
    launch = dict(build_settings(src, cfg, DataDir.at(tmp_path / "data"), "probe")["PLAYWRIGHT_LAUNCH_OPTIONS"])
    # The handler hands Chromium a local relay to the SOCKS proxy; a closed port stands in for it.
    launch["proxy"] = {"server": "socks5://127.0.0.1:9"}
    return launch


@pytest.mark.browser
@pytest.mark.parametrize("launch_kind, leaks", [("crawler", False), ("plain-chromium-control", True)])
def test_webrtc_sends_no_udp_outside_the_proxy(tmp_path: Path, launch_kind: str, leaks: bool) -> None:
    """A page's RTCPeerConnection asks a STUN server on 127.0.0.2 (a UDP listener here). With
    the crawler's launch options no packet arrives and no candidate is gathered; plain
    Chromium (the control) sends STUN packets, which shows the probe detects a leak."""
    import asyncio
    import socket

    from playwright.async_api import async_playwright

    from narcwatch.crawler.settings import CHROMIUM

    launch = _browser_launch(tmp_path) if launch_kind == "crawler" else {
        "executable_path": CHROMIUM, "headless": True, "args": ["--headless", "--no-sandbox", "--disable-gpu"]}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.2", 0))
        rx.setblocking(False)

        async def probe() -> list[str]:
            async with async_playwright() as p:
                browser = await p.chromium.launch(**launch)
                try:
                    page = await browser.new_page()
                    await page.set_content("<html><body>webrtc probe</body></html>")
                    return await page.evaluate(_WEBRTC_PROBE, f"stun:127.0.0.2:{rx.getsockname()[1]}")
                finally:
                    await browser.close()

        candidates = asyncio.run(probe())
        packets = []
        while True:
            try:
                packets.append(rx.recv(2048))
            except BlockingIOError:
                break
    if leaks:
        assert packets, "control: plain Chromium should have sent STUN packets"
    else:
        assert packets == [] and candidates == []


@pytest.mark.server
def test_crawl_fetches_nothing_from_the_internet_on_a_fresh_machine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, corpus: Any, hostile_server: Any) -> None:
    """Regression: with an empty tldextract cache (a fresh machine, CI), Scrapy's cookie
    middleware resolved publicsuffix.org and raw.githubusercontent.com from the crawl
    process to download the public suffix list, outside Tor. The loopback guard saw it."""
    serve_hostile, profile = hostile_server
    monkeypatch.setenv("TLDEXTRACT_CACHE", str(tmp_path / "empty-tldextract-cache"))
    monkeypatch.delenv("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", raising=False)
    server, state = serve_hostile(corpus, large=False, set_cookie=True)
    try:
        (tmp_path / "profiles").mkdir()
        (tmp_path / "profiles" / "hostile_local.yaml").write_text(profile, encoding="utf-8")
        data = DataDir.at(tmp_path / "data")
        cfg = Config(data_dir=data.root, profiles_dirs=[tmp_path / "profiles"])
        src = Source(id="fresh-machine", profile="hostile_local", start_urls=[state.url], concurrency=4, delay=0.0,
                     autothrottle=False)
        log = Path(os.environ[netguard.LOOPBACK_ENV])
        before = log.read_text(encoding="utf-8") if log.exists() else ""
        result = crawl_source(src, cfg, data, crawl_id="fresh-1", timeout=240)
        after = log.read_text(encoding="utf-8") if log.exists() else ""
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0 and result.pages > 0, result
    assert after[len(before):] == ""
