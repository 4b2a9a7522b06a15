"""Ingest: spool -> extraction -> store, at least once with an idempotent store.

The consumer offset is acknowledged only after the store has committed the batch, so a
``kill -9`` anywhere replays the unacknowledged items; the store ignores snapshots it
already has (same listing key and crawl id) and emits no second change event. Alert
evaluation does not hang off this return value: it tails the stored events with its own
cursor, so a crash between the store write and the alert step loses nothing.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import time
import threading

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import TypeAdapter, ValidationError

from narcwatch.crawler.models import CrawlItem, Listing, Post, VendorProfile
from narcwatch.crawler.spool import Spool, SpoolEntry
from narcwatch.crawler.spoolitems import CrawlEnd, ListingSeen
from narcwatch.extract.models import Extraction
from narcwatch.extract.pipeline import build_pipeline, extract
from narcwatch.extract.rates import RateProvider
from narcwatch.index.models import ChangeEvent
from narcwatch.index.store import IngestItem, Store, ingest_batches

__all__ = ["IngestStats", "Ingestor", "item_text"]

log = logging.getLogger(__name__)
_ITEM = TypeAdapter(CrawlItem)
ITEM_KINDS = {"listing", "post", "vendor"}
# What a store raises while it is unavailable rather than wrong: SQLite locked by another
# writer, disk full or I/O error; a search engine or socket that is down.
STORE_UNAVAILABLE: tuple[type[BaseException], ...] = (sqlite3.OperationalError, ConnectionError, TimeoutError)


@dataclass
class IngestStats:
    items: int = 0
    seen: int = 0
    crawls_ended: int = 0
    events: int = 0
    rejected: int = 0
    skipped: int = 0
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    store_errors: int = 0  # batches the store refused (locked, down); retried, never acked
    worker_ends: int = 0  # crawl_end of one scale-out worker (not a crawl's end: see crawl_id_map)
    pipeline_recycles: int = 0  # spaCy pipelines dropped for a fresh one (vocabulary grown past the limit)
    health: list[str] = field(default_factory=list)
    # reason -> conversions left without USD; currency no rates file has -> prices. Copies of
    # the rates provider's own counts, which the ingestors of one process share: totals take
    # the largest copy, not the sum (``fanin``)
    rates_missing: dict[str, int] = field(default_factory=dict, metadata={"shared": True})
    rates_unknown_currencies: dict[str, int] = field(default_factory=dict, metadata={"shared": True})


def item_text(item: Listing | Post | VendorProfile) -> str:
    """The text extraction reads for an item (the fields a human would read)."""
    if isinstance(item, Listing):
        tiers = " | ".join(f"{t.quantity} {t.price.amount} {t.price.currency}" for t in item.tiers)
        parts = [item.title, tiers, item.description]
    elif isinstance(item, Post):
        parts = [item.title or "", item.text]
    else:
        parts = [item.description, item.pgp_key or ""]
    return "\n".join(p for p in parts if p)


def _extract(item: Listing | Post | VendorProfile, source_kind: str | None = None,
             rates: RateProvider | None = None) -> Extraction:
    fields: dict[str, object] = {}
    if isinstance(item, Listing):
        fields = {"ships_from": item.ships_from, "ships_to": item.ships_to, "price": item.price,
                  "displayed_prices": item.displayed_prices}
    # The source's kind changes what text means (a bare @name in a Telegram message is a handle).
    # Prices convert at the rate of the capture's date: the page's own rate first, then ``rates``.
    return extract(item_text(item), id=item.key, capture_date=item.seen_at.date(), fields=fields,
                   source_kind=source_kind, rates=rates)


# spaCy interns every new token string in the pipeline's StringStore and Vocab and never
# forgets one: scraped text (prices, order numbers, handles, misspellings) brings new
# strings forever, and a daemon that ingests for months grew 7.6 MB/min. Past this many
# interned strings (~50 MB) the pipeline is dropped between batches and rebuilt (0.2 s);
# no Doc or span outlives a batch, so nothing refers to the old vocabulary.
RECYCLE_STRINGS = 100_000


def recycle_pipeline_if_grown(limit: int = RECYCLE_STRINGS) -> bool:
    """Drop the cached spaCy pipeline when its vocabulary has grown past ``limit`` strings."""
    info = build_pipeline.cache_info()
    if not info.currsize or len(build_pipeline().vocab.strings) <= limit:
        return False
    build_pipeline.cache_clear()
    gc.collect()  # the old Language holds reference cycles; free its memory now, not at some later collection
    return True


class Ingestor:
    def __init__(self, spool: Spool, store: Store, *, consumer: str = "ingest", batch_size: int = 200,
                 group_batches: int = 1,
                 on_events: Callable[[list[ChangeEvent]], None] | None = None,
                 source_kinds: dict[str, str] | None = None, rates: RateProvider | None = None,
                 recycle_strings: int = RECYCLE_STRINGS, crawl_id_map: Callable[[str], str] | None = None):
        self.spool, self.store, self.consumer, self.batch_size = spool, store, consumer, batch_size
        # With a backlog one read takes up to this many batches, which a store with
        # ``ingest_many`` (SQLite) writes in one transaction (one commit instead of several;
        # the acknowledgement after it, as before). A spool that is keeping up yields one
        # batch or less per read. The daemon's fan-in uses 4; other stores read one batch.
        self.group_batches = max(1, group_batches) if hasattr(store, "ingest_many") else 1
        self.source_kinds = source_kinds or {}  # source id -> market | forum | telegram | shop
        self.on_events = on_events
        self.rates = rates  # exchange rates files (extract.rates.load_rates); None: page rates only
        self.recycle_strings = recycle_strings
        # A scale-out worker's spool (``narcwatch.fanin``): its crawl id ``{round}-{worker}``
        # maps to the round's, so a page two workers both crawled (one was killed after its
        # spool commit, before its Redis ack) is one snapshot; and its crawl_end is one
        # worker's, not the round's: the round ends once, from the daemon's spool.
        self.crawl_id_map = crawl_id_map
        self.stats = IngestStats()

    def _reject(self, entry: SpoolEntry, reason: str) -> None:
        # A malformed spool row is counted and skipped, never retried forever; it stays
        # in the spool (append-only) for inspection.
        self.stats.rejected += 1
        self.stats.rejected_reasons[reason] = self.stats.rejected_reasons.get(reason, 0) + 1
        log.warning("ingest rejected spool item %s (%s)", entry.key, reason)

    def _flush(self, batch: list[IngestItem], seen: list[tuple[str, str, datetime]]) -> list[ChangeEvent]:
        size = self.batch_size
        events = ingest_batches(self.store, [batch[i:i + size] for i in range(0, len(batch), size)]) if batch else []
        if seen:
            self.store.mark_seen(seen)
            self.stats.seen += len(seen)
        self.stats.items += len(batch)
        batch.clear()
        seen.clear()
        return events

    def run_once(self) -> int:
        """Ingest one batch from the spool; returns how many spool entries it consumed."""
        entries = self.spool.read(self.consumer, limit=self.batch_size * self.group_batches)
        if not entries:
            return 0
        events: list[ChangeEvent] = []
        batch: list[IngestItem] = []
        seen: list[tuple[str, str, datetime]] = []
        for entry in entries:
            if self.crawl_id_map is not None and isinstance(entry.payload.get("crawl_id"), str):
                entry.payload["crawl_id"] = self.crawl_id_map(entry.payload["crawl_id"])
            if entry.kind in ITEM_KINDS:
                try:
                    item = _ITEM.validate_python(entry.payload)
                except ValidationError as exc:
                    self._reject(entry, f"invalid {entry.kind}: {exc.errors()[0]['type']}")
                    continue
                batch.append((item, _extract(item, self.source_kinds.get(item.source), self.rates)))
            elif entry.kind == "listing_seen":
                try:
                    seen_item = ListingSeen.model_validate(entry.payload)
                except ValidationError as exc:
                    self._reject(entry, f"invalid listing_seen: {exc.errors()[0]['type']}")
                    continue
                seen.append((seen_item.listing_key, seen_item.crawl_id, seen_item.seen_at))
            elif entry.kind == "crawl_end":
                try:
                    end = CrawlEnd.model_validate(entry.payload)
                except ValidationError as exc:
                    self._reject(entry, f"invalid crawl_end: {exc.errors()[0]['type']}")
                    continue
                if self.crawl_id_map is not None:
                    self.stats.worker_ends += 1  # one worker's end; the round's comes from the daemon
                    continue
                # A crawl's items and sightings are in before its end is judged.
                events += self._flush(batch, seen)
                events += self.store.end_crawl(end.source, end.crawl_id, end.complete, end.finished_at)
                self.stats.crawls_ended += 1
            else:
                self.stats.skipped += 1  # candidate_source: for the analyst's queue, not the index
        events += self._flush(batch, seen)
        self.spool.ack(self.consumer, entries[-1].seq)
        self.stats.events += len(events)
        if isinstance(getattr(self.rates, "misses", None), dict):
            self.stats.rates_missing = dict(self.rates.misses)  # type: ignore[union-attr]
            self.stats.rates_unknown_currencies = dict(getattr(self.rates, "unknown_currencies", {}))
        if events and self.on_events:
            self.on_events(events)
        # Between batches, after the ack: a recycled pipeline re-extracts nothing.
        if recycle_pipeline_if_grown(self.recycle_strings):
            self.stats.pipeline_recycles += 1
            log.info("ingest: spaCy vocabulary passed %d strings; pipeline rebuilt", self.recycle_strings)
        return len(entries)

    def drain(self) -> IngestStats:
        while self.run_once():
            pass
        return self.stats

    def try_once(self) -> int | None:
        """``run_once``, or ``None`` when the store is unavailable (locked, down, disk full):
        the batch stays unacknowledged in the spool, so the next try reads it again."""
        try:
            return self.run_once()
        except STORE_UNAVAILABLE as exc:
            store_unavailable(self.stats, exc)
            return None

    def run_forever(self, stop: threading.Event, poll: float = 0.5, backoff_max: float = 30.0) -> None:
        poll_forever(self.try_once, stop, poll, backoff_max)


def store_unavailable(stats: IngestStats, exc: BaseException) -> None:
    """Count an index outage where health reads it (``daemon.status.json``, ``sources
    status``); the batch stays unacknowledged in its spool and is read again."""
    stats.store_errors += 1
    msg = f"index unavailable: {type(exc).__name__}: {exc}"[:300]
    if msg not in stats.health:
        stats.health = [*stats.health[-9:], msg]
    log.error("ingest: %s; the batch stays in the spool and is retried", msg)


def poll_forever(try_once: Callable[[], int | None], stop: threading.Event, poll: float = 0.5,
                 backoff_max: float = 30.0) -> None:
    """Ingest until ``stop``: sleep ``poll`` when idle, back off up to ``backoff_max`` while
    the store is down (``try_once`` returns None)."""
    delay = poll
    while not stop.is_set():
        n = try_once()
        if n is None:
            stop.wait(delay)
            delay = min(backoff_max, delay * 2)
            continue
        delay = poll
        if not n:
            stop.wait(poll)


def ingest_items(store: Store, items: Sequence[Listing | Post | VendorProfile],
                 rates: RateProvider | None = None) -> list[ChangeEvent]:
    """Extract and ingest items directly (tests, imports): same path as the spool."""
    return store.ingest([(item, _extract(item, rates=rates)) for item in items])




def main(argv: list[str] | None = None) -> int:
    """``python -m narcwatch.ingest [--config FILE] [--data-dir DIR] [--idle SECONDS]``:
    run the ingest worker (and alert evaluation) until the spools have been idle that long."""
    import argparse
    import sys

    from narcwatch.crawler.config import load_config
    from narcwatch.crawler.paths import DataDir
    from narcwatch.extract.rates import RatesFileError, load_rates
    from narcwatch.index import open_store
    from narcwatch.index.alerts.documents import StoreDocuments
    from narcwatch.index.alerts.service import AlertService

    ap = argparse.ArgumentParser(prog="python -m narcwatch.ingest")
    ap.add_argument("--config")
    ap.add_argument("--data-dir")
    ap.add_argument("--idle", type=float, default=2.0, help="exit after the spool was empty this long")
    ap.add_argument("--bulk", action="store_true",
                    help="a backfill (a new store from a long spool): secondary indexes and full text are built once "
                         "at the end (SQLite bulk_load; searches meanwhile miss the new listings' text)")
    args = ap.parse_args(argv)
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    config = load_config(args.config, **overrides)
    data = DataDir.at(config.data_dir)
    try:
        rates = load_rates(config.rates_files, data.root)  # a bad rates file stops here, before any ingest
    except RatesFileError as exc:
        print(f"error: unusable rates file(s):\n{exc}", file=sys.stderr, flush=True)
        return 2
    store = open_store(config.store, data)
    alerts = AlertService.from_config(config, data, lookup=StoreDocuments(store), store=store).start()
    try:
        from narcwatch.crawler.distributed import WORKER_SPOOLS
        from narcwatch.fanin import FanInIngestor

        bulk = getattr(store, "bulk_load", None) if args.bulk else None
        with Spool(data.spool) as spool, bulk() if bulk is not None else nullcontext():
            # (and every scale-out worker's spool under <data>/spools/)
            ingestor = FanInIngestor(spool, data.root / WORKER_SPOOLS, store, on_events=alerts.on_events,
                                     source_kinds={src.id: src.kind.value for src in config.sources}, rates=rates)
            idle_since = time.monotonic()
            while time.monotonic() - idle_since < args.idle:
                n = ingestor.try_once()
                if n:
                    idle_since = time.monotonic()
                elif n is None:
                    idle_since = time.monotonic()  # not idle: work is waiting for the store
                    time.sleep(1.0)
                else:
                    time.sleep(0.1)
            ingestor.close()
    finally:
        alerts.stop()
        store.close()
    print(f"ingested {ingestor.stats.items} items, {ingestor.stats.events} events, "
          f"{ingestor.stats.rejected} rejected"
          + (f", prices left without USD: {ingestor.stats.rates_missing}" if ingestor.stats.rates_missing else "")
          + (f", no rates for: {ingestor.stats.rates_unknown_currencies}" if ingestor.stats.rates_unknown_currencies else ""),
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
