"""``narcwatch sandbox serve|truth|telegram-export`` from the command line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from narcwatch.cli import app
from narcwatch.sandbox.testing import socks_connect

runner = CliRunner()


def test_truth_writes_jsonl_for_the_requested_hour(tmp_path: Path) -> None:
    out = tmp_path / "truth.jsonl"
    res = runner.invoke(app, ["sandbox", "truth", "--seed", "2", "--size", "tiny", "--at", "12", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = {r["kind"] for r in rows}
    assert {"source", "identity", "listing", "vendor", "post", "message", "product"} <= kinds
    assert all(r["at_hours"] == 12 for r in rows)
    assert len({r["source"] for r in rows if r["kind"] == "source"}) == 6


def test_truth_rejects_a_bad_size() -> None:
    res = runner.invoke(app, ["sandbox", "truth", "--size", "enormous"])
    assert res.exit_code == 1 and "size" in res.output


def test_telegram_export_has_the_desktop_format(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "result.json"
    res = runner.invoke(app, ["sandbox", "telegram-export", "candyflip_drops", "--size", "tiny", "-o", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["type"] == "public_channel" and data["messages"]
    real = json.loads((shared_data / "telegram" / "trfactsdeals_channel_export_messages.json").read_text())[0]
    required = {"id", "type", "date", "date_unixtime", "from", "from_id", "text", "text_entities"}
    assert required <= set(real)
    for m in data["messages"]:
        assert required <= set(m)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", m["date"]) and m["date_unixtime"].isdigit()
        flat = m["text"] if isinstance(m["text"], str) else "".join(x if isinstance(x, str) else x["text"] for x in m["text"])
        assert flat == "".join(e["text"] for e in m["text_entities"])
    assert any(e["type"] == "mention" for m in data["messages"] for e in m["text_entities"])
    bad = runner.invoke(app, ["sandbox", "telegram-export", "nope", "--size", "tiny", "-o", str(out)])
    assert bad.exit_code == 1 and "candyflip_drops" in bad.output


@pytest.mark.server
def test_serve_prints_urls_serves_and_stops_on_interrupt() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "narcwatch", "sandbox", "serve", "--size", "tiny", "--port", "0",
                             "--socks-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        onion = re.search(r"velvet-market\s+market\s+tor\s+http://([a-z2-7]{56}\.onion)/", text)
        socks = re.search(r"socks5h://\S+@127\.0\.0\.1:(\d+)", text)
        assert onion and socks, text
        with socks_connect(("127.0.0.1", int(socks.group(1))), onion.group(1), 80) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {onion.group(1)}\r\nConnection: close\r\n\r\n".encode())
            assert s.recv(12) == b"HTTP/1.1 200"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "served" in out
