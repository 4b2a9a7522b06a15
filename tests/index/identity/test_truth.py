"""Identity resolution measured against sandbox ground truth (issue 10's targets).

World(seed=45, size=400) holds migrations (same PGP key or same wallet under a new
handle), cross-listings, the identity cast's style-only actors (nothing shared but
phrasing, product line and prices) and its look-alike traps (near-identical handles,
different people). Its pages at hour 0 and hour 150 are read as a spider reads them and
ingested by the real ingest path into a SQLite store (``narcwatch.identity_truth``);
the two real crawls of the same world are the ``identity_crawl`` benchmark. Seed 45 is
a report seed: the weak model was tuned on seed 11 only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from narcwatch.identity_truth import build_truth_store, score_identity
from narcwatch.index.sqlite import SqliteStore
from narcwatch.sandbox import World

SEED, SIZE = 45, 400
SOURCES = ("velvet-market", "nebula-market", "taiga-market", "dredge-forum", "telegram")


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, World]:
    root = tmp_path_factory.mktemp("identity-truth")
    world = World(SEED, SIZE)
    store = SqliteStore(root / "store.sqlite")
    try:
        truth = build_truth_store(world, store, root / "spool", sources=SOURCES)
    finally:
        store.close()
    return score_identity(root / "store.sqlite", truth), world


@pytest.mark.slow  # ~25 s on a loaded 2-core machine: two hours of a 400-listing world through spaCy extraction
@pytest.mark.timeout(180)
def test_pairwise_precision_and_recall_meet_the_targets(measured: tuple[Any, World]) -> None:
    score, world = measured
    for name in ("strong_only", "strong_weak"):
        s = getattr(score, name)
        print(f"{name}: precision {s.precision:.3f} recall {s.recall:.3f} tp={s.true_positive} "
              f"fp={s.false_positive} fn={s.false_negative}")
    assert score.strong_links.precision == 1.0, score.strong_links.false_pairs
    assert score.strong_only.precision == 1.0, score.strong_only.false_pairs
    assert score.strong_weak.precision >= 0.95, score.strong_weak.false_pairs
    assert score.strong_weak.recall >= 0.90, score.strong_weak.missed_pairs
    res = score.resolution
    for p in world.cast.persons:  # the labelled hard cases, one by one
        ids = [f"{a.market}/{a.handle.lower()}" for a in p.accounts]
        if world.cast.case[p.index] == "style-only":
            assert res.actor_of[ids[0]] == res.actor_of[ids[1]], f"style-only actor {p.id} not joined"
            link = next(l for l in res.links if l.pair == tuple(sorted(ids)))
            assert link.strength == "weak" and {e.kind for e in link.evidence} >= {"phrasing", "product_line"}
        else:
            other = world.cast.person(world.cast.lookalike_of[p.index]).accounts[0]
            assert res.actor_of[ids[0]] != res.actor_of[f"{other.market}/{other.handle.lower()}"], \
                f"look-alike {p.handle} / {other.handle} joined"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_migrations_are_joined_by_strong_links(measured: tuple[Any, World]) -> None:
    score, world = measured
    res = score.resolution
    migrated = [p for p in world.persons if any(a.via.startswith("migrated") for a in p.accounts)]
    assert migrated
    for p in migrated:
        ids = [f"{a.market}/{a.handle.lower()}" for a in p.accounts]
        present = [i for i in ids if i in res.accounts]
        assert len(present) == 2, f"the two crawls did not see both accounts of {p.id}: {ids}"
        assert res.actor_of[present[0]] == res.actor_of[present[1]]
        link = next(l for l in res.links if l.pair == tuple(sorted(present)))
        assert link.strength == "strong" and all(e.sightings for e in link.evidence)
