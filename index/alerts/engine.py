"""Rule evaluation on change events: match, dedupe, throttle, group, store, queue.

``AlertEngine.on_events`` is called by the ingest worker right after the store write
(stream, not polling). For each event and each rule listening to its type the engine
builds the event document (``documents.event_document``), applies the rule's filter,
conditions and watch-list, then:

* dedupes on (rule, event): replaying events never fires a rule twice;
* groups: matches sharing the ``group.by`` values within ``group.window`` become one
  digest (with ``leading``, the first match alerts at once, the rest as one digest when
  the window closes: 2 messages for 40 new listings of one vendor, not 40);
* throttles: at most ``throttle.max`` alerts per ``throttle.per`` per key; a match over
  the limit is held (in the database, with its item) and every held match arrives in one
  digest when the window ends, i.e. when the oldest alert of the window leaves it and the
  throttle would let the next one through ("N further matches of rule X during the
  throttle window"). The digest takes that slot, so a key never gets more than
  ``throttle.max`` messages per window, and no match is ever dropped;
* writes alert + one outbox row per notifier in one transaction, then wakes the
  dispatcher.

Windows run on the engine's clock (ingest time), so a backlog replayed from the spool
groups like live traffic; dry-runs set ``event_time=True`` to use the events' own times.
All grouping and throttle state is in the alert database, so a restart loses nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from narcwatch.index.alerts.conditions import resolve
from narcwatch.index.alerts.documents import DocumentLookup, event_document
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.payload import item_from_document, render_subject
from narcwatch.index.alerts.rules import CompiledRule, RuleSet
from narcwatch.index.models import Alert, ChangeEvent, Severity

__all__ = ["AlertEngine", "EngineStats", "Match", "alert_id_for"]


_CURSOR = "events"
_THROTTLE_DIGEST_ITEMS = 500  # items listed in one throttle digest; all event ids are kept


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def alert_id_for(rule_id: str, event_ids: Iterable[str]) -> str:
    """Deterministic: the same rule over the same events is the same alert."""
    h = hashlib.sha256(("\n".join([rule_id, *sorted(event_ids)])).encode()).hexdigest()
    return f"al-{h[:24]}"


@dataclass
class Match:
    rule: CompiledRule
    event_id: str
    doc: dict[str, Any]
    at: float
    watch_hits: list[str] = field(default_factory=list)


@dataclass
class EngineStats:
    events: int = 0
    matches: int = 0
    duplicates: int = 0
    grouped: int = 0
    throttled: int = 0
    alerts: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _flatten(values: Any) -> list[Any]:
    out: list[Any] = []
    stack = [values]
    while stack and len(out) < 10_000:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.get(k) for k in ("value", "address", "canonical", "handle", "name") if k in v)
        elif isinstance(v, (list, tuple, set)):
            stack.extend(v)
        elif v is not None:
            out.append(v)
    return out


def _key(doc: dict[str, Any], fields: Sequence[str]) -> str:
    return json.dumps([str(resolve(doc, f)) if resolve(doc, f) is not None else None for f in fields])


def _label(fields: Sequence[str], key: str) -> str:
    try:
        vals = json.loads(key)
    except ValueError:
        return key
    return ", ".join(f"{f}={v}" for f, v in zip(fields, vals))


class AlertEngine:
    def __init__(self, rules: RuleSet, db: AlertDB, *, lookup: DocumentLookup | None = None,
                 notifiers: Sequence[str] = (), base_url: str | None = None,
                 clock: Callable[[], datetime] = _utcnow, event_time: bool = False,
                 on_enqueue: Callable[[], None] | None = None, store: Any = None):
        self.rules, self.db, self.lookup = rules, db, lookup
        self.notifiers = list(notifiers)
        self.base_url, self.clock, self.event_time = base_url, clock, event_time
        self.on_enqueue, self.store = on_enqueue, store
        self.stats = EngineStats()

    # ------------------------------------------------------------------ matching (pure)

    def evaluate(self, event: ChangeEvent, doc: dict[str, Any] | None = None) -> list[Match]:
        """Which rules match ``event``; reads nothing but the document lookup."""
        rules = self.rules.for_event(event.type)
        if not rules:
            return []
        doc = event_document(event, self.lookup) if doc is None else doc
        at = (event.at if self.event_time else self.clock()).timestamp()
        out = []
        for rule in rules:
            m = self._match(rule, event.id, doc, at)
            if m is not None:
                out.append(m)
        return out

    @staticmethod
    def _match(rule: CompiledRule, event_id: str, doc: dict[str, Any], at: float) -> Match | None:
        view = rule.mask.apply(doc) if rule.mask is not None else doc  # ignore_substances
        if not rule.filter.matches(view):
            return None
        if not all(c.holds(view) for c in rule.conditions):
            return None
        hits: list[str] = []
        if rule.watchlist is not None:
            values = _flatten([resolve(view, f) for f in rule.watch_fields])
            hits = rule.watchlist.hits(values)
            if not hits:
                return None
        return Match(rule, event_id, doc, at, hits)

    # ------------------------------------------------------------------ stream entry point

    def on_events(self, events: Sequence[ChangeEvent]) -> list[Alert]:
        """Evaluate a batch of change events; returns the alerts stored and queued."""
        matches: list[Match] = []
        for ev in events:
            self.stats.events += 1
            matches += self.evaluate(ev)
        latest = max((ev.at for ev in events), default=None)
        alerts = self.process(matches, seen_until=latest)
        alerts += self.tick(latest if self.event_time else None)
        return alerts

    def catch_up(self, store: Any, *, margin: timedelta = timedelta(hours=1), limit: int = 100_000) -> list[Alert]:
        """Evaluate stored events this engine may have missed (a crash between the store
        write and ``on_events``): everything since the last evaluated event time minus
        ``margin``. Replays are free: (rule, event) pairs already evaluated are skipped."""
        since = self.db.cursor(_CURSOR)
        if since is None:
            return []  # first start: alert on what happens from now on, not on all history
        return self.on_events(store.events(since=since - margin, limit=limit))

    def process(self, matches: Sequence[Match], seen_until: datetime | None = None) -> list[Alert]:
        if not matches and seen_until is None:
            return []
        self.stats.matches += len(matches)
        fresh: list[Alert] = []
        with self.db.tx() as db:
            if seen_until is not None and not self.event_time:
                self.db.advance_cursor(db, _CURSOR, seen_until)
            for m in matches:
                cur = db.execute("INSERT OR IGNORE INTO rule_events(rule_id, event_id) VALUES (?,?)",
                                 (m.rule.id, m.event_id))
                if cur.rowcount == 0:
                    self.stats.duplicates += 1
                    continue
                for alert in self._route(db, m):
                    if self.db.insert_alert(db, alert, self._notifiers(m.rule), m.at):
                        fresh.append(alert)
        return self._emitted(fresh)

    def tick(self, now: datetime | None = None) -> list[Alert]:
        """Close grouping windows that have ended and emit their digests."""
        ts = (now or self.clock()).timestamp()
        # Deliveries are due at the engine's present, never at ``now``: flush() passes the
        # end of time, and digests queued "then" would wait in the outbox forever.
        queued = min(ts, self.clock().timestamp())
        fresh: list[Alert] = []
        with self.db.tx() as db:
            due = db.execute("SELECT rule_id, gkey, closes_at FROM groups WHERE closes_at<=?", (ts,)).fetchall()
            for rule_id, gkey, closes_at in due:
                # A window closed early (flush) is stamped when it closed, never in the future.
                alert = self._close_group(db, rule_id, gkey, min(closes_at, self.clock().timestamp()))
                if alert is not None:
                    try:
                        rule = self.rules.by_id(rule_id)
                    except KeyError:
                        continue  # rule removed since the group opened: nothing to deliver to
                    if self.db.insert_alert(db, alert, self._notifiers(rule), queued):
                        fresh.append(alert)
            due = db.execute("SELECT rule_id, tkey, closes_at FROM throttle_windows WHERE closes_at<=?", (ts,)).fetchall()
            for rule_id, tkey, closes_at in due:
                released = self._release(db, rule_id, tkey, min(closes_at, self.clock().timestamp()))
                if released is not None:
                    alert, notifiers = released
                    if self.db.insert_alert(db, alert, notifiers, queued):
                        fresh.append(alert)
        return self._emitted(fresh)

    def flush(self) -> list[Alert]:
        """Close every open window now (end of a dry-run, orderly shutdown of a test)."""
        return self.tick(datetime.max.replace(tzinfo=timezone.utc))

    # ------------------------------------------------------------------ internals

    def _emitted(self, fresh: list[Alert]) -> list[Alert]:
        if fresh:
            self.stats.alerts += len(fresh)
            if self.store is not None:
                self.store.save_alerts(fresh)
            if self.on_enqueue is not None:
                self.on_enqueue()
        return fresh

    def _notifiers(self, rule: CompiledRule) -> list[str]:
        return list(rule.spec.notifiers) if rule.spec.notifiers is not None else self.notifiers

    def _item(self, m: Match) -> dict[str, Any]:
        item = item_from_document(m.doc, self.base_url)
        if m.watch_hits:
            item["watchlist_hits"] = m.watch_hits
        return item

    def _route(self, db: Any, m: Match) -> list[Alert]:
        spec = m.rule.spec
        if spec.group is None:
            return self._throttled(db, m)
        gkey = _key(m.doc, spec.group.by)
        row = db.execute("SELECT closes_at FROM groups WHERE rule_id=? AND gkey=?", (m.rule.id, gkey)).fetchone()
        out: list[Alert] = []
        if row is not None and row[0] > m.at:
            self.stats.grouped += 1
            self._add_member(db, m, gkey)
            return out
        if row is not None:  # expired but not yet ticked: close it first
            digest = self._close_group(db, m.rule.id, gkey, row[0])
            if digest is not None:
                out.append(digest)
        db.execute("INSERT INTO groups(rule_id, gkey, opened_at, closes_at) VALUES (?,?,?,?)",
                   (m.rule.id, gkey, m.at, m.at + spec.group.window.total_seconds()))
        if spec.group.leading:
            out += self._throttled(db, m)
        else:
            self.stats.grouped += 1
            self._add_member(db, m, gkey)
        return out

    def _add_member(self, db: Any, m: Match, gkey: str) -> None:
        db.execute("INSERT OR IGNORE INTO group_members(rule_id, gkey, event_id, at, item) VALUES (?,?,?,?,?)",
                   (m.rule.id, gkey, m.event_id, m.at, json.dumps(self._item(m), default=str)))

    def _close_group(self, db: Any, rule_id: str, gkey: str, closes_at: float) -> Alert | None:
        rows = db.execute("SELECT event_id, item FROM group_members WHERE rule_id=? AND gkey=? ORDER BY at, event_id",
                          (rule_id, gkey)).fetchall()
        db.execute("DELETE FROM group_members WHERE rule_id=? AND gkey=?", (rule_id, gkey))
        db.execute("DELETE FROM groups WHERE rule_id=? AND gkey=?", (rule_id, gkey))
        if not rows:
            return None
        try:
            rule = self.rules.by_id(rule_id)
        except KeyError:
            return None
        assert rule.spec.group is not None
        items = [json.loads(r[1]) for r in rows]
        cap = rule.spec.group.max_items
        extra = {"digest": True, "group": _label(rule.spec.group.by, gkey),
                 "items_omitted": max(0, len(items) - cap)}
        created = datetime.fromtimestamp(min(closes_at, 253402300799.0), timezone.utc)
        return self._alert(rule, [r[0] for r in rows], items[:cap], created, extra)

    def _throttled(self, db: Any, m: Match) -> list[Alert]:
        """The match's alert, or nothing when the throttle holds it back for the digest
        (plus the digest of an earlier window that has ended but was not ticked yet)."""
        th = m.rule.spec.throttle
        created = datetime.fromtimestamp(m.at, timezone.utc)
        if th is None:
            return [self._alert(m.rule, [m.event_id], [self._item(m)], created, {})]
        out: list[Alert] = []
        tkey = _key(m.doc, th.by)
        window = db.execute("SELECT closes_at FROM throttle_windows WHERE rule_id=? AND tkey=?",
                            (m.rule.id, tkey)).fetchone()
        if window is not None and window[0] > m.at:  # a held window is open: the match joins it
            self._hold(db, m, tkey)
            return out
        if window is not None:  # ended but not ticked yet: its digest goes first (and takes its slot)
            released = self._release(db, m.rule.id, tkey, window[0])
            if released is not None:
                out.append(released[0])
        since = m.at - th.per.total_seconds()
        db.execute("DELETE FROM throttle_log WHERE rule_id=? AND tkey=? AND at<=?", (m.rule.id, tkey, since))
        n, oldest = db.execute("SELECT COUNT(*), MIN(at) FROM throttle_log WHERE rule_id=? AND tkey=?",
                               (m.rule.id, tkey)).fetchone()
        if n >= th.max:
            # The window ends when its oldest alert leaves it: the throttle would let the
            # next message through then, and that message is the digest of what was held.
            db.execute("INSERT INTO throttle_windows(rule_id, tkey, opened_at, closes_at, rule) VALUES (?,?,?,?,?)",
                       (m.rule.id, tkey, m.at, oldest + th.per.total_seconds(),
                        json.dumps(self._rule_info(m.rule, self._notifiers(m.rule)))))
            self._hold(db, m, tkey)
            return out
        db.execute("INSERT INTO throttle_log(rule_id, tkey, at) VALUES (?,?,?)", (m.rule.id, tkey, m.at))
        out.append(self._alert(m.rule, [m.event_id], [self._item(m)], created, {}))
        return out

    def _hold(self, db: Any, m: Match, tkey: str) -> None:
        self.stats.throttled += 1
        db.execute("INSERT OR IGNORE INTO throttle_held(rule_id, tkey, event_id, at, item) VALUES (?,?,?,?,?)",
                   (m.rule.id, tkey, m.event_id, m.at, json.dumps(self._item(m), default=str)))

    @staticmethod
    def _rule_info(rule: CompiledRule, notifiers: list[str]) -> dict[str, Any]:
        """What a digest needs of its rule, kept with the held window: a rule removed or
        renamed before the window ends still gets its held matches delivered."""
        spec = rule.spec
        return {"id": spec.id, "name": spec.name, "severity": spec.severity.value, "filter": rule.filter.text,
                "conditions": [c.text for c in rule.conditions], "notifiers": notifiers,
                "by": list(spec.throttle.by) if spec.throttle else []}

    def _release(self, db: Any, rule_id: str, tkey: str, closes_at: float) -> tuple[Alert, list[str]] | None:
        """Close a held throttle window: one digest of every match it held, in the same
        transaction that deletes them (exactly once, across restarts)."""
        window = db.execute("SELECT opened_at, rule FROM throttle_windows WHERE rule_id=? AND tkey=?",
                            (rule_id, tkey)).fetchone()
        rows = db.execute("SELECT event_id, item FROM throttle_held WHERE rule_id=? AND tkey=? ORDER BY at, event_id",
                          (rule_id, tkey)).fetchall()
        db.execute("DELETE FROM throttle_held WHERE rule_id=? AND tkey=?", (rule_id, tkey))
        db.execute("DELETE FROM throttle_windows WHERE rule_id=? AND tkey=?", (rule_id, tkey))
        if window is None or not rows:
            return None
        try:
            info = json.loads(window[1])
        except ValueError:
            info = {}
        try:  # the rule as it is now, when it still exists
            rule = self.rules.by_id(rule_id)
            info.update(self._rule_info(rule, self._notifiers(rule)))
        except KeyError:
            pass
        # The digest is the message the throttle lets through when the window ends: it
        # takes that slot, so a key never gets more than ``max`` messages per window.
        db.execute("INSERT INTO throttle_log(rule_id, tkey, at) VALUES (?,?,?)", (rule_id, tkey, closes_at))
        items = [json.loads(r[1]) for r in rows]
        event_ids = [r[0] for r in rows]
        aid = alert_id_for(rule_id, event_ids)
        cap = _THROTTLE_DIGEST_ITEMS
        try:
            severity = Severity(info.get("severity", Severity.MEDIUM.value))
        except ValueError:
            severity = Severity.MEDIUM
        payload: dict[str, Any] = {
            "alert_id": aid,
            "rule": {k: info.get(k) for k in ("id", "name", "severity", "filter", "conditions")},
            "digest": True,
            "throttled": True,
            "matches": len(items),
            "window": {"from": datetime.fromtimestamp(window[0], timezone.utc).isoformat(),
                       "to": datetime.fromtimestamp(min(closes_at, 253402300799.0), timezone.utc).isoformat()},
            "items": items[:cap],
        }
        label = _label(info.get("by") or [], tkey)
        if label:
            payload["group"] = label
        if len(items) > cap:
            payload["items_omitted"] = len(items) - cap
        created = datetime.fromtimestamp(min(closes_at, 253402300799.0), timezone.utc)
        alert = Alert(id=aid, rule_id=rule_id, rule_name=str(info.get("name") or rule_id), severity=severity,
                      created_at=created, event_ids=sorted(event_ids), summary=render_subject(payload),
                      payload=payload)
        return alert, list(info.get("notifiers") or self.notifiers)

    def _alert(self, rule: CompiledRule, event_ids: list[str], items: list[dict[str, Any]], created: datetime,
               extra: dict[str, Any]) -> Alert:
        spec = rule.spec
        aid = alert_id_for(rule.id, event_ids)
        payload: dict[str, Any] = {
            "alert_id": aid,
            "rule": {"id": spec.id, "name": spec.name, "severity": spec.severity.value,
                     "filter": rule.filter.text, "conditions": [c.text for c in rule.conditions]},
            "digest": False,
            "items": items,
            **{k: v for k, v in extra.items() if v},
        }
        return Alert(id=aid, rule_id=spec.id, rule_name=spec.name, severity=spec.severity, created_at=created,
                     event_ids=sorted(event_ids), summary=render_subject(payload), payload=payload)
