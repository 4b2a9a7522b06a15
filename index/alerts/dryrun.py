"""``rules test``: what rules would have fired over stored events, with no delivery.

The dry-run uses a throwaway alert database and the events' own timestamps for
grouping and throttle windows, so the result is what the live engine would have sent
had these rules been active then.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from narcwatch.index.alerts.documents import DocumentLookup
from narcwatch.index.alerts.engine import AlertEngine, EngineStats
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.rules import RuleSet
from narcwatch.index.models import Alert, ChangeEvent

__all__ = ["DryRun", "dry_run"]


@dataclass
class DryRun:
    alerts: list[Alert]
    stats: EngineStats
    per_rule: dict[str, int]


def dry_run(rules: RuleSet, events: Iterable[ChangeEvent], lookup: DocumentLookup | None = None) -> DryRun:
    """Replay ``events`` in time order through ``rules``; windows close as history's clock passes them."""
    ordered = sorted(events, key=lambda e: (e.at, e.id))
    with tempfile.TemporaryDirectory(prefix="narcwatch-dryrun-") as tmp:
        db = AlertDB(Path(tmp) / "dryrun.sqlite")
        engine = AlertEngine(rules, db, lookup=lookup, event_time=True)
        alerts: list[Alert] = []
        for ev in ordered:
            engine.stats.events += 1
            alerts += engine.process(engine.evaluate(ev))
            alerts += engine.tick(ev.at)
        alerts += engine.flush()
        db.close()
    per: dict[str, int] = {}
    for a in alerts:
        per[a.rule_id] = per.get(a.rule_id, 0) + 1
    return DryRun(alerts, engine.stats, per)
