"""Rates files as an operator writes them: every bad row named by file and line, misses
counted by reason, the config's ``rates_files`` and ``<data>/rates/`` picked up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from narcwatch.crawler.config import Config, load_config
from narcwatch.extract.rates import RatesFileError, RatesFileProvider, load_rates, rates_paths, read_rates_file
from narcwatch.sandbox import World
from narcwatch.sandbox.rates import published_rates, write_rates_csv

HEADER = "date,currency,usd\n"

# (id, file name, content, expected (line, message fragment) of each problem)
BAD = [
    ("bad-date", "r.csv", HEADER + "2024-03-01,EUR,1.08\n2024-13-01,EUR,1.09\n", [(3, "date must be YYYY-MM-DD")]),
    ("bad-usd", "r.csv", HEADER + "2024-03-01,EUR,one\n", [(2, "usd must be a positive decimal")]),
    ("negative", "r.csv", HEADER + "2024-03-01,EUR,-1\n", [(2, "usd must be a positive decimal")]),
    ("nan", "r.csv", HEADER + "2024-03-01,EUR,NaN\n", [(2, "usd must be a positive decimal")]),
    ("bad-code", "r.csv", HEADER + "2024-03-01,€,1.08\n", [(2, "currency must be a code")]),
    ("conflict", "r.csv", HEADER + "2024-03-01,EUR,1.08\n# note\n2024-03-01,eur,1.10\n", [(4, "already has rate 1.08 (line 2)")]),
    ("no-header", "r.csv", "2024-03-01,EUR,1.08\n", [(1, "CSV header needs columns")]),
    ("empty", "r.csv", "# nothing\n", [(None, "holds no rates")]),
    ("json-syntax", "r.json", '{"EUR": {\n"2024-03-01": 1.08,\n}}', [(3, "malformed JSON")]),
    ("json-value", "r.json", '{\n"EUR": {"2024-03-01": "x"}}', [(2, "usd must be a positive decimal")]),
    ("json-shape", "r.json", '"rates"', [(1, "expected")]),
    ("json-row", "r.json", '[{"date": "2024-03-01", "currency": "EUR"}]', [(None, "usd must be a positive decimal")]),
]


@pytest.mark.parametrize(("name", "content", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_rows_are_named_by_file_and_line(tmp_path: Path, name: str, content: str, expected: list) -> None:
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    _, problems = read_rates_file(p)
    assert [(pr.line, pr.file) for pr in problems] == [(line, str(p)) for line, _ in expected]
    for pr, (_, fragment) in zip(problems, expected):
        assert fragment in pr.message, pr
    with pytest.raises(RatesFileError) as exc:
        RatesFileProvider.from_path(p)
    assert str(p) in str(exc.value)


def test_missing_and_binary_files_are_problems_not_crashes(tmp_path: Path) -> None:
    assert "not found" in read_rates_file(tmp_path / "nope.csv")[1][0].message
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\xff\xfe\x00garbage")
    assert read_rates_file(junk)[1]


def test_lenient_load_skips_bad_rows(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text(HEADER + "2024-03-01,EUR,1.08\nbad,row,x\n", encoding="utf-8")
    prov = RatesFileProvider.from_path(p, strict=False)
    assert len(prov) == 1 and prov.rate("EUR", date(2024, 3, 2)).usd == Decimal("1.08")  # type: ignore[union-attr]


def test_misses_are_counted_never_guessed() -> None:
    prov = RatesFileProvider([("EUR", date(2024, 3, 1), Decimal("1.08"))], name="x.csv", max_age_days=7)
    assert prov.rate("EUR", date(2024, 3, 8)).on == date(2024, 3, 1)  # type: ignore[union-attr]
    for cur, on in [("EUR", date(2024, 3, 9)), ("EUR", date(2024, 2, 29)), ("RUB", date(2024, 3, 1)), ("EUR", None)]:
        assert prov.rate(cur, on) is None
    assert prov.misses == {"rate_too_old": 1, "before_first_rate": 1, "no_rates_for_currency": 1, "no_capture_date": 1}


def test_config_files_first_then_data_dir_and_first_file_wins(tmp_path: Path) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_text(HEADER + "2024-03-01,EUR,1.08\n", encoding="utf-8")
    data = tmp_path / "data"
    (data / "rates").mkdir(parents=True)
    (data / "rates" / "feed.json").write_text('{"EUR": {"2024-03-01": "1.50"}, "BTC": {"2024-03-01": "64000"}}',
                                             encoding="utf-8")
    (data / "rates" / "notes.txt").write_text("ignored", encoding="utf-8")
    assert [p.name for p in rates_paths([mine], data)] == ["mine.csv", "feed.json"]
    prov = load_rates([mine], data)
    assert prov is not None
    eur, btc = prov.rate("EUR", date(2024, 3, 1)), prov.rate("BTC", date(2024, 3, 1))
    assert (eur.usd, eur.source) == (Decimal("1.08"), "file:mine.csv")  # type: ignore[union-attr]
    assert (btc.usd, btc.source) == (Decimal(64000), "file:feed.json")  # type: ignore[union-attr]
    assert load_rates([], tmp_path / "empty") is None


def test_config_field_yaml_relative_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "narcwatch.yaml"
    cfg.write_text("rates_files: [rates/eur.csv]\n", encoding="utf-8")
    assert load_config(cfg).rates_files == [tmp_path / "rates" / "eur.csv"]
    monkeypatch.setenv("NARCWATCH_RATES_FILES", "/a/x.csv:/b/y.json")
    assert Config().rates_files == [Path("/a/x.csv"), Path("/b/y.json")]
    monkeypatch.setenv("NARCWATCH_RATES_FILES", '["/c/z.csv"]')
    assert Config().rates_files == [Path("/c/z.csv")]


def test_sandbox_publishes_its_own_rates_labelled_fictional(tmp_path: Path) -> None:
    world = World(seed=5, size=50)
    today = date(2026, 1, 10)
    rows = published_rates(world, 50.0, today, days=3)  # sandbox day 2 is "today"
    assert [r[0] for r in rows[::6]] == [date(2026, 1, 8), date(2026, 1, 9), today]
    for d, cur, usd in rows:
        sim_day = 2 - (today - d).days
        assert abs(usd * Decimal(repr(world.rate(cur, sim_day * 24.0))) - 1) < Decimal("1e-9")
    p = write_rates_csv(tmp_path / "rates" / "sandbox.csv", world, 50.0, today, days=3)
    assert p.read_text(encoding="utf-8").startswith("# FICTIONAL exchange rates")
    assert read_rates_file(p) == ([(c, d, u) for d, c, u in rows], [])
