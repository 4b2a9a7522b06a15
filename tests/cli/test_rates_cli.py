"""``narcwatch rates check|show`` and ``sources check`` on rates files."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from narcwatch.cli import app

GOOD = "# fictional\ndate,currency,usd\n2024-03-01,EUR,1.08\n2024-03-02,EUR,1.09\n2024-03-01,BTC,64000\n"


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def test_check_ok_and_bad(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text("date,currency,usd\n2024-03-01,EUR,abc\n", encoding="utf-8")
    ok = _run("rates", "check", str(good))
    assert ok.exit_code == 0 and "3 rate(s)" in ok.output and "EUR 2024-03-01..2024-03-02 (2 days)" in ok.output
    res = _run("rates", "check", str(good), str(bad))
    assert res.exit_code == 1
    assert f"{bad}:2: row 2: usd must be a positive decimal" in res.output


def test_show_names_rate_date_and_file_or_why_not(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "rates").mkdir(parents=True)
    (data / "rates" / "feed.csv").write_text(GOOD, encoding="utf-8")
    res = _run("--data-dir", str(data), "rates", "show", "eur", "--on", "2024-03-05")
    assert res.exit_code == 0, res.output
    assert "EUR on 2024-03-05: 1.09 USD per 1 EUR (rate of 2024-03-02, file:feed.csv)" in res.output
    too_old = _run("--data-dir", str(data), "rates", "show", "EUR", "--on", "2024-04-01")
    assert too_old.exit_code == 1 and "older than 7 days" in " ".join(too_old.output.split())
    unknown = _run("--data-dir", str(data), "rates", "show", "XMR", "--on", "2024-03-01")
    assert unknown.exit_code == 1 and "currencies with rates: BTC, EUR" in " ".join(unknown.output.split())
    assert _run("--data-dir", str(data), "rates", "show", "EUR", "--on", "March").exit_code == 2
    other = tmp_path / "other.json"
    other.write_text('{"XMR": {"2024-03-01": "165"}}', encoding="utf-8")
    assert "165 USD per 1 XMR" in _run("rates", "show", "XMR", "--on", "2024-03-01", "--file", str(other)).output


def test_sources_check_reports_bad_rates_rows(tmp_path: Path) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,usd\n2024-03-01,EUR,1.08\n2024-03-01,EUR,1.2\n", encoding="utf-8")
    cfg = tmp_path / "narcwatch.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nrates_files: [rates.csv]\n", encoding="utf-8")
    res = _run("--config", str(cfg), "sources", "check")
    assert res.exit_code == 1
    assert f"{rates}:3: row 3: EUR on 2024-03-01 already has rate 1.08 (line 2)" in res.output
    rates.write_text("date,currency,usd\n2024-03-01,EUR,1.08\n", encoding="utf-8")
    assert _run("--config", str(cfg), "sources", "check").exit_code == 0
