"""The fictional world of ``dash_world`` written into the index's real SQLite store, the
alert outbox, an evidence manifest and the crawler's status file, as a crawl + ingest
would leave them: what every dashboard test runs against.

The manifest table follows the crawler's schema (crawler/evidence/manifest.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from narcwatch.crawler import health
from narcwatch.crawler.config import StoreConfig
from narcwatch.crawler.paths import DataDir
from narcwatch.index import open_store
from narcwatch.index.alerts.outbox import AlertDB

from dash_world import build

_MANIFEST = """CREATE TABLE IF NOT EXISTS captures (id TEXT PRIMARY KEY, source TEXT NOT NULL, crawl_id TEXT NOT NULL
DEFAULT '', url TEXT NOT NULL, status INTEGER NOT NULL, fetched_at TEXT NOT NULL, sha256 TEXT NOT NULL, content_type TEXT
NOT NULL DEFAULT '', length INTEGER NOT NULL, warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL, rendered INTEGER NOT
NULL DEFAULT 0, screenshot TEXT)"""


def build_index(data_dir: Path) -> Any:
    """Ingest the world snapshot by snapshot; returns the open store (caller closes it)."""
    mem = build(data_dir)
    data = DataDir.at(data_dir)
    store = open_store(StoreConfig(), data)
    batches: dict[str, list[Any]] = {}
    for doc in mem.docs.values():
        for snap in doc.snapshots:
            crawl = f"crawl-{snap.seen_at:%Y%m%d}"
            item = doc.listing.model_copy(update={
                "seen_at": snap.seen_at, "crawl_id": crawl, "price": snap.price, "title": snap.title,
                "capture_id": snap.capture_id, "capture_sha256": snap.capture_sha256})
            batches.setdefault(crawl, []).append((item, doc.extraction))
    for crawl in sorted(batches):
        store.ingest(batches[crawl])
    db = sqlite3.connect(data.evidence / "manifest.sqlite")
    db.execute(_MANIFEST)
    db.executemany("INSERT OR REPLACE INTO captures VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", [
        (c.id, c.source, c.crawl_id, c.url, c.status, c.fetched_at.isoformat(), c.sha256, c.content_type, c.length,
         c.warc_file, c.warc_offset, int(c.rendered), c.screenshot)
        for doc in mem.docs.values() for c in doc.captures])
    db.commit()
    db.close()
    alerts = AlertDB(data.outbox)
    alerts.add_alerts([(a, []) for a in mem.alerts.values()])
    alerts.close()
    for source, status in mem.crawl.items():  # what the crawler's last run of it recorded
        health.save(data.jobs, health.SourceHealth(
            source=source, last_crawl_at=status.last_crawl_at.isoformat() if status.last_crawl_at else None,
            finished=status.finished, items=status.items, errors=list(status.errors)))
    return store
