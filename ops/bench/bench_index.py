"""Index benchmarks: SQLite ingest rate, search p95 on a large store, vendor history, disk.

Synthetic, seeded corpus (fictional markets/vendors; a sandbox-generated corpus can
replace it later). ``NW_BENCH_LISTINGS`` sets the store size (default 1,000,000).
Only ``store.ingest`` / ``store.search`` calls are timed, not item generation.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from narcwatch.crawler.models import Listing, Money
from narcwatch.extract.models import Extraction, Offer, SubstanceMention
from ops.bench.harness import Result

SUBSTANCES = [("etonitazene", "nitazene"), ("protonitazene", "nitazene"), ("metonitazene", "nitazene"),
              ("fentanyl", "fentanyl_analogue"), ("carfentanil", "fentanyl_analogue"), ("oxycodone", "other_opioid"),
              ("alprazolam", "benzodiazepine"), ("bromazolam", "benzodiazepine"), ("cocaine", "stimulant"),
              ("methamphetamine", "stimulant"), ("3-mmc", "cathinone"), ("ketamine", "dissociative"),
              ("mdma", "empathogen"), ("lsd", "psychedelic"), ("cannabis", "cannabis"), ("4f-mdmb-binaca", "synthetic_cannabinoid")]
COUNTRIES = ["NL", "DE", "UK", "US", "CA", "ES", "FR", "PL", "CN", "IN", "AU", "BE"]
WORDS = "pure stealth fast lab grade tested crystal powder bulk sample premium restock discount escrow vacuum sealed".split()
T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)


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


MIX = [  # the fixed mix: text, filter, range, facet
    ("text", {"query": "etonitazene"}), ("text", {"query": '"lab grade" stealth'}), ("text", {"query": "crys*"}),
    ("filter", {"query": "class:nitazene AND ships_from:EU"}), ("filter", {"query": "vendor:vendor0042"}),
    ("filter", {"query": "market:market03 AND substance:ketamine"}),
    ("range", {"query": "usd_per_gram:<20 AND class:fentanyl_analogue"}),
    ("range", {"query": "first_seen:[2026-03-01 TO 2026-03-08] AND price:>500"}),
    ("range", {"query": "class:nitazene AND ships_from:EU AND usd_per_gram:<50", "sort": "usd_per_gram"}),
    ("facet", {"query": "class:nitazene", "facets": ["market", "ships_from"]}),
    ("facet", {"query": "etonitazene AND usd_per_gram:<30", "facets": ["class", "vendor"]}),
]


def _p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[18] if len(xs) > 1 else xs[0]


def sqlite_index(n: int | None = None) -> list[Result]:
    from narcwatch.index.sqlite import SqliteStore

    n = n or int(os.environ.get("NW_BENCH_LISTINGS", "1000000"))
    out: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "store.sqlite")
        spent = 0.0
        for b in batches(n):
            t = time.perf_counter()
            store.ingest(b)
            spent += time.perf_counter() - t
        out.append(Result("index.sqlite.ingest", n / spent, "listings/s", f"{n:,} listings, batches of 1000, FTS5 + terms"))
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        out.append(Result("index.sqlite.disk", size / n * 1_000_000 / 2**20, "MiB/1M listings", f"{size / 2**20:.0f} MiB at {n:,}"))
        store._db.execute("ANALYZE")
        times: dict[str, list[float]] = {}
        for _ in range(5):
            for kind, q in MIX:
                t = time.perf_counter()
                store.search(q["query"], sort=q.get("sort"), facets=q.get("facets", ()), limit=20)
                times.setdefault(kind, []).append((time.perf_counter() - t) * 1000)
        every = [x for v in times.values() for x in v]
        out.append(Result("index.sqlite.search.p95", _p95(every), "ms", f"mix of {len(MIX)} queries x5 on {n:,}",
                          {k: round(_p95(v), 1) for k, v in times.items()}))
        vt = []
        for v in range(0, 5000, 250):
            t = time.perf_counter()
            store.vendor(f"vendor{v:04d}")
            vt.append((time.perf_counter() - t) * 1000)
        out.append(Result("index.sqlite.vendor.p95", _p95(vt), "ms", f"20 vendors, ~{n // 5000} listings each"))
        store.close()
    return out


BENCHMARKS = {"index": sqlite_index}
