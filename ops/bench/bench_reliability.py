"""Reliability benchmarks: crashes and outages survived, nothing lost, nothing twice;
extraction stays linear on hostile input.

``python -m ops.bench reliability`` prints the README's figures (a few minutes):

* crashes: SIGKILL loops of the daemon ``narcwatch run`` (crawl children, ingest and the
  alert deliverer with it) on the sandbox with faults on, compared with an uninterrupted
  run; of the standalone deliverer ``narcwatch alerts deliver`` against a real webhook
  receiver and aiosmtpd; of the API ``narcwatch serve`` during acknowledgements and
  searches (audit chain and outbox checked after every restart);
* outages: the search engine (osmem) cut off repeatedly during ingest; the SQLite store
  write-locked by another process repeatedly during ingest;
* hostile inputs: the size of the corpus the hostile tests run.

The loops are the ones tests/reliability runs with fewer repetitions (loaded by path).
``python -m ops.bench reliability-linearity`` runs every string of the hostile corpus
(tests/fixtures/hostile/corpus.py, whose runs are 20,000 characters) at 1x and 4x its
length through the whole extraction pipeline and reports, per input, the time ratio
4x/1x: about 4 is linear, 16 quadratic. The figure is the worst ratio over the corpus.
A tokenizer cache would hide the second call, so each size is a fresh, distinct string.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from ops.bench.harness import Result

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "hostile" / "corpus.py"


def _corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("narcwatch_bench_hostile_corpus", CORPUS)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _time(fn, text: str) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn(text)
    return time.perf_counter() - t


def linearity() -> list[Result]:
    from narcwatch.extract.pipeline import extract

    corpus = _corpus()
    extract("warm up: 1 g metonitazene 50 USD")
    ratios: dict[str, float] = {}
    for name, text in corpus.STRINGS.items():
        if len(text) < 1000:
            continue
        small = _time(extract, text + " a")
        big = _time(extract, text * 4 + " b")
        ratios[name] = big / max(small, 1e-4)
    worst = max(ratios, key=ratios.__getitem__)
    return [Result("reliability-linearity-worst", round(ratios[worst], 2), "x time for 4x input",
                   note=f"worst: {worst}; 4 = linear, 16 = quadratic",
                   extra={k: round(v, 2) for k, v in sorted(ratios.items())}),
            Result("reliability-hostile-strings", len(corpus.STRINGS), "inputs",
                   note=f"{len(corpus.PAGES)} hostile pages + {len(corpus.LARGE)} resource attacks in the crawl test")]


ROOT = Path(__file__).resolve().parents[2]
REL = ROOT / "tests" / "reliability"


def _module(file: str) -> ModuleType:
    if str(ROOT) not in sys.path:  # the test modules import ``tests.*`` helpers
        sys.path.insert(0, str(ROOT))
    name = f"narcwatch_bench_{Path(file).stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REL / file)
        assert spec and spec.loader
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def _multiset_diff(a: list, b: list) -> int:  # type: ignore[type-arg]
    from collections import Counter

    return sum((Counter(a) - Counter(b)).values())


def _daemon(kills: int) -> dict[str, int]:
    import random
    import tempfile

    from narcwatch.sandbox import SandboxServer, World
    from narcwatch.sandbox.faults import FaultConfig
    from tests.index.alerts.smtp_sink import SmtpSink

    runner = _module("_daemon_kill.py")
    smtp = SmtpSink("plain").start()
    try:
        with tempfile.TemporaryDirectory(prefix="nw-bench-daemon-") as tmp, \
                SandboxServer(World(seed=9, size=50), FaultConfig.parse(runner.FAULTS)) as server:
            (Path(tmp) / "ref").mkdir()
            (Path(tmp) / "killed").mkdir()
            ref = runner.run(server, Path(tmp) / "ref", kills=0, rng=random.Random(1), smtp=smtp)
            got = runner.run(server, Path(tmp) / "killed", kills=kills, rng=random.Random(2), smtp=smtp,
                             kill_window=(0.3, max(1.0, ref.seconds / 4)))  # kills land while it runs
    finally:
        smtp.stop()
    ref_subjects = [s for _, _, subj in ref.alerts for s in subj]
    got_subjects = [s for _, _, subj in got.alerts for s in subj]
    lost = (len(set(ref.listings) - set(got.listings)) + _multiset_diff(ref.events, got.events)
            + _multiset_diff(ref_subjects, got_subjects) + (not got.hook_keys_ok) + (not got.mail_ids_ok))
    dup = (max(0, got.snapshots - ref.snapshots) + got.spool_duplicates + _multiset_diff(got.events, ref.events)
           + _multiset_diff(got_subjects, ref_subjects) + len(got.alert_ids) - len(set(got.alert_ids)))
    ok = got.state() == ref.state() and got.hook_keys_ok and got.mail_ids_ok and got.evidence_ok
    return {"injected": got.kills, "survived": got.kills if ok else 0, "lost": lost, "duplicates": dup,
            "listings": len(got.listings), "events": len(got.events), "alerts": len(got.alert_ids),
            "resends": got.wire - got.distinct, "seconds": round(got.seconds)}


def _deliverer(kills: int, n_alerts: int) -> dict[str, int]:
    import tempfile

    from tests.index.alerts.smtp_sink import SmtpSink

    mod = _module("test_crash_alerts.py")
    hook, smtp = mod.SlowReceiver(mod.SECRET.encode()).start(), SmtpSink("plain").start()
    try:
        with tempfile.TemporaryDirectory(prefix="nw-bench-deliver-") as tmp:
            out = mod.run_deliverer_kills(Path(tmp), hook, smtp, n_alerts=n_alerts, kills=kills, seed=23)
    finally:
        hook.stop()
        smtp.stop()
    ids = [a.id for a in out["alerts"]]
    want = {mod.idempotency_key(i, "desk-hook") for i in ids} | {
        f"<{mod.idempotency_key(i, 'desk-mail')}@narcwatch.alerts>" for i in ids}
    got = set(hook.by_key) | set(smtp.ids())
    ok = got == want and out["finished"]
    return {"injected": out["kills"], "survived": out["kills"] if ok else 0, "lost": len(want - got),
            "duplicates": len(got - want), "alerts": len(ids), "resends": out["wire"] - len(got)}


def _api(kills: int) -> dict[str, int]:
    import tempfile

    mod = _module("test_crash_api.py")
    with tempfile.TemporaryDirectory(prefix="nw-bench-api-") as tmp:
        data, ids, token = mod.make_world(Path(tmp) / "data")
        try:
            out = mod.run_api_kills(data, ids, token, kills=kills, seed=29)
        except AssertionError as exc:
            return {"injected": kills, "survived": 0, "lost": 1, "duplicates": 0, "error": str(exc)[:300]}  # type: ignore[dict-item]
    unacked = sum(v != "acknowledged" for v in out["states"].values())
    return {"injected": kills, "survived": kills if not unacked else 0, "lost": unacked, "duplicates": 0,
            "consistency_checks": out["checks"], "searches": out["searches"]}


def crashes(daemon_kills: int = 15, deliverer_kills: int = 15, api_kills: int = 12) -> list[Result]:
    runs = {"daemon (crawl+ingest+deliver)": _daemon(daemon_kills), "alerts deliver": _deliverer(deliverer_kills, 120),
            "serve (API)": _api(api_kills)}
    total = {k: sum(int(r.get(k, 0)) for r in runs.values()) for k in ("injected", "survived", "lost", "duplicates")}
    return [Result("reliability-crashes-injected", total["injected"], "kill -9", extra=runs),
            Result("reliability-crashes-survived", total["survived"], "kill -9",
                    note="converged to the uninterrupted run; receivers got every key"),
            Result("reliability-crash-items-lost", total["lost"], "items"),
            Result("reliability-crash-duplicates", total["duplicates"], "items",
                    note="stored twice or unknown keys at a receiver; resends dropped by idempotency key are in extra")]


HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


def _sqlite_locks(holds: int, n: int = 300) -> dict[str, int]:
    """Another process write-locks the SQLite store ``holds`` times while the worker ingests."""
    import subprocess
    import tempfile

    from narcwatch.crawler.paths import DataDir
    from narcwatch.crawler.spool import Spool
    from narcwatch.index.sqlite import SqliteStore

    outage = _module("test_engine_outage.py")
    fill = outage._listing
    with tempfile.TemporaryDirectory(prefix="nw-bench-lock-") as tmp:
        data = DataDir.at(Path(tmp))
        data.ensure()
        store = SqliteStore(data.store)
        store.counts()

        def hold_lock() -> Callable[[], None]:
            holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(data.store)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
            assert holder.stdout and holder.stdin and holder.stdout.readline().strip() == "locked"

            def release() -> None:
                assert holder.stdin and holder.stdout
                holder.stdin.write("\n")
                holder.stdin.close()
                holder.wait(30)
                holder.stdout.close()
            return release

        with Spool(data.spool) as spool:
            spool.put_many((f"c1:{i}", "listing", fill(i, 1).model_dump(mode="json"), "outage-market") for i in range(n))
            # until the worker has met the lock (its busy timeout first): up to 100 s
            _, survived, pending = outage.ingest_through_faults(spool, store, holds, hold_lock, meet_polls=5000,
                                                                drain_polls=3000)
        listings = store.counts()["listings"]
        store.close()
    return {"injected": holds, "survived": survived if not pending else 0, "lost": n - listings + pending,
            "duplicates": max(0, listings - n)}


def outages(engine_cuts: int = 10, sqlite_locks: int = 3) -> list[Result]:
    import tempfile

    from osmem_server import OsmemServer

    server = OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    try:
        with tempfile.TemporaryDirectory(prefix="nw-bench-cuts-") as tmp:
            cut = _module("test_engine_outage.py").run_engine_cuts(server, Path(tmp), cuts=engine_cuts, seed=31)
    finally:
        server.close()
        for stream in (server.process.stdout, server.process.stdin):
            if stream is not None and not stream.closed:
                stream.close()
    runs = {"search engine cut (osmem)": {"injected": cut["cuts"], "survived": cut["survived"] if cut["same"] else 0,
                                          "lost": cut["lost"] + cut["pending"], "duplicates": cut["extra"]},
            "sqlite write-locked": _sqlite_locks(sqlite_locks)}
    total = {k: sum(int(r[k]) for r in runs.values()) for k in ("injected", "survived", "lost", "duplicates")}
    return [Result("reliability-outages-injected", total["injected"], "outages", extra=runs),
            Result("reliability-outages-survived", total["survived"], "outages",
                    note="health error reported, work kept in the spool, resumed by itself"),
            Result("reliability-outage-items-lost", total["lost"], "items"),
            Result("reliability-outage-duplicates", total["duplicates"], "items")]


def hostile() -> list[Result]:
    corpus = _corpus()
    n = len(corpus.STRINGS) + len(corpus.PAGES) + len(corpus.LARGE)
    return [Result("reliability-hostile-inputs", n, "inputs",
                   note=f"{len(corpus.STRINGS)} strings, {len(corpus.PAGES)} pages, {len(corpus.LARGE)} resource attacks "
                        "(50 MB page, gzip bomb, 100k-deep nesting); plus hypothesis examples")]


def everything() -> list[Result]:
    return crashes() + outages() + hostile() + linearity()[:1]


BENCHMARKS = {"reliability-linearity": linearity, "reliability-crashes": crashes, "reliability-outages": outages,
              "reliability": everything}
