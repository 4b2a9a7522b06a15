"""Scraped text cannot drive the analyst's terminal: control characters and bidi
overrides in a title, vendor handle or identifier reach the screen as visible escapes."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from narcwatch.cli import app
from narcwatch.cli import _common
from narcwatch.cli._common import SafeConsole, echo_data, terminal_safe
from narcwatch.crawler.models import Listing, Money
from narcwatch.extract.models import Extraction
from narcwatch.index.sqlite import SqliteStore

ESC, CSI8, RLO, BEL = "\x1b", "\x9b", "\u202e", "\x07"


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain title", "plain title"),
    ("tab\tand\nnewline kept", "tab\tand\nnewline kept"),
    (f"{ESC}[2Jclear", "\\x1b[2Jclear"),  # clear screen
    (f"{ESC}]0;title{BEL}", "\\x1b]0;title\\x07"),  # retitle the window
    (f"{ESC}]52;c;cGF5bG9hZA=={BEL}", "\\x1b]52;c;cGF5bG9hZA==\\x07"),  # OSC 52: write the clipboard
    (f"{CSI8}31mred", "\\x9b31mred"),  # an 8-bit CSI
    ("back\rspace\x08", "back\\x0dspace\\x08"),
    (f"wallet {RLO}cba", "wallet \\u202ecba"),  # shown reversed without the escape
    ("\u2066isolate\u2069", "\\u2066isolate\\u2069"),
    ("del\x7f", "del\\x7f"),
    ("zero\u200bwidth and ümlaut and 🔥", "zero\u200bwidth and ümlaut and 🔥"),  # printable: as is
    ("", ""),
])
def test_terminal_safe(raw: str, shown: str) -> None:
    assert terminal_safe(raw) == shown


def test_console_renders_cells_titles_and_lines_safely() -> None:
    from rich.table import Table

    buf = io.StringIO()
    c = SafeConsole(file=buf, force_terminal=True, width=120)
    t = Table("title", title=f"for {ESC}[2J")
    t.add_row(f"x{ESC}]0;t{BEL}y")
    c.print(t)
    c.print(f"line {CSI8}2J", markup=False)
    c.print(f"[bold]marked[/bold] {RLO}x")
    out = buf.getvalue()
    for ch in (CSI8, RLO, BEL, "\x1b[2J", "\x1b]0"):
        assert ch not in out
    assert "\\x1b[2J" in out and "\\x1b]0;t\\x07" in out and "\\x9b2J" in out and "\\u202ex" in out
    assert "\x1b[1m" in out  # rich's own styling still reaches the terminal


def test_echo_data_escapes_only_for_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps({"title": f"{CSI8}x"}, ensure_ascii=False)
    monkeypatch.setattr(_common, "_stdout_is_terminal", lambda: False)
    echo_data(text)
    assert capsys.readouterr().out == text + "\n"  # a pipe gets the data as stored
    monkeypatch.setattr(_common, "_stdout_is_terminal", lambda: True)
    echo_data(text)
    assert capsys.readouterr().out == text.replace(CSI8, "\\x9b") + "\n"


def test_search_vendor_and_listing_show_hostile_text_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common.console, "_width", 300)  # no cell folded across lines
    store = SqliteStore(tmp_path / "store.sqlite")
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    store.ingest([(Listing(source="m", site_id="1", url="http://m.example/1",
                           title=f"isotonitazene {ESC}]52;c;AAAA{BEL}{ESC}[2J", description=f"{CSI8}31m",
                           vendor=f"evil{RLO}lave", price=Money(amount=100, currency="USD"),
                           seen_at=at, crawl_id="c1", capture_id="cap", capture_sha256="0" * 64),
                   Extraction())])
    store.close()
    runner = CliRunner()
    for argv in (["search", "isotonitazene"], ["vendor", f"evil{RLO}lave"], ["listing", "m:1", "--history"]):
        result = runner.invoke(app, ["--data-dir", str(tmp_path), *argv])
        assert result.exit_code == 0, (argv, result.output)
        for ch in (ESC, CSI8, RLO, BEL):
            assert ch not in result.output, (argv, ch)
        assert "\\u202e" in result.output, argv  # the handle shows it was there


def test_scraped_markup_is_shown_not_obeyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich reads ``[...]`` in a string as markup: a vendor named ``[/]`` stopped the
    command with a MarkupError, and ``[link=...]`` planted a terminal hyperlink."""
    monkeypatch.setattr(_common.console, "_width", 300)
    store = SqliteStore(tmp_path / "store.sqlite")
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    title = "isotonitazene [link=http://evil.example]click[/link] [bold]x"
    store.ingest([(Listing(source="m", site_id="1", url="http://m.example/1", title=title, description="",
                           vendor="[/]", seen_at=at, crawl_id="c1", capture_id="cap", capture_sha256="0" * 64),
                   Extraction())])
    store.close()
    runner = CliRunner()
    for argv in (["search", "isotonitazene"], ["vendor", "[/]"], ["listing", "m:1"]):
        result = runner.invoke(app, ["--data-dir", str(tmp_path), *argv])
        assert result.exit_code == 0, (argv, result.output, result.exception)
        assert "[/]" in result.output, argv
        assert "\x1b]8;" not in result.output and "\x1b]8" not in result.output
    listing = runner.invoke(app, ["--data-dir", str(tmp_path), "listing", "m:1"])
    assert "[link=http://evil.example]click[/link] [bold]x" in listing.output


def test_errors_print_their_message_literally(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "store.sqlite").close()
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "search", "vendr:[/]"])
    assert result.exit_code == 1, (result.output, result.exception)
    assert "syntax error" in result.output and "vendr:[/]" in result.output
