"""SQLite-only behaviour behind the contract: compact snapshots, FTS upkeep, rank window, v1 -> v2."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from narcwatch.index.changes import Known, plan
from narcwatch.index.documents import dumps, iso
from narcwatch.index.sqlite import SCHEMA_VERSION, SqliteStore
from narcwatch.index.sqlite_schema import MIGRATIONS, split_sql

from .conftest import T0, corpus, extraction, listing, week

_Q = ["etonitazene", "class:nitazene", "vendor:drgreen", "price:[80 TO 120]", "ships_from:CO", "wallet:*",
      '"powder 5g"', "available:false", "substance:etonitazene AND NOT market:alpha", "*"]


def _json(v: Any) -> Any:
    return json.loads(dumps(v))


def _rows(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = SqliteStore(tmp_path / "s.sqlite")
    yield s
    s.close()


def test_history_returns_exactly_the_planned_snapshots(store: SqliteStore) -> None:
    batch = corpus()
    planned = plan(batch, Known())
    store.ingest(batch)
    for key, doc in planned.docs.items():
        h = store.listing(key)
        assert h is not None
        assert h.snapshots == [_json(s) for s in planned.snapshots if s["key"] == key]
        assert h.current == _json(doc)


def test_unchanged_recrawl_shares_its_content_row(store: SqliteStore) -> None:
    one = lambda crawl, at, title, price: [(listing("alpha", "1", title, crawl=crawl, at=at, price=price),  # noqa: E731
                                            extraction("etonitazene", "nitazene"))]
    store.ingest(one("c1", T0, "Etonitazene 5g", "200"))
    store.ingest(one("c2", week(1), "Etonitazene 5g", "150"))  # price only: same content
    assert (_rows(store._db, "snapshots"), _rows(store._db, "contents")) == (2, 1)
    store.ingest(one("c3", week(2), "Etonitazene 5g restock", "150"))
    assert (_rows(store._db, "snapshots"), _rows(store._db, "contents")) == (3, 2)
    h = store.listing("alpha:1")
    assert h is not None
    assert [(s["title"], s["price"]) for s in h.snapshots] == [
        ("Etonitazene 5g", "200"), ("Etonitazene 5g", "150"), ("Etonitazene 5g restock", "150")]


class Change(NamedTuple):
    before: str
    after: str
    gone: str
    found: str


_CHANGES = [
    Change("alpha bravo", "charlie delta", "bravo", "charlie"),
    Change("alpha bravo", "alpha bravo", "zulu", "bravo"),  # unchanged text is not re-indexed, still found
    Change("Ketamine 5g", "Ketamine 5g", "class:nitazene", "class:dissociative"),
]


@pytest.mark.parametrize("row", _CHANGES, ids=[f"{c.before}->{c.after}:{c.found}" for c in _CHANGES])
def test_text_and_terms_follow_the_current_version(store: SqliteStore, row: Change) -> None:
    store.ingest([(listing("alpha", "1", row.before), extraction("etonitazene", "nitazene"))])
    store.ingest([(listing("alpha", "1", row.after, crawl="c2", at=week(1)), extraction("ketamine", "dissociative"))])
    assert store.search(row.gone).total == 0
    assert store.search(row.found).keys == ["alpha:1"]
    assert store._db.execute("INSERT INTO docs_fts(docs_fts, rank) VALUES ('integrity-check', 1)") is not None


def test_two_crawls_of_one_listing_in_one_batch(store: SqliteStore) -> None:
    events = store.ingest([(listing("alpha", "1", "old words", price="100"), None),
                           (listing("alpha", "1", "new words", price="90", crawl="c2", at=week(1)), None)])
    assert sorted(e.type.value for e in events) == ["NEW", "NEW_VENDOR", "PRICE_CHANGED", "TEXT_CHANGED"]
    assert store.search("old").total == 0 and store.search("new").keys == ["alpha:1"]
    h = store.listing("alpha:1")
    assert h is not None and [s["title"] for s in h.snapshots] == ["old words", "new words"]
    assert h.current["title"] == "new words" and h.current["snapshot_id"] == h.snapshots[-1]["id"]


@pytest.mark.parametrize("columns", [False, True], ids=["sql", "columns"])
def test_rank_window_scores_only_the_newest_matches_and_counts_all(tmp_path: Path, columns: bool) -> None:
    store = SqliteStore(tmp_path / "s.sqlite", rank_window=3, columns=columns)
    store.ingest([(listing("m", str(i), "crystal " + "filler " * (9 - i), vendor=f"v{i % 2}"), None)
                  for i in range(10)])
    assert store.warm() is columns
    r = store.search("crystal", limit=10)
    assert r.total == 10 and r.rank_window == 3
    # exactly the newest 3 matches, by bm25: shortest text first
    assert r.keys == ["m:9", "m:8", "m:7"]
    f = store.search("crystal AND vendor:v0", limit=10)  # 5 of 10 match: the newest 3 of them
    assert f.total == 5 and f.rank_window == 3 and f.keys == ["m:8", "m:6", "m:4"]
    shortest_last = SqliteStore(tmp_path / "s.sqlite", rank_window=3, columns=columns)
    assert shortest_last.search("crystal", limit=2, offset=1).keys == ["m:8", "m:7"]  # a page inside the window
    shortest_last.close()
    small = store.search("crystal AND vendor:v0 AND key:m\\:4")
    assert small.total == 1 and small.rank_window is None and small.keys == ["m:4"]
    wide = SqliteStore(tmp_path / "s.sqlite", rank_window=100, columns=False).search("crystal", limit=10)
    assert wide.rank_window is None and wide.keys == [f"m:{i}" for i in range(9, -1, -1)]
    store.close()


@pytest.mark.parametrize("columns", [False, True], ids=["sql", "columns"])
def test_rank_window_reaches_back_when_the_newest_documents_hold_few_matches(tmp_path: Path, columns: bool) -> None:
    store = SqliteStore(tmp_path / "s.sqlite", rank_window=3, columns=columns)
    store.ingest([(listing("m", str(i), "crystal " + "filler " * (19 - i), vendor="v0" if i < 5 else "v1"), None)
                  for i in range(20)])
    store.warm()
    r = store.search("crystal AND vendor:v0", limit=10)  # the slice (newest 15 documents) holds no match
    assert r.total == 5 and r.rank_window == 3 and r.keys == ["m:4", "m:3", "m:2"]  # the newest three v0 matches
    store.close()


def test_optimize_keeps_every_answer(store: SqliteStore) -> None:
    store.ingest(corpus())
    before = {q: store.search(q, limit=100).keys for q in _Q}
    store.optimize()
    assert {q: store.search(q, limit=100).keys for q in _Q} == before


# --- v1 -> v2 -----------------------------------------------------------------------


def _write_v1(path: Path, batches: list[list[Any]]) -> None:
    """A store as narcwatch v1 wrote it: the full document JSON on docs and on every snapshot."""
    db = sqlite3.connect(path, isolation_level=None)
    for stmt in split_sql(MIGRATIONS[0]):  # type: ignore[arg-type]
        db.execute(stmt)
    db.execute("PRAGMA user_version=1")
    current: dict[str, dict[str, Any]] = {}
    vendors: dict[str, set[str]] = {}
    for batch in batches:
        p = plan(batch, Known(current={k: dict(v) for k, v in current.items()},
                              vendor_sources={k: set(v) for k, v in vendors.items()}))
        for s in p.snapshots:
            db.execute("INSERT INTO snapshots VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (s["id"], s["key"], s["crawl_id"], s["seen_at"], None if s["price"] is None else str(s["price"]),
                        s["currency"], None, None, int(s["available"]),
                        s["vendor"].lower() if s["vendor"] and s["type"] == "listing" else None,
                        s["capture_id"], s["capture_sha256"], dumps(s)))
        for d in p.docs.values():
            db.execute("DELETE FROM docs WHERE key = ?", (d["key"],))
            db.execute("""INSERT INTO docs (key, key_lc, type, source_lc, vendor_lc, category_lc, currency_lc, url_lc,
                              capture_lc, title, text, price, usd_per_gram, available, novel, last_crawl, first_seen,
                              last_seen, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                       (d["key"], d["key"].lower(), d["type"], d["source"].lower(),
                        d["vendor"].lower() if d["vendor"] else None, None,
                        d["currency"].lower() if d["currency"] else None, d["url"].lower(), d["capture_id"].lower(),
                        d["title"], d["text"], None if d["price"] is None else float(d["price"]),
                        None if d["usd_per_gram"] is None else float(d["usd_per_gram"]), int(d["available"]),
                        int(d["novel"]), d["crawl_id"], d["first_seen"], d["last_seen"], dumps(d)))
            current[d["key"]] = json.loads(dumps(d))
        for rid, d in db.execute("SELECT rid, doc FROM docs").fetchall():
            for f in ("substances", "classes", "ships_from", "wallets", "pgp", "identifiers"):
                for v in json.loads(d).get(f) or ():
                    db.execute("INSERT OR IGNORE INTO terms VALUES (?,?,?)", (f, v.lower(), rid))
        for v in p.vendors.values():
            db.execute("INSERT OR IGNORE INTO vendors VALUES (?,?,?,?,?,?,?,?)",
                       (v["source"], v["handle_lc"], v["handle"], v["first_seen"], v["last_seen"], v["capture_id"],
                        v["capture_sha256"], json.dumps(v["profile"]) if v["profile"] else None))
            vendors.setdefault(v["handle_lc"], set()).add(v["source"])
        for e in p.events:
            db.execute("INSERT INTO events (id, type, at, source, listing_key, vendor, capture_id, capture_sha256, "
                       "details) VALUES (?,?,?,?,?,?,?,?,?)", (e.id, e.type.value, iso(e.at), e.source, e.listing_key,
                                                              e.vendor, e.capture_id, e.capture_sha256, dumps(e.details)))
    db.close()


