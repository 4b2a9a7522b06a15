"""A reading command pointed at a data directory with no store says so, instead of
answering "0 matches" from an empty store it made (an investigator would read that as
"never seen"); and the demo's hints name the data directory it filled."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from narcwatch.cli import app
from narcwatch.cli.demo import print_summary
from narcwatch.crawler.models import Listing
from narcwatch.demo import DemoSummary
from narcwatch.extract.models import Extraction
from narcwatch.index.sqlite import SqliteStore

READERS = [
    ["search", "class:nitazene"],
    ["search", "class:nitazene", "--json"],
    ["vendor", "someone"],
    ["vendor", "links", "someone"],
    ["listing", "market:1", "--history"],
    ["export", "csv"],
    ["report", "vendors"],
]


@pytest.mark.parametrize("argv", READERS, ids=lambda a: " ".join(a))
def test_reader_refuses_a_data_dir_without_a_store(tmp_path: Path, argv: list[str]) -> None:
    data = tmp_path / "typo"
    result = CliRunner().invoke(app, ["--data-dir", str(data), *argv])
    assert result.exit_code == 1, result.output
    assert f"no store at {data / 'store.sqlite'}" in " ".join(result.output.split())
    assert "--data-dir" in result.output
    assert not (data / "store.sqlite").exists()  # nothing made up in its place


def test_search_on_an_existing_store_still_answers(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite")
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    store.ingest([(Listing(source="m", site_id="1", url="http://m.example/1", title="Isotonitazene 1g",
                           description="", seen_at=at, crawl_id="c1", capture_id="cap", capture_sha256="0" * 64),
                   Extraction())])
    store.close()
    runner = CliRunner()
    found = runner.invoke(app, ["--data-dir", str(tmp_path), "search", "isotonitazene"])
    assert found.exit_code == 0, found.output
    assert "1 match(es)" in found.output
    none = runner.invoke(app, ["--data-dir", str(tmp_path), "search", "etonitazene"])
    assert none.exit_code == 0 and "0 match(es)" in none.output


@pytest.mark.parametrize(("env", "filled", "prefix"), [
    (None, "narcwatch-data", "narcwatch "),  # the default directory: bare commands find it
    ("elsewhere", "elsewhere", "narcwatch "),  # NARCWATCH_DATA_DIR names it: so do they
    (None, "my case/data", "narcwatch --data-dir '{root}/my case/data' "),
])
def test_demo_hints_name_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                      env: str | None, filled: str, prefix: str) -> None:
    monkeypatch.chdir(tmp_path)
    if env:
        monkeypatch.setenv("NARCWATCH_DATA_DIR", env)
    else:
        monkeypatch.delenv("NARCWATCH_DATA_DIR", raising=False)
    print_summary(DemoSummary(data_dir=str(tmp_path / filled)))
    out = " ".join(capsys.readouterr().out.split())
    hint = prefix.format(root=tmp_path)
    assert f"next: {hint}search 'class:nitazene'" in out
    assert f"{hint}vendor NAME" in out


@pytest.mark.parametrize("command", ["list", "status"])
def test_sources_without_a_config_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    monkeypatch.delenv("NARCWATCH_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "sources", command])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "no sources configured: no config file (pass -c narcwatch.yaml" in out
    assert "┏" not in out  # no empty table that reads as "all quiet"
