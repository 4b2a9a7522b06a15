"""Vendor identity against sandbox ground truth (issue 10): pairwise precision and recall.

* ``identity``: the pages of World(seed, 2000) at hour 0 and hour 150, read as a spider
  reads them and ingested by the real ingest path (``narcwatch.identity_truth``), for the
  report seeds 45 and 7: precision and recall of strong links alone, of actors from
  strong links, and of actors from strong+weak links; seconds to resolve.
* ``identity_tune``: the same on seed 11, the only seed the weak model was tuned on,
  with a small grid over the model's bias and phrasing saturation (what the defaults
  were chosen from). Never tune on the report seeds.
* ``identity_crawl``: two real crawls (``run_demo``: Tor-routed Scrapy, Chromium for the
  SPA market) of World(45, 400) at hour 0 and hour 150: the figure with every stage.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

from ops.bench.harness import Result

SOURCES = ("velvet-market", "nebula-market", "taiga-market", "dredge-forum", "telegram")
REPORT_SEEDS, TUNE_SEED, SIZE = (45, 7), 11, 2000


def _scores(prefix: str, score, seconds: float) -> list[Result]:  # type: ignore[no-untyped-def]
    out = []
    for name in ("strong_links", "strong_only", "strong_weak"):
        s = getattr(score, name)
        extra = {"tp": s.true_positive, "fp": s.false_positive, "fn": s.false_negative,
                 "false_pairs": [list(p) for p in s.false_pairs[:10]], "missed_pairs": [list(p) for p in s.missed_pairs[:10]]}
        out.append(Result(f"{prefix}.{name}.precision", round(s.precision, 4), "ratio", extra=extra))
        out.append(Result(f"{prefix}.{name}.recall", round(s.recall, 4), "ratio"))
    out.append(Result(f"{prefix}.resolve_seconds", round(seconds, 2), "s", f"{score.accounts} accounts"))
    return out


def _truth_store(seed: int, size: int, root: Path):  # type: ignore[no-untyped-def]
    from narcwatch.identity_truth import build_truth_store
    from narcwatch.index.sqlite import SqliteStore
    from narcwatch.sandbox import World

    store = SqliteStore(root / "store.sqlite")
    try:
        truth = build_truth_store(World(seed, size), store, root / "spool", sources=SOURCES)
    finally:
        store.close()
    return root / "store.sqlite", truth


def bench_identity() -> list[Result]:
    from narcwatch.identity_truth import score_identity

    out: list[Result] = []
    for seed in REPORT_SEEDS:
        with tempfile.TemporaryDirectory(prefix="nw-identity-") as tmp:
            path, truth = _truth_store(seed, SIZE, Path(tmp))
            t0 = time.perf_counter()
            score = score_identity(path, truth)
            out += _scores(f"identity.seed{seed}.{SIZE}", score, time.perf_counter() - t0)
    return out


def bench_identity_tune() -> list[Result]:
    from narcwatch.index.identity import WeakModel, load_accounts, resolve
    from narcwatch.index.identity.evaluate import pairwise, truth_persons

    out: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="nw-identity-") as tmp:
        path, truth = _truth_store(TUNE_SEED, SIZE, Path(tmp))
        accounts, persons = load_accounts(path), truth_persons(truth)
        for bias, sat in itertools.product((-3.0, -3.5, -4.0), (0.15, 0.25, 0.5)):
            s = pairwise(resolve(accounts, model=WeakModel(bias=bias, phrasing_saturation=sat)).pairs(), accounts, persons)
            out.append(Result(f"identity_tune.seed{TUNE_SEED}.bias{bias}.sat{sat}", round(s.precision, 4), "precision",
                              extra={"recall": round(s.recall, 4), "fp": s.false_positive, "fn": s.false_negative}))
    return out


def bench_identity_crawl() -> list[Result]:
    from narcwatch.crawler.paths import DataDir
    from narcwatch.demo import run_demo
    from narcwatch.identity_truth import score_identity
    from narcwatch.sandbox import SandboxServer, World
    from narcwatch.sandbox.truth import iter_truth

    world = World(45, 400)
    with tempfile.TemporaryDirectory(prefix="nw-identity-crawl-") as tmp:
        data = DataDir.at(Path(tmp))
        data.ensure()
        t0 = time.perf_counter()
        with SandboxServer(world) as server:
            run_demo(data, server=server, only=SOURCES)
            server.clock.advance(hours=150.0)
            run_demo(data, server=server, only=SOURCES)
        crawl = time.perf_counter() - t0
        t0 = time.perf_counter()
        score = score_identity(data.store, list(iter_truth(world, 150.0)))
        out = _scores("identity_crawl.seed45.400", score, time.perf_counter() - t0)
    return [*out, Result("identity_crawl.seed45.400.crawl_seconds", round(crawl, 1), "s", "two demo crawls")]


BENCHMARKS = {"identity": bench_identity, "identity_tune": bench_identity_tune, "identity_crawl": bench_identity_crawl}