def test_a_v1_store_migrates_and_answers_like_a_fresh_one(tmp_path: Path) -> None:
    recrawl = [(listing("alpha", "1", "Etonitazene powder 5g lab grade", price="150", crawl="c2", at=week(1)),
                extraction("etonitazene", "nitazene", grams="5", usd="150"))]
    _write_v1(tmp_path / "old.sqlite", [corpus(), recrawl])
    old = SqliteStore(tmp_path / "old.sqlite")
    fresh = SqliteStore(tmp_path / "fresh.sqlite")
    fresh.ingest(corpus())
    fresh.ingest(recrawl)
    assert old.schema_version == SCHEMA_VERSION == 5
    for q in _Q:
        assert old.search(q, limit=100).keys == fresh.search(q, limit=100).keys, q
    for key in ("alpha:1", "beta:9", "forum:p1"):
        a, b = old.listing(key), fresh.listing(key)
        assert a is not None and b is not None
        assert (a.current, a.snapshots) == (b.current, b.snapshots)
    va, vb = old.vendor("drgreen"), fresh.vendor("drgreen")
    assert va is not None and vb is not None
    assert (va.listings, va.price_history[0]["price"]) == (vb.listings, vb.price_history[0]["price"])
    # and it keeps working: the next crawl plans against the migrated rows
    nxt = [(listing("alpha", "1", "Etonitazene powder 5g lab grade", price="120", crawl="c3", at=week(2)),
            extraction("etonitazene", "nitazene", grams="5", usd="120"))]
    assert [e.type.value for e in old.ingest(nxt)] == [e.type.value for e in fresh.ingest(nxt)] == ["PRICE_CHANGED"]
    old.close()
    fresh.close()


