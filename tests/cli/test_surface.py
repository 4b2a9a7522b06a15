"""The CLI exposes the whole product surface; each command has one-sentence help."""

from __future__ import annotations

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from narcwatch.cli import app

SURFACE = ["demo", "run", "crawl", "sandbox", "extract", "search", "vendor", "alerts", "rules", "reextract",
           "export", "evidence", "serve", "sources", "listing", "users", "report", "rates"]


def test_every_product_command_exists_with_help():
    group = get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    missing = [c for c in SURFACE if c not in group.commands]
    assert not missing
    for name, cmd in group.commands.items():
        text = (cmd.help or "").strip()
        assert text and text.endswith("."), f"{name}: help must be one sentence"


@pytest.mark.parametrize("name", SURFACE)
def test_help_runs(name):
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("narcwatch ")
