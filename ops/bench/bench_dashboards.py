"""Dashboard server time: search, listing and vendor pages over the index's SQLite store.

The store is the index benchmark's: the sandbox-generated corpus of
``bench_index.sandbox_batches`` (``NW_BENCH_CORPUS=synthetic`` for the old one), and with
``NW_BENCH_STORE=DIR`` the very store ``python -m ops.bench index`` left there, reused
rather than re-ingested. ``NW_BENCH_DASH_LISTINGS`` sets its size (default 1,000,000;
building it is the slow part and is not timed). Each page is requested in-process through the whole app (gate
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

SYNTHETIC_SEARCH = ["/search?q=etonitazene", "/search?q=class:nitazene+AND+ships_from:EU",
                    "/search?q=usd_per_gram:<20+AND+class:fentanyl_analogue", "/search?q=%22lab+grade%22+stealth",
                    "/search?q=vendor:vendor0042", "/search?q=crys*&sort=-last_seen"]


def search_pages(vendor: str) -> list[str]:
    return ["/search?q=etonitazene", "/search?q=class:nitazene+AND+ships_from:DE",
            "/search?q=usd_per_gram:<20+AND+class:fentanyl_analogue", "/search?q=%22vacuum+sealed%22+stealth",
            f"/search?q=vendor:{quote(vendor)}", "/search?q=crys*&sort=-last_seen", "/search?q=top+quality"]


def _p(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


def dashboard_pages(n: int | None = None) -> list[Result]:
    from argon2 import PasswordHasher
    from fastapi.testclient import TestClient

    import shutil

    from narcwatch.crawler.config import Config
    from narcwatch.dashboards.app import create_app
    from ops.bench.bench_index import _synthetic, open_bench_store, sandbox_vendors

    n = n or int(os.environ.get("NW_BENCH_DASH_LISTINGS", "1000000"))
    rng = random.Random(11)  # vendors to open
    out: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store, path, loaded = open_bench_store(n, [])
        store.warm()  # a serving store builds its column snapshot once when it opens
        app = create_app(store, data, Config(data_dir=data), password_hasher=PasswordHasher(time_cost=1, memory_cost=1024))
        app.state.ctx.accounts.add_user("bench", "analyst", "bench password")
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
                                  f"{len(urls)} pages x3 on {n:,} listings ({'synthetic' if _synthetic() else 'sandbox'}"
                                  f"{', reused store' if loaded else ''}), in-process, statuses {sorted(statuses)}",
                                  {"p50": round(_p(times, 50), 1), "max": round(max(times), 1)}))
        store.close()
        if not os.environ.get("NW_BENCH_STORE"):
            shutil.rmtree(path.parent, ignore_errors=True)
    return out


BENCHMARKS = {"dashboards": dashboard_pages}
