"""Identity resolution measured on a real demo store against sandbox ground truth.

World(seed=45, size=400) has 12 persons: 3 cross-listed, one who migrates under a new
handle with the same PGP key (hour 115) and one with the same wallet and a new key (hour
86). The demo pipeline crawls it at hour 0 and again at hour 150 into one store; the
truth at hour 150 names every account's person.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from narcwatch.crawler.paths import DataDir
from narcwatch.demo import run_demo
from narcwatch.index.identity import load_accounts, resolve
from narcwatch.index.identity.evaluate import pairwise, truth_persons
from narcwatch.sandbox import SandboxServer, World
from narcwatch.sandbox.truth import iter_truth

SEED, SIZE, LATER = 45, 400, 150.0


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    world = World(seed=SEED, size=SIZE)
    data = DataDir.at(tmp_path_factory.mktemp("identity-demo"))
    data.ensure()
    sources = ("velvet-market", "nebula-market", "taiga-market", "dredge-forum", "telegram")
    with SandboxServer(world) as server:
        run_demo(data, server=server, only=sources)
        server.clock.advance(hours=LATER)
        run_demo(data, server=server, only=sources)
    return data.store, world


@pytest.mark.slow
@pytest.mark.timeout(600)  # two demo crawls; a few minutes on a loaded 2-core machine
@pytest.mark.parametrize("weak", [False, True], ids=["strong-only", "strong+weak"])
def test_pairwise_precision_recall(demo_store: tuple[Path, World], weak: bool) -> None:
    store, world = demo_store
    accounts = load_accounts(store)
    truth = truth_persons(iter_truth(world, LATER))
    migrated = {f"{a.market}/{a.handle.lower()}" for p in world.persons for a in p.accounts if a.via.startswith("migr")}
    assert migrated & set(accounts), "the second crawl saw no migrated account"
    res = resolve(accounts, weak=weak)
    score = pairwise(res.pairs(), accounts, truth)
    print(f"{'strong+weak' if weak else 'strong-only'}: precision {score.precision:.3f} recall {score.recall:.3f} "
          f"tp={score.true_positive} fp={score.false_positive} fn={score.false_negative}")
    strong = pairwise({l.pair for l in res.links if l.strength == "strong"}, accounts, truth)
    assert strong.precision == 1.0, strong.false_pairs
    assert score.precision >= 0.95, score.false_pairs
    assert score.recall >= 0.90, score.missed_pairs
