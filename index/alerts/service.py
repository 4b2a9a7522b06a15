"""Alerting assembled from the config: rules, engine, outbox, notifiers, dispatcher.

The ingest worker owns one ``AlertService`` and calls ``on_events`` after each store
write; ``start()`` catches up on events missed while down, runs the delivery workers,
and a ticker that closes digest windows and runs saved searches::

    store = open_store(config.store, data)
    alerts = AlertService.from_config(config, data, lookup=StoreDocuments(store), store=store).start()
    alerts.on_events(store.ingest(batch))      # after every store write
    ...
    alerts.stop()

Config (secrets are names resolved by ``crawler.secrets``, never values)::

    rules: [rules/alerts.yaml]                 # omitted: the shipped default_rules.yaml
    notifiers:
      - {id: desk-hook, type: webhook, url: "https://siem.example/hooks/narcwatch", secret: desk_hook}
      - {id: desk-mail, type: email, host: smtp.example, port: 587, tls: starttls,
         username: narcwatch, password: smtp_pw, from: narcwatch@example, to: [desk@example]}
      - {id: chat, type: slack, url_secret: chat_webhook_url}
      - {id: audit, type: jsonl, path: alerts.jsonl}   # relative to the data dir
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from narcwatch.crawler.config import Config
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.secrets import Secrets
from narcwatch.index.alerts.dispatcher import Dispatcher
from narcwatch.index.alerts.documents import DocumentLookup
from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.notifiers import build_notifiers
from narcwatch.index.alerts.outbox import AlertDB, Backoff
from narcwatch.index.alerts.rules import DEFAULT_RULES, RuleSet, load_rule_files
from narcwatch.index.alerts.scheduled import SavedSearchRunner, Searcher, StoreSearcher
from narcwatch.index.models import Alert, ChangeEvent

__all__ = ["AlertService", "rules_for_config"]

log = logging.getLogger(__name__)


def rules_for_config(config: Config) -> RuleSet:
    """The config's rule files, or the shipped defaults when it lists none."""
    ids = [n.id for n in config.notifiers]
    return load_rule_files(list(config.rules) or [DEFAULT_RULES], ids)


class AlertService:
    def __init__(self, engine: AlertEngine, dispatcher: Dispatcher, searcher: Searcher | None = None):
        self.engine, self.dispatcher, self.db = engine, dispatcher, engine.db
        self.saved_searches = SavedSearchRunner(engine, searcher) if searcher and engine.rules.scheduled else None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    @classmethod
    def from_config(cls, config: Config, data: DataDir, *, lookup: DocumentLookup | None = None,
                    store: Any = None, rules: RuleSet | None = None, secrets: Secrets | None = None,
                    base_url: str | None = None, backoff: Backoff | None = None) -> "AlertService":
        secrets = secrets or Secrets(config.secrets_file)
        db = AlertDB(data.outbox)
        notifiers = build_notifiers(config.notifiers, secrets, data.root)
        dispatcher = Dispatcher(db, notifiers, backoff=backoff)
        engine = AlertEngine(rules or rules_for_config(config), db, lookup=lookup, notifiers=list(notifiers),
                             base_url=base_url, on_enqueue=dispatcher.wake, store=store)
        searcher = StoreSearcher(store) if store is not None and hasattr(store, "search") else None
        return cls(engine, dispatcher, searcher)

    def on_events(self, events: list[ChangeEvent]) -> list[Alert]:
        return self.engine.on_events(events)

    def start(self, tick_interval: float = 10.0) -> "AlertService":
        """Catch up on events missed while down, start the delivery workers and a ticker
        that closes digest windows when no events come."""
        if self.engine.store is not None and hasattr(self.engine.store, "events"):
            self.engine.catch_up(self.engine.store)
        self.dispatcher.start()
        self._stop.clear()

        def tick() -> None:
            while not self._stop.wait(tick_interval):
                try:
                    self.engine.tick()
                    if self.saved_searches is not None:
                        self.saved_searches.run_due()
                except Exception:  # noqa: BLE001 - keep ticking; the next round retries the same work
                    log.exception("alerts ticker round failed")

        self._ticker = threading.Thread(target=tick, name="alerts-ticker", daemon=True)
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join(5)
        self.dispatcher.close()
        self.db.close()
