"""Telegram Desktop export import, on the real export in ../shared/data/telegram (read in place)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from narcwatch.cli import app
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.spool import Spool
from narcwatch.spiders.telegram_export import message_text


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("plain", ("plain", []), id="string"),
    pytest.param(["a ", {"type": "link", "text": "http://x.example/"}], ("a http://x.example/", ["http://x.example/"]),
                 id="entity-list"),
    pytest.param(["see ", {"type": "text_link", "text": "here", "href": "http://y.example/"}],
                 ("see here", ["http://y.example/"]), id="text-link"),
    pytest.param([{"bogus": 1}, 5, None], ("", []), id="garbage"),
    pytest.param(None, ("", []), id="none"),
])
def test_message_text(text, expected) -> None:
    assert message_text(text) == expected


def test_import_real_export_is_idempotent_and_cites_a_capture(shared_data: Path, tmp_path: Path) -> None:
    export = shared_data / "telegram" / "trfactsdeals_channel_export_messages.json"
    loaded = json.loads(export.read_text(encoding="utf-8"))
    messages = loaded["messages"] if isinstance(loaded, dict) else loaded
    expected = sum(1 for m in messages if m.get("type") == "message" and message_text(m.get("text"))[0].strip())
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path / "d"), "crawl", "--import-telegram", str(export)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, args)
    assert json.loads(second.output)["new"] == 0
    with Spool(DataDir.at(tmp_path / "d").spool) as spool:
        posts = [e.payload for e in spool.iter_all("post")]
    assert len(posts) == expected > 1000
    assert all(p["capture_id"] and len(p["capture_sha256"]) == 64 for p in posts)
    assert any(p["links"] for p in posts)
    verify = runner.invoke(app, ["--data-dir", str(tmp_path / "d"), "evidence", "verify"])
    assert verify.exit_code == 0 and "2 capture(s) verified, 0 mismatch(es)" in verify.output  # one per import run
    show = runner.invoke(app, ["--data-dir", str(tmp_path / "d"), "evidence", "show", posts[0]["capture_id"][:8]])
    assert show.exit_code == 0 and posts[0]["capture_sha256"] in show.output
