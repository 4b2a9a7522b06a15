"""The ``alerts`` and ``rules`` commands, on a real data directory and store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from narcwatch.cli import app
from narcwatch.crawler.paths import DataDir
from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.rules import DEFAULT_RULES, load_rules

from .conftest import World

runner = CliRunner()


def _run(data_dir: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["--data-dir", str(data_dir), *args])
    return res.exit_code, res.output


@pytest.fixture
def fired(data_dir: Path, world: World) -> list[str]:
    db = AlertDB(DataDir.at(data_dir).outbox)
    engine = AlertEngine(load_rules(DEFAULT_RULES), db, lookup=world.docs, notifiers=["hook"], clock=lambda: world.clock)
    alerts = engine.on_events([world.new_listing(1), world.new_listing(2, vendor="fict_b")])
    db.close()
    return [a.id for a in alerts]


def test_list_ack_dismiss_and_pending(data_dir: Path, fired: list[str]) -> None:
    code, out = _run(data_dir, "alerts", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["id"] for r in rows} == set(fired) and {r["status"] for r in rows} == {"new"}
    code, out = _run(data_dir, "alerts", "ack", fired[0][:12], "--by", "analyst.k")
    assert code == 0 and "acknowledged by analyst.k" in out
    code, out = _run(data_dir, "alerts", "dismiss", fired[1], "--by", "analyst.m")
    assert code == 0
    code, out = _run(data_dir, "alerts", "--status", "acknowledged", "--json")
    assert [json.loads(x)["by"] for x in out.splitlines()] == ["analyst.k"]
    code, out = _run(data_dir, "alerts", "ack", "al-nope", "--by", "x")
    assert code == 1 and "no alert" in out
    code, out = _run(data_dir, "alerts", "--pending", "--json")
    pend = [json.loads(x) for x in out.splitlines()]
    assert {p["alert_id"] for p in pend} == set(fired) and {p["state"] for p in pend} == {"pending"}
    code, out = _run(data_dir, "alerts", "--pending")
    assert code == 0 and "hook" in out


def test_follow_prints_only_new_alerts(data_dir: Path, fired: list[str]) -> None:
    code, out = _run(data_dir, "alerts", "--follow", "--for", "0.3", "--json")
    assert code == 0 and out.strip() == ""  # existing alerts are not replayed


def test_rules_check_reports_lines(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: a\n    name: A\n    events: [NEW]\n    filter: 'colour:red'\n")
    code, out = _run(data_dir, "rules", "check", str(bad))
    assert code == 1 and "bad.yaml:5" in out and "unknown field" in out.lower()
    code, out = _run(data_dir, "rules", "check", str(DEFAULT_RULES))
    assert code == 0 and "ok new-nitazene-listing" in out and "[critical]" in out


def test_rules_test_from_events_file(tmp_path: Path, data_dir: Path, world: World) -> None:
    now = datetime.now(timezone.utc)
    lines = []
    for n, age in ((1, 1), (2, 2), (3, 40)):  # the third is older than --since 30d
        ev = world.new_listing(n, at=now - timedelta(days=age))
        lines.append(json.dumps({**json.loads(ev.model_dump_json()), "document": world.docs.docs[ev.listing_key]}, default=str))
    f = tmp_path / "events.jsonl"
    f.write_text("\n".join(lines) + "\n")
    code, out = _run(data_dir, "rules", "test", str(DEFAULT_RULES), "--since", "30d", "--events", str(f))
    assert code == 0, out
    assert "2 events" in out and "new-nitazene-listing: 2" in out and "nothing was delivered" in out
    assert not DataDir.at(data_dir).outbox.exists() or AlertDB(DataDir.at(data_dir).outbox).alerts() == []


def test_rules_test_without_store_says_what_to_do(data_dir: Path) -> None:
    code, out = _run(data_dir, "rules", "test", str(DEFAULT_RULES))
    assert code == 1 and "--events" in out


def test_rules_test_over_the_stored_history(data_dir: Path) -> None:
    from narcwatch.index.sqlite import SqliteStore

    from .test_store_integration import _item

    now = datetime.now(timezone.utc)
    store = SqliteStore(DataDir.at(data_dir).store)
    store.ingest([_item("1", "metonitazene", "nitazene", "90", crawl="c1", at=now - timedelta(days=2)),
                  _item("2", "fictofentanyl", "fentanyl_analogue", "70", crawl="c1", at=now - timedelta(days=2),
                        vendor="fict_b"),
                  _item("3", "cocaine", "stimulant", "80", crawl="c1", at=now - timedelta(days=2))])
    store.close()
    code, out = _run(data_dir, "rules", "test", str(DEFAULT_RULES), "--since", "7d")
    assert code == 0, out
    assert "new-nitazene-listing: 1" in out and "new-fentanyl-analogue-listing: 1" in out
    assert "precursor-offer: 0" in out


def test_status_change_is_mirrored_to_the_store(data_dir: Path, world: World) -> None:
    from narcwatch.index.sqlite import SqliteStore

    store = SqliteStore(DataDir.at(data_dir).store)
    db = AlertDB(DataDir.at(data_dir).outbox)
    engine = AlertEngine(load_rules(DEFAULT_RULES), db, lookup=world.docs, clock=lambda: world.clock, store=store)
    [alert] = engine.on_events([world.new_listing(1)])
    db.close()
    store.close()
    code, out = _run(data_dir, "alerts", "dismiss", alert.id, "--by", "analyst.m")
    assert code == 0, out
    store = SqliteStore(DataDir.at(data_dir).store)
    [mirrored] = store.alerts()
    assert mirrored.status.value == "dismissed" and mirrored.status_by == "analyst.m"
    store.close()


def test_pending_shows_matches_held_by_a_throttle(tmp_path: Path, data_dir: Path, world: World) -> None:
    rules = tmp_path / "t.yaml"
    rules.write_text("rules:\n  - id: flood\n    name: Flood\n    events: [NEW]\n"
                     "    throttle: {max: 1, per: 1h, by: [vendor]}\n")
    db = AlertDB(DataDir.at(data_dir).outbox)
    engine = AlertEngine(load_rules(rules), db, lookup=world.docs, notifiers=["hook"], clock=lambda: world.clock)
    engine.on_events([world.new_listing(n) for n in range(4)])
    db.close()
    code, out = _run(data_dir, "alerts", "--pending")
    assert code == 0 and "held matches" in out and "flood" in out and " 3 " in out
