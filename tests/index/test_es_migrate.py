"""Templates, versioned aliases and migrations, on a real osmem server through opensearch-py."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from narcwatch.index.search_engine import KINDS, SearchEngineStore, load_templates

from .conftest import corpus

pytestmark = pytest.mark.server


@pytest.fixture
def url(osmem: Any) -> Iterator[str]:
    with osmem.clone() as clone:
        yield clone.url


def connect(url: str, prefix: str, **kw: Any) -> SearchEngineStore:
    return SearchEngineStore.connect("opensearch", url, prefix=prefix, refresh=True, **kw)


def test_every_kind_gets_a_versioned_index_behind_its_alias(url: str) -> None:
    store = connect(url, "nwa")
    for kind in KINDS:
        v = store.templates[kind]["version"]  # a new deployment starts at the current version
        assert store.client.alias_targets(f"nwa-{kind}") == [f"nwa-{kind}-v{v}"]
        mapping = store.client.get_mapping(f"nwa-{kind}-v{v}")[f"nwa-{kind}-v{v}"]["mappings"]
        assert mapping["dynamic"] == "strict"
    assert store.pending_migrations() == {}
    assert connect(url, "nwa").apply_templates()["listings"] == "nwa-listings-v1"  # idempotent


def test_migrate_creates_v2_reindexes_and_swaps_the_alias(url: str) -> None:
    prefix = f"nw{uuid.uuid4().hex[:6]}"
    old = connect(url, prefix)
    old.ingest(corpus())
    before = {q: old.search(q, limit=100).keys for q in ("etonitazene", "class:nitazene", "vendor:drgreen")}
    counts = old.counts()

    templates = copy.deepcopy(load_templates())
    for kind in ("listings", "posts"):
        templates[kind]["version"] = 2
        templates[kind]["mappings"]["properties"]["risk_score"] = {"type": "float"}
    new = connect(url, prefix, templates=templates)
    assert new.pending_migrations() == {"listings": (1, 2), "posts": (1, 2)}
    report = new.migrate(delete_old=True)
    assert report["listings"] == {"from": f"{prefix}-listings-v1", "to": f"{prefix}-listings-v2", "documents": 6}
    assert new.client.alias_targets(f"{prefix}-listings") == [f"{prefix}-listings-v2"]
    assert not new.client.index_exists(f"{prefix}-listings-v1")
    props = new.client.get_mapping(f"{prefix}-listings-v2")[f"{prefix}-listings-v2"]["mappings"]["properties"]
    assert props["risk_score"] == {"type": "float"}
    assert new.pending_migrations() == {} and new.migrate() == {}
    assert new.counts() == counts
    assert {q: new.search(q, limit=100).keys for q in before} == before
    assert new.ingest(corpus()) == []  # idempotency survives the reindex


def test_an_index_newer_than_the_templates_is_refused(url: str) -> None:
    templates = copy.deepcopy(load_templates())
    templates["alerts"]["version"] = 3
    connect(url, "nwb", templates=templates).migrate()
    with pytest.raises(RuntimeError, match="newer than this narcwatch"):
        connect(url, "nwb")


def test_open_store_reaches_the_search_engine(url: str, tmp_path: Any) -> None:
    from narcwatch.crawler.config import StoreConfig
    from narcwatch.crawler.paths import DataDir
    from narcwatch.index import open_store

    store = open_store(StoreConfig(backend="opensearch", url=url, index_prefix="nwc"), DataDir(tmp_path))
    assert isinstance(store, SearchEngineStore) and store.prefix == "nwc"
    with pytest.raises(ValueError, match="needs store.url"):
        open_store(StoreConfig(backend="elasticsearch"), DataDir(tmp_path))


@pytest.mark.parametrize("prefix", ["", "NW", "a b", "x*", "a,b"])
def test_bad_prefixes_are_refused_before_any_request(prefix: str) -> None:
    with pytest.raises(ValueError, match="index prefix"):
        SearchEngineStore(object(), prefix=prefix)  # type: ignore[arg-type]


def test_snapshots_v1_upgrade_to_v2_with_substances_from_the_stored_document(url: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment made before snapshots carried substances: v2 copies every snapshot with
    substances and classes taken from its stored ``doc`` (no server-side script needed)."""
    from narcwatch.index import search_engine

    prefix = f"nw{uuid.uuid4().hex[:6]}"
    v1 = copy.deepcopy(load_templates())
    v1["snapshots"]["version"] = 1
    for f in ("substances", "classes"):
        del v1["snapshots"]["mappings"]["properties"][f]
    new_source = search_engine._snapshot_source

    def v1_source(s: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in new_source(s).items() if k not in ("substances", "classes")}

    monkeypatch.setattr(search_engine, "_snapshot_source", v1_source)
    old = connect(url, prefix, templates=v1)
    old.ingest(corpus())
    monkeypatch.setattr(search_engine, "_snapshot_source", new_source)
    before = old.client.count(f"{prefix}-snapshots")
    assert old.client.search(f"{prefix}-snapshots", {"query": {"exists": {"field": "substances"}}})["hits"]["hits"] == []

    new = connect(url, prefix)
    assert new.pending_migrations() == {"snapshots": (1, 2)}
    report = new.migrate()
    assert report["snapshots"]["documents"] == before
    hits = new.client.search(f"{prefix}-snapshots", {"query": {"term": {"substances": "etonitazene"}}, "size": 100})
    keys = sorted(h["_source"]["key_exact"] for h in hits["hits"]["hits"])
    assert keys and all(h["_source"]["classes"] == h["_source"]["doc"]["classes"] for h in hits["hits"]["hits"])
    assert keys == sorted(h.key for h in new.search("substance:etonitazene", limit=100).hits)
    assert new.ingest(corpus()) == []  # idempotency survives the copy
