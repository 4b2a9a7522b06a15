"""``alerts`` and ``rules``: what fired, delivery state, lifecycle, rule checks and dry-runs.

    narcwatch alerts [--status new] [--limit 50] [--json]   list alerts, newest first
    narcwatch alerts --pending                              deliveries not yet acknowledged
    narcwatch alerts --follow                               tail new alerts
    narcwatch alerts ack ID --by NAME | dismiss ID --by NAME
    narcwatch alerts deliver [--once]                       run the delivery workers
    narcwatch alerts requeue [--notifier ID]                retry deliveries parked as dead
    narcwatch rules check FILE
    narcwatch rules test RULES.yaml --since 30d [--events FILE.jsonl]
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from narcwatch.cli._common import console, err_console, fail, state, styled

__all__ = ["register"]

_STATUSES = ("new", "acknowledged", "dismissed")


def _db(ctx: typer.Context) -> Any:
    from narcwatch.index.alerts.outbox import AlertDB

    return AlertDB(state(ctx).data.outbox)


def _ts(t: float | None) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def _alert_row(alert: Any) -> dict[str, Any]:
    first = (alert.payload.get("items") or [{}])[0]
    return {"id": alert.id, "created_at": alert.created_at.isoformat(), "severity": alert.severity.value,
            "rule": alert.rule_id, "status": alert.status.value, "by": alert.status_by,
            "events": len(alert.event_ids), "summary": alert.summary, "url": first.get("url"),
            "capture": (first.get("capture") or {}).get("id")}


def _print_alerts(alerts: list[Any], as_json: bool) -> None:
    if as_json:
        for a in alerts:
            typer.echo(json.dumps(_alert_row(a)))
        return
    table = Table("id", "created (UTC)", "sev", "rule", "status", "n", "summary", show_lines=False)
    for a in alerts:
        r = _alert_row(a)
        status = r["status"] + (f" ({r['by']})" if r["by"] else "")
        table.add_row(r["id"], r["created_at"][:19].replace("T", " "), r["severity"], r["rule"], status,
                      str(r["events"]), r["summary"])
    console.print(table)


def _pending(db: Any, as_json: bool) -> None:
    from narcwatch.index.alerts.outbox import DeliveryState

    rows = db.deliveries(state=DeliveryState.PENDING, limit=10_000) + db.deliveries(state=DeliveryState.DEAD, limit=10_000)
    if as_json:
        for d in rows:
            typer.echo(json.dumps({"alert_id": d.alert_id, "notifier": d.notifier, "state": d.state,
                                   "attempts": d.attempts, "next_attempt": _ts(d.next_at) if d.state == "pending" else None,
                                   "last_error": d.last_error, "idempotency_key": d.idem_key}))
        return
    counts = db.delivery_counts()
    summary = Table("notifier", "pending", "delivered", "dead")
    for nid in sorted({n for n, _ in counts}):
        summary.add_row(nid, *(str(counts.get((nid, s), 0)) for s in ("pending", "delivered", "dead")))
    console.print(summary)
    held = db.held()
    if held:  # throttled matches: delivered as one digest per key when the window ends
        table = Table("rule", "throttle key", "held matches", "digest due (UTC)")
        for rule_id, key, n, closes_at in held:
            table.add_row(rule_id, key, str(n), _ts(closes_at))
        console.print(table)
    if not rows:
        console.print("nothing pending: every alert was acknowledged by its notifiers")
        return
    table = Table("alert", "notifier", "state", "attempts", "next attempt (UTC)", "last error")
    for d in rows:
        table.add_row(d.alert_id, d.notifier, d.state, str(d.attempts),
                      _ts(d.next_at) if d.state == "pending" else "-", (d.last_error or "")[:80])
    console.print(table)


def _follow(db: Any, as_json: bool, seconds: float | None, interval: float = 0.5) -> None:
    last = db.last_seq()
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            rows = db.alerts(after_seq=last, limit=500, newest_first=False)
            for seq, alert in rows:
                last = seq
                if as_json:
                    typer.echo(json.dumps(_alert_row(alert)))
                else:
                    console.print(f"{alert.created_at:%Y-%m-%d %H:%M:%S} [{alert.severity.value}] {alert.id} "
                                  f"{alert.summary}", highlight=False, markup=False)
            if not rows:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass


def _set_status(ctx: typer.Context, alert_id: str, status: str, by: str) -> None:
    from narcwatch.index.models import AlertStatus

    db = _db(ctx)
    try:
        full = db.resolve_id(alert_id)
        alert = db.set_status(full, AlertStatus(status), by)
    except (KeyError, ValueError) as exc:
        fail(str(exc).strip('"'))
    st = state(ctx)
    if st.config.store.backend != "sqlite" or st.data.store.exists():
        from narcwatch.index import open_store

        store = open_store(st.config.store, st.data)  # the dashboard reads alerts from the store
        try:
            store.save_alerts([alert])
        finally:
            store.close()
    console.print(f"{alert.id} {alert.status.value} by {alert.status_by} at {alert.status_at:%Y-%m-%d %H:%M:%S} UTC",
                  highlight=False, markup=False)


def _load_rules_or_exit(path: Path, notifier_ids: list[str] | None) -> Any:
    from narcwatch.index.alerts.rules import RulesError, load_rules

    try:
        return load_rules(path, notifier_ids)
    except RulesError as exc:
        for p in exc.problems:
            err_console.print(styled(("error", "red"), f" {p}"), highlight=False)
        raise typer.Exit(1) from None


def _read_events(path: Path) -> tuple[list[Any], Any]:
    """An events file: one JSON object a line, a ChangeEvent, optionally with ``document``."""
    from narcwatch.index.alerts.documents import DictDocuments
    from narcwatch.index.models import ChangeEvent

    events, docs = [], DictDocuments()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            doc = obj.pop("document", None)
            ev = ChangeEvent.model_validate(obj)
        except ValueError as exc:
            fail(f"{path}:{n}: not a change event: {str(exc).splitlines()[0]}")
        events.append(ev)
        if isinstance(doc, dict) and ev.listing_key:
            docs.docs[ev.listing_key] = doc
    return events, docs


def register(app: typer.Typer) -> None:
    alerts_app = typer.Typer(help="Alerts: list, pending deliveries, follow, acknowledge, dismiss, deliver.",
                             invoke_without_command=True)

    @alerts_app.callback(invoke_without_command=True)
    def alerts(
        ctx: typer.Context,
        pending: Annotated[bool, typer.Option("--pending", help="Show deliveries not yet acknowledged by their notifier.")] = False,
        follow: Annotated[bool, typer.Option("--follow", "-f", help="Print new alerts as they fire.")] = False,
        status: Annotated[Optional[str], typer.Option("--status", help=f"Only alerts in this state: {', '.join(_STATUSES)}.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="How many alerts to list.")] = 50,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
        follow_for: Annotated[Optional[float], typer.Option("--for", hidden=True, help="Stop following after N seconds.")] = None,
    ) -> None:
        if ctx.invoked_subcommand is not None:
            return
        if status is not None and status not in _STATUSES:
            fail(f"unknown status {status!r}; valid: {', '.join(_STATUSES)}")
        db = _db(ctx)
        if pending:
            _pending(db, as_json)
        elif follow:
            _follow(db, as_json, follow_for)
        else:
            _print_alerts([a for _, a in db.alerts(status=status, limit=limit)], as_json)

    @alerts_app.command("ack", help="Acknowledge an alert (someone is on it).")
    def ack(ctx: typer.Context, alert_id: Annotated[str, typer.Argument(help="Alert id or an unambiguous prefix.")],
            by: Annotated[str, typer.Option("--by", help="Who acknowledges.")]) -> None:
        _set_status(ctx, alert_id, "acknowledged", by)

    @alerts_app.command("dismiss", help="Dismiss an alert (not relevant).")
    def dismiss(ctx: typer.Context, alert_id: Annotated[str, typer.Argument(help="Alert id or an unambiguous prefix.")],
                by: Annotated[str, typer.Option("--by", help="Who dismisses.")]) -> None:
        _set_status(ctx, alert_id, "dismissed", by)

    @alerts_app.command("deliver", help="Deliver pending alerts to the configured notifiers (until Ctrl-C, or --once).")
    def deliver(ctx: typer.Context, once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False) -> None:
        from narcwatch.crawler.secrets import Secrets
        from narcwatch.index.alerts.dispatcher import Dispatcher
        from narcwatch.index.alerts.notifiers import NotifierConfigError, build_notifiers

        st = state(ctx)
        try:
            notifiers = build_notifiers(st.config.notifiers, Secrets(st.config.secrets_file), st.data.root)
        except (NotifierConfigError, KeyError) as exc:
            fail(str(exc))
        if not notifiers:
            fail("no notifiers configured (config: notifiers: [{id: ..., type: webhook|email|slack|jsonl|console}])")
        disp = Dispatcher(_db(ctx), notifiers)
        if once:
            sent = disp.run_once()
            console.print(f"delivered {sent}", highlight=False, markup=False)
            return
        disp.start()
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            disp.close()

    @alerts_app.command("requeue", help="Put deliveries parked as dead back in the queue (after fixing the notifier).")
    def requeue(ctx: typer.Context, notifier: Annotated[Optional[str], typer.Option("--notifier")] = None) -> None:
        console.print(f"requeued {_db(ctx).requeue_dead(notifier)}", highlight=False, markup=False)

    app.add_typer(alerts_app, name="alerts")

    rules = typer.Typer(help="Validate alert rules and dry-run them over history.", no_args_is_help=True)

    @rules.command("check", help="Validate a rules file; every problem is printed with its line.")
    def rules_check(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="Rules YAML file.")]) -> None:
        st = state(ctx)
        ids = [n.id for n in st.config.notifiers] if st.config_path else None
        rs = _load_rules_or_exit(file, ids)
        for r in rs.rules:
            kinds = ", ".join(e.value for e in r.spec.events) or f"every {r.spec.schedule}"
            console.print(f"ok {r.id}: {r.spec.name} [{r.spec.severity.value}] on {kinds}", highlight=False, markup=False)

    @rules.command("test", help="Dry-run rules over stored events and show what they would have fired (no delivery).")
    def rules_test(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="Rules YAML file.")],
        since: Annotated[str, typer.Option("--since", help="How far back: 30d, 12h, 2w.")] = "30d",
        events_file: Annotated[Optional[Path], typer.Option("--events", help="Read events from a JSONL file instead of the store.")] = None,
        limit: Annotated[int, typer.Option("--limit", help="Most events to read from the store.")] = 1_000_000,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON alert a line.")] = False,
    ) -> None:
        from narcwatch.index.alerts.documents import StoreDocuments
        from narcwatch.index.alerts.dryrun import dry_run
        from narcwatch.index.alerts.rules import parse_duration

        rs = _load_rules_or_exit(file, None)
        try:
            start = datetime.now(timezone.utc) - parse_duration(since)
        except ValueError as exc:
            fail(str(exc))
        store = None
        if events_file is not None:
            events, lookup = _read_events(events_file)
            events = [e for e in events if e.at >= start]
        else:
            from narcwatch.index import open_store

            st = state(ctx)
            if not st.data.store.exists() and st.config.store.backend == "sqlite":
                fail(f"no store at {st.data.store}: crawl and ingest first, or pass --events FILE.jsonl")
            store = open_store(st.config.store, st.data)
            events, lookup = store.events(since=start, limit=limit), StoreDocuments(store)
        try:
            result = dry_run(rs, events, lookup)
        finally:
            if store is not None:
                store.close()
        if as_json:
            for a in result.alerts:
                typer.echo(a.model_dump_json())
            return
        _print_alerts(result.alerts, False)
        s = result.stats
        console.print(f"{s.events} events since {start:%Y-%m-%d %H:%M} UTC: {s.matches} matches, "
                      f"{len(result.alerts)} alerts would have fired ({s.grouped} folded into digests, "
                      f"{s.throttled} throttled); nothing was delivered", highlight=False, markup=False)
        for rid in (r.id for r in rs.rules):
            console.print(f"  {rid}: {result.per_rule.get(rid, 0)}", highlight=False, markup=False)

    app.add_typer(rules, name="rules", help="Validate alert rules and dry-run them over history.")
