"""Alerting assembled from a config: notifiers, secrets, catch-up, saved searches."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from narcwatch.crawler.config import load_config
from narcwatch.crawler.paths import DataDir
from narcwatch.index.alerts.documents import StoreDocuments
from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.notifiers import NotifierConfigError, build_notifiers
from narcwatch.index.alerts.notifiers.files import ConsoleNotifier
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.receiver import WebhookReceiver
from narcwatch.index.alerts.rules import load_rules
from narcwatch.index.alerts.scheduled import SavedSearchRunner, StoreSearcher
from narcwatch.index.alerts.service import AlertService
from narcwatch.index.sqlite import SqliteStore

from .test_store_integration import T0, _item


@pytest.mark.server
def test_service_from_config_delivers_to_every_notifier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = WebhookReceiver(b"from-env-secret").start()
    monkeypatch.setenv("NARCWATCH_SECRET_ANALYSTS_HOOK", "from-env-secret")
    cfg_file = tmp_path / "narcwatch.yaml"
    cfg_file.write_text(f"""
data_dir: {tmp_path / 'data'}
notifiers:
  - {{id: hook, type: webhook, url: "{receiver.url}", secret: analysts_hook}}
  - {{id: audit, type: jsonl, path: alerts.jsonl}}
""")
    config = load_config(cfg_file)
    data = DataDir.at(config.data_dir)
    store = SqliteStore(data.store)
    service = AlertService.from_config(config, data, lookup=StoreDocuments(store), store=store).start(tick_interval=0.1)
    try:
        fired = service.on_events(store.ingest([_item("1", "metonitazene", "nitazene", "90", crawl="c1", at=T0)]))
        assert [a.rule_id for a in fired] == ["new-nitazene-listing"]
        assert receiver.wait_for(1)
        deadline_ok = _wait_delivered(service.db, 2)
        assert deadline_ok
    finally:
        service.stop()
        receiver.stop()
    [line] = (data.root / "alerts.jsonl").read_text().splitlines()
    assert json.loads(line)["alert"]["id"] == fired[0].id
    assert receiver.rejected == 0 and receiver.received[0].body["alert"]["id"] == fired[0].id
    assert [a.id for a in store.alerts()] == [fired[0].id]  # mirrored into the store for the dashboard
    store.close()


def _wait_delivered(db: AlertDB, n: int) -> bool:
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if len(db.deliveries(state="delivered")) >= n:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(("cfg", "message"), [
    ({"id": "x", "type": "webhook"}, "missing option 'url'"),
    ({"id": "x", "type": "email", "host": "h", "from": "a@b", "to": []}, "at least one address"),
    ({"id": "x", "type": "email", "host": "h", "from": "a@b", "to": "a@b", "tls": "maybe"}, "tls must be"),
    ({"id": "x", "type": "webhook", "url": "http://127.0.0.1:1/", "timeout": "soon"}, "must be float"),
    ({"id": "x", "type": "pager"}, "unknown type"),
])
def test_notifier_config_errors_name_the_notifier(cfg: dict[str, object], message: str) -> None:
    with pytest.raises(NotifierConfigError, match=message):
        build_notifiers([cfg], secrets=None)


def test_console_notifier_prints_the_analyst_view(tmp_path: Path) -> None:
    from .conftest import World

    world = World()
    engine = AlertEngine(load_rules(Path(__file__).parents[3] / "index/alerts/default_rules.yaml"),
                         AlertDB(tmp_path / "o.sqlite"), lookup=world.docs, notifiers=["c"], clock=lambda: world.clock)
    [alert] = engine.on_events([world.new_listing(1)])
    out = io.StringIO()
    ConsoleNotifier("c", out).send(alert, "k")
    text = out.getvalue()
    assert "New nitazene listing" in text and "vendor: fict_vendor_a" in text and "capture: cap-1" in text


def test_catch_up_after_a_crash_between_store_write_and_alerting(tmp_path: Path) -> None:
    rules = load_rules(Path(__file__).parents[3] / "index/alerts/default_rules.yaml")
    store = SqliteStore(tmp_path / "store.sqlite")
    engine = AlertEngine(rules, AlertDB(tmp_path / "o.sqlite"), lookup=StoreDocuments(store), clock=lambda: T0)
    engine.on_events(store.ingest([_item("1", "metonitazene", "nitazene", "90", crawl="c1", at=T0)]))
    # the worker wrote this batch to the store and died before calling on_events
    store.ingest([_item("2", "isotonitazene", "nitazene", "80", crawl="c1", at=T0 + timedelta(minutes=5),
                        vendor="fict_other")])
    restarted = AlertEngine(rules, AlertDB(tmp_path / "o.sqlite"), lookup=StoreDocuments(store), clock=lambda: T0)
    caught = restarted.catch_up(store)
    assert [a.payload["items"][0]["listing_key"] for a in caught] == ["fict-market:2"]
    assert restarted.catch_up(store) == []  # idempotent
    store.close()


def test_saved_search_alerts_on_new_hits_only(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("rules:\n  - id: iso\n    name: Isotonitazene anywhere\n"
                                     "    schedule: 1h\n    filter: 'substance:isotonitazene'\n")
    rules = load_rules(tmp_path / "r.yaml")
    store = SqliteStore(tmp_path / "store.sqlite")
    store.ingest([_item("1", "isotonitazene", "nitazene", "90", crawl="c1", at=T0),
                  _item("2", "cocaine", "stimulant", "80", crawl="c1", at=T0)])
    engine = AlertEngine(rules, AlertDB(tmp_path / "o.sqlite"), notifiers=["hook"], clock=lambda: T0)
    runner = SavedSearchRunner(engine, StoreSearcher(store))
    now = T0.timestamp()
    first = runner.run_due(now)
    assert [a.payload["items"][0]["listing_key"] for a in first] == ["fict-market:1"]
    assert runner.due(now + 60) == [] and runner.due(now + 3600) == ["iso"]
    store.ingest([_item("3", "isotonitazene", "nitazene", "85", crawl="c1", at=T0, vendor="fict_b")])
    second = runner.run_due(now + 3600)
    assert [a.payload["items"][0]["listing_key"] for a in second] == ["fict-market:3"]
    store.close()


def test_slack_url_comes_from_the_secrets_store() -> None:
    from narcwatch.crawler.secrets import Secrets

    secrets = Secrets(environ={"NARCWATCH_SECRET_OPS_SLACK": "http://127.0.0.1:9/services/T0/B0/fictional"})
    [n] = build_notifiers([{"id": "chat", "type": "slack", "url_secret": "ops_slack"}], secrets).values()
    assert n.url.endswith("/services/T0/B0/fictional")  # type: ignore[attr-defined]


def test_rule_ids_unique_across_files(tmp_path: Path) -> None:
    from narcwatch.index.alerts.rules import RulesError, load_rule_files

    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("rules:\n  - {id: x, name: X, events: [NEW]}\n")
    b.write_text("rules:\n  - {id: x, name: X2, events: [NEW]}\n")
    with pytest.raises(RulesError, match="already defined in .*a.yaml"):
        load_rule_files([a, b])
