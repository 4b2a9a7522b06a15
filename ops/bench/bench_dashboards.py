"""Dashboard server time: search, listing and vendor pages over the index's SQLite store.

The store is the index benchmark's: the sandbox-generated corpus of
``bench_index.sandbox_batches`` (``NW_BENCH_CORPUS=synthetic`` for the old one), and with
``NW_BENCH_STORE=DIR`` the very store ``python -m ops.bench index`` left there, reused
rather than re-ingested. ``NW_BENCH_DASH_LISTINGS`` sets its size (default 1,000,000;
building it is the slow part and is not timed). Each page is requested in-process through the whole app (gate
middleware, session lookup, CSRF-free GET, reader, Jinja rendering, audit write), so the
figure is server time without the network. p95 over the page mix; p50 in ``extra``. The
search page's facets come in a second request (htmx), measured as ``facets``.

``dashboards-beside-ingest`` is the deployment case: ``serve`` in one process, the
daemon's ingest in another (a subprocess writing a recrawl of the corpus into a copy of
the store as fast as it can, with the daemon's store settings). The dashboard's column
snapshot catches up from the store's changelog after each of the writer's commits; with
``catch_up_max=0`` (the pre-v4 behaviour, measured for comparison) it answers from SQL
while the writer runs. Figures are page times during the writer's run.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ops.bench.harness import Result

SYNTHETIC_SEARCH = ["/search?q=etonitazene", "/search?q=class:nitazene+AND+ships_from:EU",
                    "/search?q=usd_per_gram:<20+AND+class:fentanyl_analogue", "/search?q=%22lab+grade%22+stealth",
                    "/search?q=vendor:vendor0042", "/search?q=crys*&sort=-last_seen"]


def search_pages(vendor: str) -> list[str]:
    return ["/search?q=etonitazene", "/search?q=class:nitazene+AND+ships_from:DE",
            "/search?q=usd_per_gram:<20+AND+class:fentanyl_analogue", "/search?q=%22vacuum+sealed%22+stealth",
            f"/search?q=vendor:{quote(vendor)}", "/search?q=crys*&sort=-last_seen", "/search?q=top+quality"]


def _p(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


def _analyst_app(store: Any, data: Path) -> Any:
    """The whole dashboard app over ``store`` with one analyst, "bench" (cheap argon2)."""
    from argon2 import PasswordHasher

    from narcwatch.crawler.config import Config
    from narcwatch.dashboards.app import create_app

    app = create_app(store, data, Config(data_dir=data), password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    app.state.ctx.accounts.add_user("bench", "analyst", "bench password")
    return app


def _log_in(client: Any) -> None:
    page = client.get("/login").text
    token = page.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"username": "bench", "password": "bench password", "login_csrf": token})


def dashboard_pages(n: int | None = None) -> list[Result]:
    import shutil

    from fastapi.testclient import TestClient

    from ops.bench.bench_index import _synthetic, open_bench_store, sandbox_vendors

    n = n or int(os.environ.get("NW_BENCH_DASH_LISTINGS", "1000000"))
    rng = random.Random(11)  # vendors to open
    out: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store, path, loaded = open_bench_store(n, [])
        store.warm()  # a serving store builds its column snapshot once when it opens
        app = _analyst_app(store, data)
        if _synthetic():
            vendors = [f"vendor{v:04d}" for v in rng.sample(range(5000), 20)]
            pages = {"search": SYNTHETIC_SEARCH}
        else:
            vendors = sandbox_vendors(n)
            pages = {"search": search_pages(vendors[0])}
        top = int(store._db.execute("SELECT max(rid) FROM docs").fetchone()[0])
        rids = random.Random(11).sample(range(1, top + 1), 20)
        keys = [r[0] for r in store._db.execute(f"SELECT key FROM docs WHERE rid IN ({','.join(map(str, rids))})")]
        pages["listing"] = [f"/listing?key={quote(k, safe='')}" for k in keys]
        pages["facets"] = [u.replace("/search?", "/search/facets?") for u in pages["search"]]
        pages["vendor"] = [f"/vendor?handle={quote(v)}" for v in vendors]
        with TestClient(app, base_url="http://127.0.0.1") as client:
            _log_in(client)
            for name, urls in pages.items():
                times: list[float] = []
                statuses: set[int] = set()
                for _ in range(3):
                    for url in urls:
                        t = time.perf_counter()
                        r = client.get(url)
                        times.append((time.perf_counter() - t) * 1000)
                        statuses.add(r.status_code)
                out.append(Result(f"dashboards.{name}.p95", _p(times, 95), "ms",
                                  f"{len(urls)} pages x3 on {n:,} listings ({'synthetic' if _synthetic() else 'sandbox'}"
                                  f"{', reused store' if loaded else ''}), in-process, statuses {sorted(statuses)}",
                                  {"p50": round(_p(times, 50), 1), "max": round(max(times), 1)}))
        store.close()
        if not os.environ.get("NW_BENCH_STORE"):
            shutil.rmtree(path.parent, ignore_errors=True)
    return out


def ingest_writer(path: str, m: int, world: int) -> None:
    """The writer process: the recrawl corpus into ``path`` as the daemon writes (small
    cache, no mmap, no column snapshot), batches of 1,000; one JSON line when done.
    ``world``: the size of the loaded store, whose world the recrawl must come from (see
    ``bench_index.sandbox_batches``): another world's recrawl changes every listing's vendor
    and text, which a daemon's recrawl does not."""
    import json
    from datetime import timedelta

    from narcwatch.index.sqlite import SqliteStore
    from ops.bench.bench_index import corpus_batches

    store = SqliteStore(path, cache_mib=16, mmap_mib=0, columns=False)
    done, t = 0, time.perf_counter()
    later = timedelta(hours=100)  # the index bench already ingested this recrawl: observe it again, later
    for b in corpus_batches(100_000, recrawl_after=300.0, world_size=world):
        b = [(item.model_copy(update={"crawl_id": f"{item.crawl_id}-again", "seen_at": item.seen_at + later}), ext)
             for item, ext in b[:m - done]]
        store.ingest(b)
        done += min(len(b), m - done)
        if done >= m:
            break
    spent = time.perf_counter() - t
    rows = store._db.total_changes
    store.close()
    print(json.dumps({"listings": done, "seconds": round(spent, 2), "rows_written": rows}), flush=True)


