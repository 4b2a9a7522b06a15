"""Fan-in ingest: the daemon's own spool plus every scale-out worker's spool, each exactly once.

Redis workers (``crawler.distributed``) spool to ``<data>/spools/<worker>.sqlite``. Each
spool keeps its own committed ``ingest`` offset, so a kill anywhere replays only that
spool's unacknowledged batch into an idempotent store. Worker spools are read before the
daemon's own spool in every pass; the round's ``crawl_end`` is written to the daemon's
spool only after ingest has passed every worker spool's end (``run_round``), so a round's
removals are judged after all of its items are in.

A worker spool that has had nothing new for ``idle_close`` seconds is closed (workers get
a fresh id, hence a fresh file, per process) and reopened when its file changes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path

from narcwatch.crawler.distributed import round_of
from narcwatch.crawler.spool import Spool
from narcwatch.extract.rates import RateProvider
from narcwatch.index.models import ChangeEvent
from narcwatch.index.store import Store
from narcwatch.ingest import (
    RECYCLE_STRINGS,
    STORE_UNAVAILABLE,
    IngestStats,
    Ingestor,
    poll_forever,
    store_unavailable,
)

__all__ = ["FanInIngestor"]

log = logging.getLogger(__name__)


@dataclass
class _Worker:
    path: Path
    ingestor: Ingestor | None
    changed: float  # the file's last change we saw (max mtime of the database and its WAL)
    active: float  # monotonic time of its last non-empty batch


def _changed(path: Path) -> float:
    best = 0.0
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            best = max(best, p.stat().st_mtime)
        except OSError:
            pass
    return best


class FanInIngestor:
    def __init__(self, spool: Spool, spools_dir: Path, store: Store, *, batch_size: int = 200, group_batches: int = 4,
                 on_events: Callable[[list[ChangeEvent]], None] | None = None,
                 source_kinds: dict[str, str] | None = None, rates: RateProvider | None = None,
                 recycle_strings: int = RECYCLE_STRINGS, idle_close: float = 600.0):
        self.spools_dir = spools_dir
        self._make = partial(Ingestor, store=store, batch_size=batch_size, group_batches=group_batches,
                             on_events=on_events, source_kinds=source_kinds, rates=rates,
                             recycle_strings=recycle_strings)
        self.main = self._make(spool)
        self.idle_close = idle_close
        self.workers: dict[Path, _Worker] = {}
        self._retired = IngestStats()  # counters of closed worker ingestors

    # -- discovery ---------------------------------------------------------------------------
    def _open(self, path: Path) -> Ingestor | None:
        """An ingestor for a worker spool, or None for a file that is not one (skipped until it changes)."""
        try:
            spool = Spool(path)
        except sqlite3.Error as exc:  # a stray or damaged file must not stop ingest of every other spool
            log.error("ingest: %s is not a readable spool (%s); skipped until it changes", path, exc)
            return None
        return self._make(spool, crawl_id_map=partial(round_of, worker_id=path.stem))

    def _discover(self) -> None:
        now = time.monotonic()
        try:
            paths = sorted(self.spools_dir.glob("*.sqlite")) if self.spools_dir.is_dir() else []
        except OSError:
            paths = []
        for path in paths:
            changed = _changed(path)
            w = self.workers.get(path)
            if w is None:
                self.workers[path] = _Worker(path, self._open(path), changed, now)
            elif w.ingestor is None and changed > w.changed:
                w.ingestor, w.changed, w.active = self._open(path), changed, now
            elif w.ingestor is not None:
                if changed > w.changed:
                    w.changed, w.active = changed, now
                elif now - w.active > self.idle_close and not w.ingestor.spool.pending(w.ingestor.consumer):
                    self._close(w)

    def _close(self, w: _Worker) -> None:
        if w.ingestor is None:
            return
        _add(self._retired, w.ingestor.stats)
        w.ingestor.spool.close()
        w.ingestor = None

    # -- the Ingestor interface ----------------------------------------------------------------
    @property
    def stats(self) -> IngestStats:
        total = IngestStats()
        _add(total, self._retired)
        for ing in [self.main, *(w.ingestor for w in self.workers.values() if w.ingestor is not None)]:
            _add(total, ing.stats)
        return total

    def open_spools(self) -> int:
        return 1 + sum(1 for w in self.workers.values() if w.ingestor is not None)

    def run_once(self) -> int:
        """One batch from every worker spool with pending items, then one from the daemon's spool."""
        self._discover()
        n = 0
        for w in list(self.workers.values()):
            if w.ingestor is not None:
                got = w.ingestor.run_once()
                if got:
                    w.active = time.monotonic()
                n += got
        return n + self.main.run_once()

    def drain(self) -> IngestStats:
        while self.run_once():
            pass
        return self.stats

    def try_once(self) -> int | None:
        """``run_once``, or ``None`` when the store is unavailable (every spool keeps its batch)."""
        try:
            return self.run_once()
        except STORE_UNAVAILABLE as exc:
            store_unavailable(self.main.stats, exc)
            return None

    def run_forever(self, stop: threading.Event, poll: float = 0.5, backoff_max: float = 30.0) -> None:
        poll_forever(self.try_once, stop, poll, backoff_max)

    def close(self) -> None:
        """Close the worker spools (the daemon's own spool belongs to whoever opened it)."""
        for w in self.workers.values():
            self._close(w)


def _add(total: IngestStats, part: IngestStats) -> None:
    for f in fields(IngestStats):
        value = getattr(part, f.name)
        if isinstance(value, int):
            setattr(total, f.name, getattr(total, f.name) + value)
        elif isinstance(value, dict):
            acc = getattr(total, f.name)
            for k, v in value.items():
                acc[k] = max(acc.get(k, 0), v) if f.metadata.get("shared") else acc.get(k, 0) + v
        elif isinstance(value, list):
            getattr(total, f.name).extend(value[-10:])

