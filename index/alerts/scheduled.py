"""Saved searches: rules with ``schedule:`` re-run their filter on the index.

Some rules need the index rather than one event (a query over all current listings,
e.g. anything matching a new lexicon entry after a re-extraction). Each run searches,
and every hit not seen before by that rule becomes a match that goes through the same
grouping, throttle and outbox path as stream matches. "Seen" is kept per (rule,
document key) in the alert database, so a restart does not re-alert on old hits.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

from narcwatch.index.alerts.engine import AlertEngine, Match
from narcwatch.index.models import Alert

__all__ = ["SavedSearchRunner", "Searcher", "StoreSearcher"]


@runtime_checkable
class Searcher(Protocol):
    def search_documents(self, query: str, limit: int) -> list[dict[str, Any]]:
        """Current documents matching ``query`` (the product's query language)."""


class StoreSearcher:
    """Adapts ``Store.search`` (whose result shape is the backend's) to ``Searcher``."""

    def __init__(self, store: Any):
        self.store = store

    def search_documents(self, query: str, limit: int) -> list[dict[str, Any]]:
        res = self.store.search(query, limit=limit)
        for attr in ("hits", "documents", "items", "results"):
            if hasattr(res, attr):
                res = getattr(res, attr)
                break
        if isinstance(res, dict):
            res = res.get("hits") or res.get("documents") or []
        out = []
        for h in res if isinstance(res, Iterable) else []:
            if hasattr(h, "model_dump"):
                h = h.model_dump(mode="json", by_alias=True)
            if isinstance(h, dict):
                out.append(h.get("doc") or h.get("_source") or h)
        return out


def _doc_key(doc: dict[str, Any]) -> str | None:
    for k in ("listing_key", "key", "id", "url"):
        if doc.get(k):
            return str(doc[k])
    return None


class SavedSearchRunner:
    def __init__(self, engine: AlertEngine, searcher: Searcher, limit: int = 1000):
        self.engine, self.searcher, self.limit = engine, searcher, limit
        self._last: dict[str, float] = {}

    def due(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        out = []
        for r in self.engine.rules.scheduled:
            assert r.spec.schedule is not None
            if now - self._last.get(r.id, float("-inf")) >= r.spec.schedule.total_seconds():
                out.append(r.id)
        return out

    def run_due(self, now: float | None = None) -> list[Alert]:
        now = time.time() if now is None else now
        alerts: list[Alert] = []
        for rid in self.due(now):
            alerts += self.run(rid, now)
        return alerts

    def run(self, rule_id: str, now: float | None = None) -> list[Alert]:
        """Run one saved search now; alert on hits this rule has not seen."""
        now = time.time() if now is None else now
        rule = self.engine.rules.by_id(rule_id)
        self._last[rule_id] = now
        docs = self.searcher.search_documents(rule.filter.text, self.limit)
        matches: list[Match] = []
        with self.engine.db.tx() as db:
            for doc in docs:
                key = _doc_key(doc)
                if key is None:
                    continue
                if db.execute("INSERT OR IGNORE INTO search_hits(rule_id, doc_key) VALUES (?,?)",
                              (rule_id, key)).rowcount == 0:
                    continue
                d = {**doc, "event_type": "SAVED_SEARCH", "event_id": f"search:{rule_id}:{key}"}
                d.setdefault("listing_key", key)
                m = self.engine._match(rule, d["event_id"], d, now)  # conditions/watch-list still apply
                if m is not None:
                    matches.append(m)
        alerts = self.engine.process(matches)
        return alerts + self.engine.tick(datetime.fromtimestamp(now, timezone.utc))
