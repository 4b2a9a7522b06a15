"""``narcwatch extract``: one JSON object per input line, documented fields, stable order."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from narcwatch.cli.extract import parse_line, run_extract


@pytest.mark.parametrize(("line", "expected"), [
    ("plain text 1g\n", ("5", "plain text 1g", None)),
    ('{"id": "A1", "text": "coke"}\n', ("A1", "coke", None)),
    ('{"id": 42, "text": "coke"}', ("42", "coke", None)),
    ('{"text": "no id"}', ("5", "no id", None)),
    ('{"id": "x"}', ("x", "", 'JSON object has no string "text"')),
    ('{"id": "x", "text": 3}', ("x", "", 'JSON object has no string "text"')),
    ("{not json", ("5", "", "invalid JSON")),
    ("", ("5", "", None)),
], ids=["plain", "jsonl", "int-id", "no-id", "no-text", "text-not-str", "bad-json", "empty"])
def test_parse_line(line: str, expected: tuple[str, str, str | None]) -> None:
    item_id, text, error = parse_line(line, 5)
    assert (item_id, text) == expected[:2]
    assert (error or "").startswith(expected[2] or "") and bool(error) == bool(expected[2])


def test_one_object_per_line_in_order() -> None:
    lines = ["f3nt4nyl 1g 40$", '{"id": "L-7", "text": "Isotonitazene and fluetonitazepyne"}', "{bad", "",
             "nothing here"] * 30
    out = io.StringIO()
    assert run_extract(io.StringIO("\n".join(lines) + "\n"), out, batch_size=7) == len(lines)
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(rows) == len(lines)
    first, second, bad, empty, nothing = rows[:5]
    assert first["id"] == "1" and first["substances"][0] | {} == {
        "text": "f3nt4nyl", "start": 0, "end": 8, "confidence": 0.98, "canonical": "Fentanyl",
        "class": "fentanyl_analogue", "novel": False, "cas": "437-38-7", "retroactive": False}
    assert second["id"] == "L-7"
    assert [(s["canonical"], s["class"], s["novel"]) for s in second["substances"]] == [
        ("Isotonitazene", "nitazene", False), ("fluetonitazepyne", "nitazene", True)]
    assert "error" in bad and bad["substances"] == []
    assert empty["substances"] == [] and nothing["substances"] == []
    for row in rows:
        assert {"id", "substances", "offers", "wallets", "identifiers", "cas", "ships_from", "ships_to"} <= set(row)
    assert [r["id"] for r in rows[5:7]] == ["6", "L-7"]


def test_cli_subprocess() -> None:
    """As a user runs it: the installed entry point, stdin to stdout."""
    proc = subprocess.run([sys.executable, "-m", "narcwatch", "extract"], input="кокаин 1 грамм\nn.i.t.a.z.e.n.e\n",
                          capture_output=True, text=True, timeout=120, check=True)
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [[s["canonical"] for s in r["substances"]] for r in rows] == [["Cocaine"], ["Nitazene (unspecified)"]]
    assert rows[0]["substances"][0]["text"] == "кокаин"
