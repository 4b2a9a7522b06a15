"""Alerting latency: ingest of a matching listing -> the webhook receiving the alert.

The whole path is real: ``SqliteStore.ingest`` (change detection), ``AlertEngine.on_events``
(default rules, store document lookup, outbox write), the dispatcher thread, a signed
HTTP POST over 127.0.0.1 to the reference receiver. The clock starts before ``ingest``
and stops when the receiver has parsed and verified the request.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from narcwatch.crawler.models import Listing, Money
from narcwatch.extract.models import Extraction, Offer, SubstanceMention
from narcwatch.index.alerts.dispatcher import Dispatcher
from narcwatch.index.alerts.documents import StoreDocuments
from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.notifiers.webhook import WebhookNotifier
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.receiver import WebhookReceiver
from narcwatch.index.alerts.rules import DEFAULT_RULES, load_rules
from narcwatch.index.sqlite import SqliteStore
from ops.bench.harness import Result

SECRET = b"bench-secret"


def _item(n: int) -> tuple[Listing, Extraction]:
    listing = Listing(source="bench-market", site_id=str(n), url=f"http://bench-market.test/item/{n}", crawl_id="c1",
                      seen_at=datetime.now(timezone.utc), title=f"metonitazene 1g #{n}", vendor=f"fict_vendor_{n}",
                      price=Money(amount=Decimal("60"), currency="USD"), capture_id=f"cap-{n}",
                      capture_sha256=hashlib.sha256(str(n).encode()).hexdigest())
    ext = Extraction(substances=[SubstanceMention(canonical="metonitazene", start=0, end=12, **{"class": "nitazene"})],
                     offers=[Offer(start=0, end=1, quantity=Decimal(1), unit="g", price=Decimal(60), currency="USD",
                                   usd=Decimal(60), usd_per_unit=Decimal(60))], ships_from=["DE"])
    return listing, ext


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs))) - 1))]


def ingest_to_webhook_latency(n: int = 300, gap: float = 0.02, batch: int = 1, label: str = "") -> list[Result]:
    receiver = WebhookReceiver(SECRET).start()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "store.sqlite")
        db = AlertDB(Path(tmp) / "outbox.sqlite")
        disp = Dispatcher(db, {"hook": WebhookNotifier("hook", receiver.url, secret=SECRET, timeout=5)})
        engine = AlertEngine(load_rules(DEFAULT_RULES), db, lookup=StoreDocuments(store), notifiers=["hook"],
                             on_enqueue=disp.wake)
        disp.start()
        started: dict[str, float] = {}
        try:
            for i in range(0, n, batch):
                items = [_item(j) for j in range(i, min(n, i + batch))]
                t0 = time.time()
                started.update({it[0].key: t0 for it in items})
                engine.on_events(store.ingest(items))
                time.sleep(gap)
            ok = receiver.wait_for(n, timeout=60)
        finally:
            disp.close()
            store.close()
            receiver.stop()
    lat = []
    for rec in receiver.by_key.values():
        key = rec.body["alert"]["payload"]["items"][0]["listing_key"]
        lat.append((rec.at - started[key]) * 1000)
    note = (f"{len(lat)}/{n} delivered, batches of {batch} listing(s) every {gap * 1000:.0f} ms"
            + ("" if ok else " (TIMEOUT)"))
    name = f"alerts.ingest_to_webhook{label}"
    return [
        Result(f"{name}.p50", statistics.median(lat), "ms", note),
        Result(f"{name}.p99", _pct(lat, 99), "ms", note, {"max_ms": max(lat), "n": len(lat)}),
    ]


def ingest_to_webhook_latency_burst() -> list[Result]:
    """A crawl page at a time: 50 matching listings per ingest batch, each alert timed from its batch's start."""
    return ingest_to_webhook_latency(n=300, gap=0.5, batch=50, label=".burst50")


def outbox_throughput(n: int = 2000) -> list[Result]:
    """Alerts per second through the engine into the outbox (no delivery), batches of 100 events."""
    from narcwatch.index.alerts.documents import DictDocuments
    from narcwatch.index.documents import item_document
    from narcwatch.index.models import ChangeEvent, EventType

    docs, events = DictDocuments(), []
    for i in range(n):
        listing, ext = _item(i)
        docs.docs[listing.key] = item_document(listing, ext)
        events.append(ChangeEvent(id=f"ev-{i}", type=EventType.NEW, at=listing.seen_at, source=listing.source,
                                  listing_key=listing.key, vendor=listing.vendor))
    with tempfile.TemporaryDirectory() as tmp:
        engine = AlertEngine(load_rules(DEFAULT_RULES), AlertDB(Path(tmp) / "o.sqlite"), lookup=docs,
                             notifiers=["a", "b"])
        t0 = time.perf_counter()
        fired = sum(len(engine.on_events(events[i:i + 100])) for i in range(0, n, 100))
        rate = fired / (time.perf_counter() - t0)
        engine.db.close()
    return [Result("alerts.engine_to_outbox", rate, "alerts/s", "default rules, 2 notifiers, synchronous=FULL")]


def all_alerts() -> list[Result]:
    """``python -m ops.bench alerts``: the latency (single and burst) and throughput figures together."""
    return ingest_to_webhook_latency() + ingest_to_webhook_latency_burst() + outbox_throughput()


BENCHMARKS = {"alerts": all_alerts, "alerts_latency": ingest_to_webhook_latency,
              "alerts_latency_burst": ingest_to_webhook_latency_burst, "alerts_throughput": outbox_throughput}