def _beside_ingest(n: int, m: int, catch_up: bool, src: Path, tmp: Path, pages: dict[str, list[str]],
                   loaded: bool) -> list[Result]:
    import json
    import shutil
    import subprocess
    import sys

    from fastapi.testclient import TestClient

    from narcwatch.index.sqlite import SqliteStore

    copy = tmp / "store.sqlite"
    shutil.copyfile(src, copy)  # the writer changes it: the reused bench store stays as loaded
    store = SqliteStore(copy)
    if not catch_up:
        store.catch_up_max = 0  # every external commit retires the snapshot (the pre-v4 store)
    store.warm()
    calls = {"catch_up": [], "sql": 0, "columns": 0}  # type: ignore[var-annotated]
    fresh, catch = store._fresh_columns, store._catch_up

    def timed_catch_up(cols):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        ok = catch(cols)
        calls["catch_up"].append((time.perf_counter() - t) * 1000)
        return ok

    def counted_fresh():  # type: ignore[no-untyped-def]
        cols = fresh()
        calls["columns" if cols is not None else "sql"] += 1
        return cols

    store._catch_up, store._fresh_columns = timed_catch_up, counted_fresh  # type: ignore[method-assign]
    app = _analyst_app(store, tmp / f"data-{'catch-up' if catch_up else 'sql'}")
    root = Path(__file__).resolve().parents[2]
    times: dict[str, list[float]] = {k: [] for k in pages}
    statuses: set[int] = set()
    with TestClient(app, base_url="http://127.0.0.1") as client:
        _log_in(client)
        writer = subprocess.Popen(
            [sys.executable, "-c", "import sys; from ops.bench.bench_dashboards import ingest_writer; "
             "ingest_writer(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))", str(copy), str(m), str(n)],
            cwd=root, stdout=subprocess.PIPE, text=True)
        while writer.poll() is None:
            for name, urls in pages.items():
                for url in urls[:3]:
                    t = time.perf_counter()
                    statuses.add(client.get(url).status_code)
                    times[name].append((time.perf_counter() - t) * 1000)
                    if writer.poll() is not None:
                        break
        wrote = json.loads(writer.stdout.read().strip().splitlines()[-1])  # type: ignore[union-attr]
    if store._loading is not None:  # a rebuild started by the fallback: let it finish before closing
        store._loading.join(timeout=120)
    if wrote["rows_written"] < wrote["listings"]:  # a replay writes nothing and would measure nothing
        raise RuntimeError(f"the writer process wrote {wrote['rows_written']} rows for {wrote['listings']} listings")
    store.close()
    for f in tmp.glob("store.sqlite*"):
        f.unlink()
    mode = "caught up from the changelog" if catch_up else "catch-up off (pre-v4: SQL while the writer runs)"
    every = [x for v in times.values() for x in v]
    cu = calls["catch_up"]
    out = [Result(f"dashboards.beside_ingest{'' if catch_up else '.no_catch_up'}.p95", _p(every, 95), "ms",
                  f"{len(every)} page requests on {n:,} listings{' (reused store)' if loaded else ''} while another "
                  f"process ingested {wrote['listings']:,} recrawled listings at {wrote['listings'] / wrote['seconds']:,.0f}/s; "
                  f"{mode}; statuses {sorted(statuses)}",
                  {"by_page_p95": {k: round(_p(v, 95), 1) for k, v in times.items() if v},
                   "by_page_p50": {k: round(_p(v, 50), 1) for k, v in times.items() if v},
                   "snapshot_reads": {"columns": calls["columns"], "sql": calls["sql"]},
                   "catch_ups": len(cu), "catch_up_ms_p95": round(_p(cu, 95), 1) if cu else None,
                   "writer_listings_per_s": round(wrote["listings"] / wrote["seconds"])})]
    return out


