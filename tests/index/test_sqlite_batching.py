"""Batching is invisible: a sequence of crawls ingested in batches gives the same events,
snapshots and current documents as the same items ingested one call per item.

Data table of cases (each a sequence of steps: a batch of items, or a complete crawl's end);
every case runs both ways on fresh stores and compares everything a reader can see.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from narcwatch.index.sqlite import SqliteStore

from .conftest import corpus, extraction, listing, week


def _eto(site: str, price: str, *, crawl: str, at: int, title: str = "Etonitazene 5g", text: str = "",
         vendor: str = "DrGreen", source: str = "alpha", **ext: Any) -> tuple[Any, Any]:
    return (listing(source, site, title, price=price, crawl=crawl, at=week(at), vendor=vendor, description=text),
            extraction("etonitazene", "nitazene", grams="5", usd=price, **ext))


class End(NamedTuple):
    source: str
    crawl: str
    at: int


class Case(NamedTuple):
    name: str
    steps: list[Any]  # list of items (one batch) or End


_CASES = [
    Case("new listings, vendors and identifiers", [corpus()]),
    Case("price change", [[_eto("1", "200", crawl="c1", at=0)], [_eto("1", "150", crawl="c2", at=1)]]),
    Case("price change within one batch", [[_eto("1", "200", crawl="c1", at=0), _eto("1", "150", crawl="c2", at=1)]]),
    Case("text change", [[_eto("1", "200", crawl="c1", at=0)],
                         [_eto("1", "200", crawl="c2", at=1, title="Etonitazene 5g NEW BATCH", text="restock")]]),
    Case("removal and reappearance", [
        [_eto("1", "200", crawl="c1", at=0), _eto("2", "90", crawl="c1", at=0)],
        [_eto("2", "90", crawl="c2", at=1)], End("alpha", "c2", 1),
        [_eto("2", "90", crawl="c3", at=2)], End("alpha", "c3", 2),
        [_eto("1", "210", crawl="c4", at=3), _eto("2", "90", crawl="c4", at=3)]]),
    Case("vendor on a new market, identifier first seen once", [
        [_eto("1", "200", crawl="c1", at=0, wallet="bc1qfictionalwalletaaaa"),
         _eto("9", "200", crawl="c1", at=0, source="beta", wallet="bc1qfictionalwalletaaaa")]]),
    Case("vendor and identifier seen again, in a later crawl and in a replayed older one", [
        [_eto("1", "200", crawl="c2", at=1, wallet="bc1qfictionalwalletaaaa")],
        [_eto("1", "200", crawl="c3", at=2, wallet="bc1qfictionalwalletaaaa"),
         _eto("2", "90", crawl="c3", at=2, wallet="bc1qfictionalwalletaaaa")],
        [_eto("1", "200", crawl="c1", at=0, wallet="bc1qfictionalwalletaaaa")]]),
    Case("late replay of an older crawl", [[_eto("1", "200", crawl="c5", at=5)], [_eto("1", "100", crawl="c1", at=0)]]),
    Case("replay of the same batch", [corpus(), corpus()]),
    Case("novel substance", [[_eto("1", "200", crawl="c1", at=0, novel=True), _eto("2", "80", crawl="c1", at=0)]]),
]


#: how a case's batches reach the store: one item per ``ingest`` call, one batch per call,
#: ``ingest_many`` with all batches between two crawl ends in one transaction (and with one
#: item per batch, one batch per transaction), and ``ingest_many(bulk=True)``: through the
#: writer process with all in one group and with one item per group (each group planned
#: while the one before is still being written: the overlay of unanswered groups), and in
#: this process
MODES = ("single", "batched", "many", "many-group1", "bulk", "bulk-group1", "bulk-inprocess")


def _ingest_run(s: SqliteStore, batches: list[list[Any]], mode: str) -> list[Any]:
    if mode == "single":
        return [e for b in batches for item in b for e in s.ingest([item])]
    if mode == "batched":
        return [e for b in batches for e in s.ingest(b)]
    if mode in ("many-group1", "bulk-group1"):
        return [e for group in s.ingest_many([[item] for b in batches for item in b], group=1,
                                             bulk=mode == "bulk-group1") for e in group]
    s.bulk_writer = mode != "bulk-inprocess"
    return [e for group in s.ingest_many(batches, group=10_000, bulk=mode.startswith("bulk")) for e in group]


def _run(path: Path, steps: list[Any], mode: str) -> dict[str, Any]:
    s = SqliteStore(path)
    s.warm()  # the column snapshot is kept current through every mode's writes
    events, run = [], []  # type: ignore[var-annotated]
    for step in [*steps, None]:
        if isinstance(step, list):
            run.append(step)
            continue
        events += _ingest_run(s, run, mode)
        run = []
        if isinstance(step, End):
            events += s.end_crawl(step.source, step.crawl, True, week(step.at))
    keys = sorted(h.key for h in s.search("*", limit=1000).hits)
    seen: dict[str, Any] = {
        "events": sorted((e.id, e.type.value, e.listing_key, e.details.get("new_price")) for e in events),
        "stored_events": sorted(e.id for e in s.events(limit=10_000)),
        "histories": {k: s.listing(k).model_dump(mode="json") for k in keys},  # type: ignore[union-attr]
        "counts": s.counts(),
        "vendor": s.vendor("DrGreen").model_dump(mode="json") if s.vendor("DrGreen") else None,  # type: ignore[union-attr]
        # full text (deferred to the end of a bulk load) and the kept column snapshot
        "text": {q: sorted(h.key for h in s.search(q, limit=1000).hits) for q in ("etonitazene", "restock", "batch")},
        "facets": s.search("*", limit=0, facets=["market", "substance", "vendor"]).model_dump(mode="json"),
        # every column of the upserted tables: first/last seen and capture, sightings, profile
        "vendor_rows": sorted(s._db.execute("SELECT * FROM vendors").fetchall()),
        "identifier_rows": sorted(s._db.execute("SELECT * FROM identifiers").fetchall()),
        "indexes": sorted(r[0] for r in s._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")),
    }
    s._db.execute("INSERT INTO docs_fts(docs_fts) VALUES ('integrity-check')")  # raises on a missing or extra row
    s.close()
    return seen


@pytest.mark.parametrize("mode", [m for m in MODES if m != "single"])
@pytest.mark.parametrize("case", _CASES, ids=[c.name for c in _CASES])
def test_batched_ingest_equals_one_item_per_call(tmp_path: Path, case: Case, mode: str) -> None:
    batched = _run(tmp_path / "batched.sqlite", case.steps, mode)
    single = _run(tmp_path / "single.sqlite", case.steps, "single")
    assert batched["events"], "every case produces events"
    for part in ("events", "stored_events", "counts", "vendor", "histories", "text", "facets", "vendor_rows",
                 "identifier_rows", "indexes"):
        assert batched[part] == single[part], part


Check = Callable[[dict[str, Any]], bool]
_EXPECT: list[tuple[str, Check]] = [  # each case produces the event it is named for
    ("price change", lambda r: any(t == "PRICE_CHANGED" for _, t, _, _ in r["events"])),
    ("price change within one batch", lambda r: any(t == "PRICE_CHANGED" for _, t, _, _ in r["events"])),
    ("text change", lambda r: any(t == "TEXT_CHANGED" for _, t, _, _ in r["events"])),
    ("removal and reappearance", lambda r: {"REMOVED", "REAPPEARED"} <= {t for _, t, _, _ in r["events"]}),
    ("vendor on a new market, identifier first seen once",
     lambda r: [t for _, t, _, _ in r["events"]].count("IDENTIFIER_FIRST_SEEN") == 1
     and "VENDOR_NEW_MARKET" in {t for _, t, _, _ in r["events"]}),
    ("novel substance", lambda r: any(t == "NOVEL_SUBSTANCE" for _, t, _, _ in r["events"])),
]


@pytest.mark.parametrize("name,check", _EXPECT, ids=[n for n, _ in _EXPECT])
def test_each_case_exercises_its_change(tmp_path: Path, name: str, check: Check) -> None:
    case = next(c for c in _CASES if c.name == name)
    assert check(_run(tmp_path / "s.sqlite", case.steps, "batched"))
