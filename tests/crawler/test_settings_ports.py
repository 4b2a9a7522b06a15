"""A crawl process opens no listening port: telnet console and remote control are off."""

from __future__ import annotations

from narcwatch.crawler.config import Config
from narcwatch.crawler.models import Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.settings import build_settings


def test_no_control_ports(tmp_path):
    source = Source(id="m", profile="sandbox_classic", start_urls=["http://x.onion/"], network="tor")
    settings = build_settings(source, Config(), DataDir.at(tmp_path), "c1", proxy_url="socks5h://127.0.0.1:9")
    assert settings["TELNETCONSOLE_ENABLED"] is False
    assert settings["REMOTE_CONTROL_ENABLED"] is False
