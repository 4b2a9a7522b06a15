"""Config loading: every mistake reported at once, with file, line, value and choices."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from narcwatch.cli import app
from narcwatch.crawler.config import ConfigError, load_config
from narcwatch.crawler.secrets import SecretNotFound, Secrets

GOOD = """\
data_dir: {data}
tor:
  socks_url: socks5h://127.0.0.1:9050
sources:
  - id: market-a
    kind: market
    network: tor
    profile: classic_market
    start_urls: ["http://aaaa.onion/"]
"""

# Three deliberate mistakes: a bad enum (line 5), an onion on clearnet (line 10), a
# non-socks5h proxy (line 3).
BAD = """\
tor:
  socks_url: socks5://127.0.0.1:9050
sources:
  - id: market-a
    kind: bazaar
    profile: classic_market
    start_urls: ["http://aaaa.onion/"]
  - id: market-b
    profile: classic_market
    network: clearnet
    start_urls: ["http://bbbb.onion/"]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "narcwatch.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_config_loads(tmp_path):
    cfg = load_config(write(tmp_path, GOOD.format(data=tmp_path / "d")))
    assert cfg.source("market-a").network == "tor"
    with pytest.raises(KeyError, match="configured sources: market-a"):
        cfg.source("nope")


def test_environment_overrides_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NARCWATCH_STORE__BACKEND", "opensearch")
    monkeypatch.setenv("NARCWATCH_DATA_DIR", str(tmp_path / "elsewhere"))
    cfg = load_config(write(tmp_path, GOOD.format(data=tmp_path / "d")))
    assert cfg.store.backend == "opensearch"
    assert cfg.data_dir == tmp_path / "elsewhere"


def test_schema_errors_carry_lines_and_choices(tmp_path):
    path = write(tmp_path, BAD)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    by_where = {p.where: p for p in info.value.problems}
    assert by_where["sources.0.kind"].line == 5
    assert by_where["sources.0.kind"].value == "bazaar"
    assert "market" in by_where["sources.0.kind"].choices
    assert by_where["tor"].line == 1 and "socks5h" in by_where["tor"].message


def test_sources_check_reports_all_three_mistakes_with_lines(tmp_path):
    # Three deliberate mistakes in one file, all reported in one run: a bad enum,
    # an onion source on clearnet, and a profile that does not exist.
    text = BAD.replace("socks5://", "socks5h://").replace(
        "    profile: classic_market\n    network", "    profile: no_such_profile\n    network")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "classic.yaml").write_text("name: classic_market\nitems: []\n")
    path = write(tmp_path, text + "profiles_dirs: [profiles]\n")
    result = CliRunner().invoke(app, ["--config", str(path), "sources", "check"])
    assert result.exit_code == 1, result.output
    out = result.output
    assert f"{path}:5: sources.0.kind: " in out and "'bazaar'" in out and "valid: market, forum" in out
    assert f"{path}:9: sources.1.profile: unknown profile (got 'no_such_profile')" in out
    assert f"{path}:10: sources.1.network: " in out and "valid: tor, i2p" in out
    assert "3 problem(s) found" in out


def test_semantic_error_onion_on_clearnet(tmp_path):
    text = BAD.replace("kind: bazaar", "kind: market").replace("socks5://", "socks5h://")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    by_line = {p.line: p for p in info.value.problems}
    # market-a leaves network at its clearnet default with an onion start URL; market-b says clearnet.
    assert set(by_line) == {4, 10}
    assert by_line[10].where == "sources.1.network" and "tor" in by_line[10].choices


def test_yaml_syntax_error_has_line(tmp_path):
    with pytest.raises(ValueError, match=r"narcwatch.yaml:3: YAML syntax error"):
        load_config(write(tmp_path, "sources:\n  - id: a\n  bad: [\n"))


def test_secrets_from_env_and_file(tmp_path):
    f = tmp_path / "secrets.yaml"
    f.write_text("market_a: hunter2-file\n")
    os.chmod(f, stat.S_IRUSR | stat.S_IWUSR)
    s = Secrets(f, environ={"NARCWATCH_SECRET_WEBHOOK_KEY": "k-env-123"})
    assert s.get("webhook_key").get_secret_value() == "k-env-123"
    assert s.get("market_a").get_secret_value() == "hunter2-file"
    assert "hunter2" not in repr(s.get("market_a")) and "hunter2" not in str(s.get("market_a"))
    with pytest.raises(SecretNotFound, match="NARCWATCH_SECRET_NOPE"):
        s.get("nope")


def test_world_readable_secrets_file_refused(tmp_path):
    f = tmp_path / "secrets.yaml"
    f.write_text("a: b\n")
    os.chmod(f, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        Secrets(f, environ={}).get("a")