def test_a_v2_store_opens_at_v5_without_the_random_order_indexes_and_with_a_changelog(tmp_path: Path) -> None:
    from narcwatch.index.sqlite_schema import apply

    db = sqlite3.connect(tmp_path / "v2.sqlite", isolation_level=None)
    for i, m in enumerate(MIGRATIONS[:2]):
        apply(db, m)
        db.execute(f"PRAGMA user_version={i + 1}")
    db.close()
    s = SqliteStore(tmp_path / "v2.sqlite")
    assert s.schema_version == 5
    assert s._db.execute("SELECT count(*) FROM bulk_load").fetchone()[0] == 0  # v5: no bulk load running
    names = {r[0] for r in s._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert not names & {"docs_price", "docs_ppg", "docs_first"} and "docs_last" in names
    s.ingest(corpus())
    assert s.search("price:[100 TO 300] AND first_seen:>=2026-11-01", limit=100).total == 3
    logged = [r[0] for r in s._db.execute("SELECT rid FROM changelog ORDER BY seq")]
    assert sorted(logged) == [r[0] for r in s._db.execute("SELECT rid FROM docs ORDER BY rid")]
    s.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "s.sqlite")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer"):
        SqliteStore(tmp_path / "s.sqlite")


def test_a_store_under_a_path_with_uri_characters_reads_through_its_read_only_connections(tmp_path: Path) -> None:
    odd = tmp_path / "case ?x=1 #2 50%" / "s.sqlite"
    store = SqliteStore(odd)
    store.ingest([(listing("m", str(i), f"crystal lot{i}"), None) for i in range(3)])
    assert store.search("crystal").total == 3  # counted on the reader connection
    store._load_columns(store._stamp())  # the background snapshot loader's own connection
    assert store._cols is not None and store._cols.size >= 3
    store.close()
    assert not (tmp_path / "case ").exists()  # nothing was opened at a truncated path


