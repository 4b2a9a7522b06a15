"""Alerting: rules on change events, throttling and digests, durable delivery.

Data flow: the ingest worker calls ``AlertEngine.on_events`` right after the store write;
matching alerts and one outbox row per (alert, notifier) are written in one SQLite
transaction; the ``Dispatcher`` delivers outbox rows with retries until a notifier
acknowledges (2xx / SMTP 250), so a notifier that is down loses nothing.
"""

from narcwatch.index.alerts.documents import DictDocuments, DocumentLookup, StoreDocuments
from narcwatch.index.alerts.dryrun import DryRun, dry_run
from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.rules import DEFAULT_RULES, RuleSet, RulesError, load_rule_files, load_rules
from narcwatch.index.alerts.service import AlertService

__all__ = [
    "DEFAULT_RULES", "AlertDB", "AlertEngine", "AlertService", "DictDocuments", "DocumentLookup", "DryRun",
    "RuleSet", "RulesError", "StoreDocuments", "dry_run", "load_rule_files", "load_rules",
]
