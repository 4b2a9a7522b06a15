"""Index benchmarks: SQLite ingest rate, search p95 on a large store, vendor history, disk.

The corpus is sandbox-generated (``sandbox_batches``): the listings of
``World(seed=7, size=N)`` as its three markets show them (titles, free-text
descriptions with tier prices, vendors, ships-from/to, USD/EUR/RUB prices; English and
Russian), each observed once at its creation time, with the extraction a perfect
pipeline would give built from the sandbox's ground truth (``listing_facts``).
``NW_BENCH_CORPUS=synthetic`` switches back to the old 15-word synthetic corpus
(``batches``), kept only to compare with figures measured before. ``NW_BENCH_LISTINGS``
sets the store size (default 1,000,000). Only store calls (``ingest_many``/``ingest``,
``search``) are timed, not item generation or reading the corpus.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from narcwatch.crawler.models import Listing, Money
from narcwatch.extract.models import Extraction, Identifier, IdentifierKind, Offer, SubstanceClass, SubstanceMention, Wallet
from narcwatch.index.documents import dumps
from ops.bench.harness import Result

if TYPE_CHECKING:
    from narcwatch.index.sqlite import SqliteStore

SUBSTANCES = [("etonitazene", "nitazene"), ("protonitazene", "nitazene"), ("metonitazene", "nitazene"),
              ("fentanyl", "fentanyl_analogue"), ("carfentanil", "fentanyl_analogue"), ("oxycodone", "other_opioid"),
              ("alprazolam", "benzodiazepine"), ("bromazolam", "benzodiazepine"), ("cocaine", "stimulant"),
              ("methamphetamine", "stimulant"), ("3-mmc", "cathinone"), ("ketamine", "dissociative"),
              ("mdma", "empathogen"), ("lsd", "psychedelic"), ("cannabis", "cannabis"), ("4f-mdmb-binaca", "synthetic_cannabinoid")]
COUNTRIES = ["NL", "DE", "UK", "US", "CA", "ES", "FR", "PL", "CN", "IN", "AU", "BE"]
WORDS = "pure stealth fast lab grade tested crystal powder bulk sample premium restock discount escrow vacuum sealed".split()
T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
_IDENT_KINDS = {k.value for k in IdentifierKind}


def batches(n: int, size: int = 1000, seed: int = 7) -> "list[list[tuple[Listing, Extraction]]]":
    rng = random.Random(seed)
    for start in range(0, n, size):
        batch = []
        for i in range(start, min(n, start + size)):
            sub, cls = SUBSTANCES[rng.randrange(len(SUBSTANCES))]
            grams = rng.choice([1, 2, 5, 10, 25, 50])
            usd = Decimal(rng.randint(5, 400) * grams) / Decimal(4)
            market = f"market{rng.randrange(12):02d}"
            at = T0 + timedelta(minutes=i // 3)
            frm = rng.choice(COUNTRIES)
            title = f"{sub.title()} {grams}g {' '.join(rng.sample(WORDS, 3))}"
            item = Listing(source=market, site_id=str(i), url=f"http://{market}.example/l/{i}", crawl_id=f"c{i // 50_000}",
                           seen_at=at, title=title, vendor=f"vendor{rng.randrange(5000):04d}",
                           description=" ".join(rng.choices(WORDS, k=20)), price=Money(amount=usd, currency="USD"),
                           ships_from=frm, capture_id=f"cap{i}", capture_sha256="0" * 64)
            ext = Extraction(substances=[SubstanceMention(canonical=sub, start=0, end=1, **{"class": cls})],
                             offers=[Offer(start=0, end=1, quantity=Decimal(grams), unit="g", price=usd, currency="USD",
                                           usd=usd, usd_per_unit=usd / grams)],
                             ships_from=[frm, "EU"] if frm in ("NL", "DE", "ES", "FR", "PL", "BE") else [frm])
            batch.append((item, ext))
        yield batch


def sandbox_batches(n: int, size: int = 1000, seed: int = 7, recrawl_after: float | None = None,
                    world_size: int | None = None) -> "Iterator[list[tuple[Listing, Extraction]]]":
    """``n`` sandbox listings in batches, markets interleaved as a crawler's spool has them.

    ``world_size``: the first ``n`` listings of the world made for that many (default
    ``n``): the world depends on its size (vendors, titles, texts per key), so a recrawl of
    part of a loaded store must come from the store's world, or every "known" listing
    comes back with another vendor and text.

    Listing ``j`` of each market is seen at its creation hour (so first/last seen spread
    over the 83 days before the sandbox epoch) in the crawl of that day. With
    ``recrawl_after`` every listing is instead seen that many hours later, in a second
    crawl: prices follow the sandbox's price epochs and sold-out states, so re-ingesting
    it over a loaded store exercises PRICE_CHANGED / TEXT_CHANGED and unchanged snapshots.
    """
    from narcwatch.index.documents import stable_id
    from narcwatch.sandbox import lexicon
    from narcwatch.sandbox.clock import EPOCH
    from narcwatch.sandbox.listings import description, listing_facts
    from narcwatch.sandbox.world import World

    world = World(seed, size=max(world_size or n, n, 50))
    ls = world.listings
    markets = list(world.markets.values())
    classes = {c.value for c in SubstanceClass}
    batch: list[tuple[Listing, Extraction]] = []
    made = 0
    for j in range(max(m.n0 for m in markets)):
        for m in markets:
            if made >= n:
                break
            d = ls.get(m.id, j) if j < m.n0 else None
            if d is None:
                continue
            hours = d.created + (recrawl_after or 0.0)
            day = int(hours // 24)
            at = EPOCH + timedelta(hours=hours)
            facts = listing_facts(ls, d, hours, m.currency)
            rate = Decimal(str(world.rate(m.currency, hours)))
            offers = []
            for o in facts["offers"]:  # type: ignore[attr-defined]
                price, qty = Decimal(o["price"]), Decimal(o["quantity"])
                usd = (price / rate).quantize(Decimal("0.01"))
                offers.append(Offer(start=0, end=1, quantity=qty, unit=o["unit"], price=price, currency=m.currency,
                                    usd=usd, usd_per_unit=(usd / qty).quantize(Decimal("0.0001"))))
            subs = [SubstanceMention(canonical=s["canonical"], start=0, end=1, cas=s["cas"],
                                     **{"class": s["class"] if s["class"] in classes else "other"})
                    for s in facts["substances"]]  # type: ignore[attr-defined]
            wallets = [Wallet(start=0, end=1, chain=w["chain"], network=w["network"], address=w["address"],
                              kind=w["kind"]) for w in facts["wallets"]]  # type: ignore[attr-defined]
            idents = [Identifier(start=0, end=1, kind=i["kind"], value=i["value"])
                      for i in facts["identifiers"] if i["kind"] in _IDENT_KINDS]  # type: ignore[attr-defined]
            text = description(ls, d, hours, m.currency)
            crawl = f"{m.id}-{day}"
            item = Listing(source=m.id, site_id=d.site_id, url=f"http://{m.onion}/listing/{d.site_id}", crawl_id=crawl,
                           seen_at=at, title=d.title, vendor=d.account.handle,
                           category=lexicon.CATEGORIES[d.category], price=Money(amount=offers[0].price, currency=m.currency),
                           ships_from=d.ships_from, ships_to=d.ships_to, description=text,
                           available=ls.available(d, hours), language=m.language,
                           capture_id=stable_id("cap", m.id, d.site_id, crawl), capture_sha256=stable_id(text) * 2)
            ext = Extraction(substances=subs, offers=offers, wallets=wallets, identifiers=idents,
                             ships_from=[d.ships_from_code], ships_to=list(d.ships_to_codes))
            batch.append((item, ext))
            made += 1
            if len(batch) == size:
                yield batch
                batch = []
        if made >= n:
            break
    if batch:
        yield batch


def sandbox_vendors(n: int, count: int = 20, seed: int = 7) -> list[str]:
    """``count`` vendor handles of the n-listing world that have listings (for vendor history)."""
    from narcwatch.sandbox.world import World

    world = World(seed, size=max(n, 50))
    handles = sorted({a.handle for m in world.markets for a in world.accounts(m)})
    return random.Random(seed).sample(handles, min(count, len(handles)))


def corpus_batches(n: int, recrawl_after: float | None = None,
                   world_size: int | None = None) -> "Iterator[list[tuple[Listing, Extraction]]]":
    """The benchmark corpus. With ``NW_BENCH_STORE`` the sandbox corpus is generated once
    (about 0.5 ms a listing) into ``corpus-N-seed7[-recrawl].pickle`` there and streamed
    from it afterwards: item generation is never timed, but it need not be waited for twice."""
    if os.environ.get("NW_BENCH_CORPUS") == "synthetic":
        yield from batches(n)
        return
    keep = os.environ.get("NW_BENCH_STORE")
    if not keep:
        yield from sandbox_batches(n, recrawl_after=recrawl_after, world_size=world_size)
        return
    import pickle

    tag = f"-recrawl{recrawl_after:g}" if recrawl_after else ""
    of = f"-of{world_size}" if world_size and world_size != n else ""
    path = Path(keep) / f"corpus-{n}{of}-seed7{tag}.pickle"
    done = path.with_suffix(".done")
    if done.exists():
        with path.open("rb") as f:
            while True:
                try:
                    yield pickle.load(f)
                except EOFError:
                    return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for b in sandbox_batches(n, recrawl_after=recrawl_after, world_size=world_size):
            pickle.dump(b, f, protocol=pickle.HIGHEST_PROTOCOL)
            yield b
    done.write_text(f"{n}\n")


MIX = [  # the old synthetic corpus's fixed mix (NW_BENCH_CORPUS=synthetic): text, filter, range, facet
    ("text", {"query": "etonitazene"}), ("text", {"query": '"lab grade" stealth'}), ("text", {"query": "crys*"}),
    ("filter", {"query": "class:nitazene AND ships_from:EU"}), ("filter", {"query": "vendor:vendor0042"}),
    ("filter", {"query": "market:market03 AND substance:ketamine"}),
    ("range", {"query": "usd_per_gram:<20 AND class:fentanyl_analogue"}),
    ("range", {"query": "first_seen:[2026-03-01 TO 2026-03-08] AND price:>500"}),
    ("range", {"query": "class:nitazene AND ships_from:EU AND usd_per_gram:<50", "sort": "usd_per_gram"}),
    ("facet", {"query": "class:nitazene", "facets": ["market", "ships_from"]}),
    ("facet", {"query": "etonitazene AND usd_per_gram:<30", "facets": ["class", "vendor"]}),
]


def sandbox_mix(vendor: str) -> list[tuple[str, dict[str, object]]]:
    """The fixed mix on the sandbox corpus: what analysts ask of it. Text terms span the
    frequencies the corpus has: a rare substance (0.2% of listings), a prefix over the
    obfuscated spellings (5%), a phrase in 15% and two words in 30% of listings, Cyrillic."""
    return [
        ("text", {"query": "etonitazene"}), ("text", {"query": "crys*"}), ("text", {"query": '"vacuum sealed" stealth'}),
        ("text", {"query": "top quality"}), ("text", {"query": "гашиш"}),
        ("filter", {"query": "class:nitazene AND ships_from:DE"}), ("filter", {"query": f"vendor:{vendor}"}),
        ("filter", {"query": "market:velvet-market AND substance:ketamine"}),
        ("range", {"query": "usd_per_gram:<20 AND class:fentanyl_analogue"}),
        ("range", {"query": "first_seen:[2024-02-01 TO 2024-02-08] AND price:>500"}),
        ("range", {"query": "class:nitazene AND ships_from:NL AND usd_per_gram:<50", "sort": "usd_per_gram"}),
        ("facet", {"query": "class:nitazene", "facets": ["market", "ships_from"]}),
        ("facet", {"query": "crys* AND usd_per_gram:<30", "facets": ["class", "vendor"]}),
        ("facet", {"query": "*", "facets": ["class", "market", "ships_from", "vendor"]}),
    ]


def _p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[18] if len(xs) > 1 else xs[0]


def _synthetic() -> bool:
    return os.environ.get("NW_BENCH_CORPUS") == "synthetic"


def _sqlite_store_path(n: int) -> tuple[Path, bool]:
    """Where the n-listing store lives and whether it is already loaded.

    ``NW_BENCH_STORE=DIR`` keeps the store in DIR (named by corpus, size, seed and schema
    version) so a 1M corpus is generated and ingested once and reused by later search
    runs (and by the dashboards benchmark); without it the store goes to a temporary
    directory removed after the run.
    """
    from narcwatch.index.sqlite import SCHEMA_VERSION

    keep = os.environ.get("NW_BENCH_STORE")
    if not keep:
        return Path(tempfile.mkdtemp(prefix="nw-bench-index-")) / "store.sqlite", False
    corpus = "index" if _synthetic() else "sandbox"
    path = Path(keep) / f"{corpus}-{n}-seed7-v{SCHEMA_VERSION}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.with_suffix(".done").exists():
        return path, True
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    return path, False


PHASES = ("lookup", "plan", "write", "commit", "columns", "rebuild")


class _Untimed:
    """Iterates ``batches``, keeping the seconds spent producing them (reading the corpus
    from its pickle) apart, so that a store call consuming it times only its own work."""

    def __init__(self, batches: "Iterator[list[tuple[Listing, Extraction]]]"):
        self.it, self.seconds = batches, 0.0

    def __iter__(self) -> "_Untimed":
        return self

    def __next__(self) -> "list[tuple[Listing, Extraction]]":
        t = time.perf_counter()
        try:
            return next(self.it)
        finally:
            self.seconds += time.perf_counter() - t


def _load(store: "SqliteStore", n: int, out: list[Result]) -> None:
    """Bulk load, then a recrawl of a tenth of the corpus 300 hours later (prices moved,
    some sold out), then ``optimize``.

    The load is a backfill as ``narcwatch`` does one: ``bulk_load`` (deferred secondary
    indexes and full text, rebuilt at its end, that time included) around
    one ``ingest_many`` call over the corpus's batches of 1,000 (a commit per 50,000).
    ``NW_BENCH_INGEST=batches`` times one ``store.ingest`` call per batch instead (the
    steady path of the spool consumer; the figure reported before the bulk path existed).
    Only store calls are timed, never reading the corpus."""
    before = dict(store.ingest_seconds)
    per_batch = os.environ.get("NW_BENCH_INGEST") == "batches"
    spent, untimed = 0.0, 0.0
    if per_batch:
        for b in corpus_batches(n):
            t = time.perf_counter()
            store.ingest(b)
            spent += time.perf_counter() - t
    else:
        src = _Untimed(corpus_batches(n))
        t = time.perf_counter()
        for _ in store.ingest_many(src, bulk=True):
            pass
        spent = time.perf_counter() - t - src.seconds
        untimed = src.seconds
    phases = {k: round((store.ingest_seconds[k] - before[k]) / n * 1e6, 1) for k in PHASES}
    how = "batches of 1000, one ingest call each" if per_batch else \
        "ingest_many(bulk=True) (batches of 1000, a commit per 50,000, indexes and FTS of new rows rebuilt at the end, included)"
    out.append(Result("index.sqlite.ingest", n / spent, "listings/s",
                      f"{n:,} new listings, {how}; FTS5 + terms + snapshots + events + column snapshot",
                      {"us_per_listing": phases, "mode": "batches" if per_batch else "bulk",
                       "corpus_read_s_untimed": round(untimed, 1)}))
    if not _synthetic():
        m = max(1000, n // 10)
        before, spent, events = dict(store.ingest_seconds), 0.0, 0
        for b in corpus_batches(m, recrawl_after=300.0, world_size=n):  # the loaded listings, 300 h later
            t = time.perf_counter()
            events += len(store.ingest(b))
            spent += time.perf_counter() - t
        phases = {k: round((store.ingest_seconds[k] - before[k]) / m * 1e6, 1) for k in PHASES}
        out.append(Result("index.sqlite.ingest.recrawl", m / spent, "listings/s",
                          f"{m:,} known listings seen again 300 h later: change detection over the loaded store",
                          {"us_per_listing": phases, "events": events}))
    t = time.perf_counter()
    store.optimize()
    out.append(Result("index.sqlite.optimize", time.perf_counter() - t, "s",
                      "once after the bulk load: FTS5 merge, ANALYZE, WAL checkpoint"))


def open_bench_store(n: int, out: list[Result]) -> tuple["SqliteStore", Path, bool]:
    """The n-listing bench store, loaded (and its load measured into ``out``) if it was not."""
    from narcwatch.index.sqlite import SqliteStore

    path, loaded = _sqlite_store_path(n)
    store = SqliteStore(path)
    if not loaded:
        store.warm()  # an empty snapshot kept current through the load, as a serving store's is
        _load(store, n, out)
        if os.environ.get("NW_BENCH_STORE"):
            path.with_suffix(".done").write_text(f"{n}\n")
    return store, path, loaded


def sqlite_index(n: int | None = None) -> list[Result]:
    """Ingest (timed per ``store.ingest`` call), optimize, disk, search mix p95, vendor p95."""
    import shutil

    n = n or int(os.environ.get("NW_BENCH_LISTINGS", "1000000"))
    out: list[Result] = []
    store, path, loaded = open_bench_store(n, out)
    try:
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        out.append(Result("index.sqlite.disk", size / n * 1_000_000 / 2**20, "MiB/1M listings",
                          f"{size / 2**20:.0f} MiB at {n:,}" + (" (reused store)" if loaded else "")))
        t = time.perf_counter()
        if store.warm():
            out.append(Result("index.sqlite.warm", time.perf_counter() - t, "s",
                              "column snapshot (filters, counts, facets) built once when the store opens"))
        if _synthetic():
            mix, vendors = MIX, [f"vendor{v:04d}" for v in range(0, 5000, 250)]
        else:
            vendors = sandbox_vendors(n)
            mix = sandbox_mix(vendors[0])
        for kind, q in mix:  # one untimed pass: a serving store is warm
            store.search(q["query"], sort=q.get("sort"), facets=q.get("facets", ()), limit=20)  # type: ignore[arg-type]
        times: dict[str, list[float]] = {}
        per_query: dict[str, list[float]] = {}
        for _ in range(5):
            for kind, q in mix:
                t = time.perf_counter()
                store.search(q["query"], sort=q.get("sort"), facets=q.get("facets", ()), limit=20)  # type: ignore[arg-type]
                ms = (time.perf_counter() - t) * 1000
                times.setdefault(kind, []).append(ms)
                per_query.setdefault(str(q["query"]), []).append(ms)
        every = [x for v in times.values() for x in v]
        corpus = "synthetic" if _synthetic() else "sandbox"
        out.append(Result("index.sqlite.search.p95", _p95(every), "ms", f"mix of {len(mix)} queries x5 on {n:,} ({corpus})",
                          {"by_kind": {k: round(_p95(v), 1) for k, v in times.items()},
                           "by_query_max": {k: round(max(v), 1) for k, v in per_query.items()}}))
        vt, sizes = [], []
        for v in vendors:
            t = time.perf_counter()
            rep = store.vendor(v)
            vt.append((time.perf_counter() - t) * 1000)
            sizes.append(len(rep.listings) if rep else 0)
        out.append(Result("index.sqlite.vendor.p95", _p95(vt), "ms",
                          f"{len(vendors)} vendors, {min(sizes)}-{max(sizes)} listings each ({corpus})"))
    finally:
        store.close()
        if not os.environ.get("NW_BENCH_STORE"):
            shutil.rmtree(path.parent, ignore_errors=True)
    return out


def osmem_index(n: int | None = None) -> list[Result]:
    """Ingest into osmem through the store's bulk path, next to raw ``helpers.bulk`` in the same run.

    The store path does the whole ingest (mget of the known state, change detection,
    current document + snapshot + vendor + identifiers + events per listing, per-item
    error reading). The raw rate indexes the same current documents (precomputed, not
    timed) with ``opensearchpy.helpers.bulk``: the ceiling the server allows. osmem is an
    in-memory test server, so these figures compare code paths, not a real cluster.
    ``NW_BENCH_OSMEM_LISTINGS`` sets the size (default 20,000).
    """
    from opensearchpy import OpenSearch, helpers
    from osmem_server import OsmemServer

    from narcwatch.index.changes import Known, plan
    from narcwatch.index.search_engine import SearchEngineStore, item_source

    n = n or int(os.environ.get("NW_BENCH_OSMEM_LISTINGS", "20000"))
    out: list[Result] = []
    server = OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    try:
        store = SearchEngineStore.connect("opensearch", server.url, prefix="bench")
        spent, written = 0.0, 0
        for b in corpus_batches(n):
            before = store.bulk_stats.ok + store.bulk_stats.existed
            t = time.perf_counter()
            store.ingest(b)
            spent += time.perf_counter() - t
            written += store.bulk_stats.ok + store.bulk_stats.existed - before
        store.refresh()
        assert store.counts()["listings"] == n, store.counts()
        out.append(Result("index.osmem.ingest", n / spent, "listings/s",
                          f"{n:,} listings, batches of 1000, store.ingest (mget + plan + 2 bulk requests)",
                          {"docs_per_s": round(written / spent), "docs_per_listing": round(written / n, 2),
                           "retried": store.bulk_stats.retried}))
        client = OpenSearch(hosts=[server.url], timeout=60)
        client.indices.create(index="raw", body={"settings": store.templates["listings"]["settings"],
                                                 "mappings": store.templates["listings"]["mappings"]})
        spent_raw = 0.0
        for b in corpus_batches(n):
            docs = [{"_index": "raw", "_id": d["key"], "_source": item_source(d)}
                    for d in plan(b, Known()).docs.values()]
            docs = [dict(a, _source=json.loads(dumps(a["_source"]))) for a in docs]  # jsonable, untimed
            t = time.perf_counter()
            ok, errors = helpers.bulk(client, docs, chunk_size=1000, raise_on_error=False)
            spent_raw += time.perf_counter() - t
            assert not errors, errors[:1]
        out.append(Result("index.osmem.raw_bulk", n / spent_raw, "docs/s",
                          f"{n:,} current documents, opensearchpy.helpers.bulk chunk 1000, same run",
                          {"store_ingest_share": round(spent_raw / spent, 3)}))
        client.close()
        store.close()
    finally:
        server.close()
        for stream in (server.process.stdout, server.process.stdin):
            if stream is not None and not stream.closed:
                stream.close()
    return out


BENCHMARKS = {"index": sqlite_index, "index_osmem": osmem_index}