class Recrawl(NamedTuple):
    vendor: str  # the second crawl's vendor (the first's is "DrGreen")
    removed_between: bool  # two complete crawls without the listing before it comes back


_RECRAWLS = [Recrawl("DrGreen", False), Recrawl("BlueLab", False), Recrawl("DrGreen", True), Recrawl("BlueLab", True)]


@pytest.mark.parametrize("row", _RECRAWLS, ids=[f"{r.vendor}{'-after-removal' if r.removed_between else ''}"
                                                for r in _RECRAWLS])
def test_a_recrawl_leaves_the_docs_row_and_its_indexes_as_a_first_crawl_would(tmp_path: Path, row: Recrawl) -> None:
    """A recrawl that changes no indexed column writes only the live ones (the indexes on
    key, source, vendor and first seen are left alone); one that does rewrites them all."""
    s = SqliteStore(tmp_path / "s.sqlite", columns=False)  # searches answered by SQL, through the docs indexes
    s.ingest([(listing("alpha", "1", "Etonitazene 5g", vendor="DrGreen", price="200"), None)])
    if row.removed_between:
        for i, crawl in enumerate(("c2", "c3"), start=1):
            s.ingest([(listing("alpha", "2", "Other", vendor="Else", crawl=crawl, at=week(i)), None)])
            s.end_crawl("alpha", crawl, True, week(i))
        assert s._db.execute("SELECT removed FROM docs WHERE key = 'alpha:1'").fetchone() == (1,)
    s.ingest([(listing("alpha", "1", "Etonitazene 5g", vendor=row.vendor, price="150", crawl="c4", at=week(4)), None)])
    got = s._db.execute("SELECT vendor_lc, removed, missed, first_seen, last_seen, price, last_crawl FROM docs "
                        "WHERE key = 'alpha:1'").fetchone()
    assert got == (row.vendor.lower(), 0, 0, iso(T0), iso(week(4)), 150.0, "c4")
    assert s.search(f"vendor:{row.vendor}").keys == ["alpha:1"]
    if row.vendor != "DrGreen":
        assert s.search("vendor:DrGreen").total == 0
    assert s.search("market:alpha AND price:<160").keys == ["alpha:1"]
    assert s._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    s.close()
