"""Bulk writes: every item's status is read, 429s retried per document, the rest counted and raised.

Unit tests drive ``bulk_write`` with a scripted fake client (a real cluster cannot be made
to answer 429 for chosen documents on demand); the server test checks a real rejection.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from narcwatch.index.es_bulk import Action, BulkError, bulk_write
from narcwatch.index.es_client import EngineError


class FakeClient:
    """Answers each bulk request from a script: per document id, a list of statuses to return in turn."""

    def __init__(self, script: dict[str, list[int]], request_errors: list[int] | None = None):
        self.script = {k: list(v) for k, v in script.items()}
        self.request_errors = list(request_errors or [])
        self.requests: list[list[str]] = []

    def bulk(self, ndjson: str, refresh: Any = False) -> dict[str, Any]:
        if self.request_errors:
            raise EngineError("rejected", self.request_errors.pop(0))
        lines = ndjson.splitlines()
        items, ids = [], []
        i = 0
        while i < len(lines):
            head = json.loads(lines[i])
            op, meta = next(iter(head.items()))
            ids.append(meta["_id"])
            i += 1 if op == "delete" else 2
            statuses = self.script.get(meta["_id"]) or [201]
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
            item: dict[str, Any] = {"_index": meta["_index"], "_id": meta["_id"], "status": status}
            if status >= 300:
                etype = {429: "es_rejected_execution_exception", 409: "version_conflict_engine_exception"}.get(
                    status, "mapper_parsing_exception")
                item["error"] = {"type": etype, "reason": f"{etype} for {meta['_id']}"}
            items.append({op: item})
        self.requests.append(ids)
        return {"errors": any(it[next(iter(it))]["status"] >= 300 for it in items), "items": items}


def actions(*ids: str, op: str = "index", exists_ok: bool = False) -> list[Action]:
    return [Action(op, "idx", i, {"n": i}, exists_ok=exists_ok) for i in ids]  # type: ignore[arg-type]


def test_429_is_retried_for_that_document_only_with_backoff() -> None:
    fake = FakeClient({"b": [429, 429, 201]})
    sleeps: list[float] = []
    stats = bulk_write(fake, actions("a", "b", "c"), sleep=sleeps.append, backoff=0.5)  # type: ignore[arg-type]
    assert fake.requests == [["a", "b", "c"], ["b"], ["b"]]
    assert stats.ok == 3 and stats.retried == 2 and not stats.failed
    assert sleeps == [0.5, 1.0]  # exponential


def test_429_forever_is_a_counted_failure_not_a_silent_drop() -> None:
    fake = FakeClient({"b": [429]})
    with pytest.raises(BulkError) as exc:
        bulk_write(fake, actions("a", "b"), sleep=lambda s: None, max_retries=3)  # type: ignore[arg-type]
    stats = exc.value.stats
    assert stats.ok == 1 and sum(stats.failed.values()) == 1
    assert "after 3 retries" in next(iter(stats.failed))
    assert len(fake.requests) == 4


def test_other_errors_are_counted_by_reason_and_raised_after_the_whole_request() -> None:
    fake = FakeClient({"b": [400], "c": [400], "d": [409]})
    acts = actions("a", "b", "c", "d")
    with pytest.raises(BulkError, match="mapper_parsing_exception=2") as exc:
        bulk_write(fake, acts, sleep=lambda s: None)  # type: ignore[arg-type]
    stats = exc.value.stats
    assert stats.ok == 1
    assert dict(stats.failed) == {"mapper_parsing_exception": 2, "version_conflict_engine_exception": 1}
    assert [e["id"] for e in stats.errors] == ["b", "c", "d"]
    assert [a.id for a in acts] == ["a", "b", "c", "d"]  # the caller's buffer is untouched


def test_raise_on_error_false_returns_the_counts() -> None:
    stats = bulk_write(FakeClient({"a": [400]}), actions("a", "b"), raise_on_error=False)  # type: ignore[arg-type]
    assert stats.ok == 1 and stats.failed["mapper_parsing_exception"] == 1


def test_create_of_an_existing_document_is_success_only_when_asked() -> None:
    stats = bulk_write(FakeClient({"a": [409]}), actions("a", op="create", exists_ok=True))  # type: ignore[arg-type]
    assert stats.existed == 1 and not stats.failed
    with pytest.raises(BulkError):
        bulk_write(FakeClient({"a": [409]}), actions("a", op="create"))  # type: ignore[arg-type]


def test_a_rejected_request_is_retried_whole_then_raised() -> None:
    fake = FakeClient({}, request_errors=[429, 503])
    stats = bulk_write(fake, actions("a", "b"), sleep=lambda s: None)  # type: ignore[arg-type]
    assert stats.ok == 2 and fake.requests == [["a", "b"]]
    with pytest.raises(EngineError):
        bulk_write(FakeClient({}, request_errors=[400]), actions("a"), sleep=lambda s: None)  # type: ignore[arg-type]


def test_chunks_by_size_in_order() -> None:
    fake = FakeClient({})
    acts = [Action("index", "idx", str(i), {"pad": "x" * 100}) for i in range(10)]
    stats = bulk_write(fake, acts, max_chunk_bytes=400)  # type: ignore[arg-type]
    assert stats.ok == 10 and len(fake.requests) > 2
    assert [i for r in fake.requests for i in r] == [str(i) for i in range(10)]


def test_decimals_are_written_exactly() -> None:
    from decimal import Decimal

    line = Action("index", "idx", "a", {"price": Decimal("0.10000000000000000001")}).lines()
    assert '"0.10000000000000000001"' in line


@pytest.mark.server
def test_a_strict_mapping_rejects_unknown_fields_and_the_store_raises(osmem: Any) -> None:
    from narcwatch.index.search_engine import SearchEngineStore

    with osmem.clone() as clone:
        store = SearchEngineStore.connect("opensearch", clone.url, prefix=f"nw{uuid.uuid4().hex[:8]}", refresh=True)
        with pytest.raises(BulkError) as exc:
            store._bulk([Action("index", store.alias("alerts"), "x", {"id": "x", "colour": "red"}),
                         Action("index", store.alias("alerts"), "y", {"id": "y", "rule_id": "r"})])
        assert dict(exc.value.stats.failed) == {"strict_dynamic_mapping_exception": 1}
        assert exc.value.stats.ok == 1
        assert store.bulk_stats.failed["strict_dynamic_mapping_exception"] == 1
        store.close()
