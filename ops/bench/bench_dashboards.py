"""Dashboard server time: search, listing and vendor pages over the index's SQLite store.

The store is filled with ``bench_index.batches`` (the index engineer's seeded corpus);
``NW_BENCH_DASH_LISTINGS`` sets its size (default 1,000,000; building it is the slow
part and is not timed). Each page is requested in-process through the whole app (gate
middleware, session lookup, CSRF-free GET, reader, Jinja rendering, audit write), so the
figure is server time without the network. p95 over the page mix; p50 in ``extra``. The
search page's facets come in a second request (htmx), measured as ``facets``.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from ops.bench.harness import Result

PAGES = {
    "search": ["/search?q=etonitazene", "/search?q=class:nitazene+AND+ships_from:EU",
               "/search?q=usd_per_gram:<20+AND+class:fentanyl_analogue", "/search?q=%22lab+grade%22+stealth",
               "/search?q=vendor:vendor0042", "/search?q=crys*&sort=-last_seen"],
}


def _p(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


def dashboard_pages(n: int | None = None) -> list[Result]:
    from argon2 import PasswordHasher
    from fastapi.testclient import TestClient

    from narcwatch.crawler.config import Config
    from narcwatch.dashboards.app import create_app
    from narcwatch.index.sqlite import SqliteStore
    from ops.bench.bench_index import batches

    n = n or int(os.environ.get("NW_BENCH_DASH_LISTINGS", "1000000"))
    rng = random.Random(11)  # vendors to open
    out: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = SqliteStore(data / "store.sqlite")
        for b in batches(n):
            store.ingest(b)
        store._db.execute("ANALYZE")
        app = create_app(store, data, Config(data_dir=data), password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        app.state.ctx.accounts.add_user("bench", "analyst", "bench password")
        pages = dict(PAGES)
        keys = [r[0] for r in store._db.execute("SELECT key FROM docs ORDER BY random() LIMIT 20")]
        pages["listing"] = [f"/listing?key={quote(k, safe='')}" for k in keys]
        pages["facets"] = [u.replace("/search?", "/search/facets?") for u in PAGES["search"]]
        pages["vendor"] = [f"/vendor?handle=vendor{v:04d}" for v in rng.sample(range(5000), 20)]
        with TestClient(app, base_url="http://127.0.0.1") as client:
            page = client.get("/login").text
            token = page.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
            client.post("/login", data={"username": "bench", "password": "bench password", "login_csrf": token})
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
                                  f"{len(urls)} pages x3 on {n:,} listings, in-process, statuses {sorted(statuses)}",
                                  {"p50": round(_p(times, 50), 1), "max": round(max(times), 1)}))
        store.close()
    return out


BENCHMARKS = {"dashboards": dashboard_pages}