def dashboard_pages_beside_ingest(n: int | None = None) -> list[Result]:
    """Page times in a ``serve`` process while a daemon-like process ingests (see module doc)."""
    from ops.bench.bench_index import _synthetic, open_bench_store, sandbox_vendors

    if _synthetic():
        raise SystemExit("dashboards-beside-ingest needs the sandbox corpus (its recrawl is what the writer ingests)")
    n = n or int(os.environ.get("NW_BENCH_DASH_LISTINGS", "1000000"))
    m = int(os.environ.get("NW_BENCH_DASH_WRITER_LISTINGS", "30000"))
    store, path, loaded = open_bench_store(n, [])
    try:
        top = int(store._db.execute("SELECT max(rid) FROM docs").fetchone()[0])
        rids = random.Random(11).sample(range(1, top + 1), 3)
        keys = [r[0] for r in store._db.execute(f"SELECT key FROM docs WHERE rid IN ({','.join(map(str, rids))})")]
        vendors = [v for v in sandbox_vendors(n) if store.vendor(v) is not None][:3]  # pages that exist
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the copy is the whole store
    finally:
        store.close()
    search = search_pages(vendors[0])
    pages = {"search": search, "facets": [u.replace("/search?", "/search/facets?") for u in search],
             "listing": [f"/listing?key={quote(k, safe='')}" for k in keys],
             "vendor": [f"/vendor?handle={quote(v)}" for v in vendors]}
    out: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="nw-bench-dash-") as tmp:
            for catch_up in (True, False):
                out += _beside_ingest(n, m, catch_up, path, Path(tmp), pages, loaded)
    finally:
        if not os.environ.get("NW_BENCH_STORE"):
            import shutil

            shutil.rmtree(path.parent, ignore_errors=True)
    return out


BENCHMARKS = {"dashboards": dashboard_pages, "dashboards-beside-ingest": dashboard_pages_beside_ingest}
