"""The Kibana NDJSON: every reference resolves, every field exists in its data view with
a type its aggregation can use, the names match the index's field registry, and the
committed file is what the builder generates (no hand edits drifting away)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from narcwatch.dashboards.kibana.build import OUTPUT, build, dumps
from narcwatch.dashboards.kibana.fields import DATA_VIEWS
from narcwatch.index.fields import FIELDS, FieldKind

NUMERIC = {"scaled_float", "float", "double", "long", "integer"}
#: aggregation -> the field types it accepts (None: takes no field)
AGG_TYPES: dict[str, set[str] | None] = {
    "count": None, "terms": {"keyword", "boolean"}, "date_histogram": {"date"}, "median": NUMERIC,
    "cardinality": {"keyword"} | NUMERIC,
}
KIND_TO_ES = {FieldKind.KEYWORD: {"keyword"}, FieldKind.TEXT: {"text"}, FieldKind.NUMBER: NUMERIC,
              FieldKind.DATE: {"date"}, FieldKind.BOOL: {"boolean"}}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in OUTPUT.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_committed_file_is_generated(objects):
    assert OUTPUT.read_text(encoding="utf-8") == dumps(build()), \
        "regenerate with: python -m narcwatch.dashboards.kibana.build"


def test_expected_objects(objects):
    kinds = sorted(o["type"] for o in objects)
    assert kinds == ["dashboard", "index-pattern", "index-pattern"] + ["visualization"] * 4
    assert len({(o["type"], o["id"]) for o in objects}) == len(objects)
    titles = " ".join(o["attributes"]["title"] for o in objects)
    for needed in ("per substance class per week", "USD per gram", "top vendors", "ships from"):
        assert needed in titles


def test_every_reference_resolves(objects):
    by_key = {(o["type"], o["id"]): o for o in objects}
    for o in objects:
        names = [r["name"] for r in o["references"]]
        assert len(names) == len(set(names)), o["id"]
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in by_key, f"{o['id']} -> {ref}"
        if o["type"] == "visualization":
            search = json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
            assert search["indexRefName"] in names
        if o["type"] == "dashboard":
            panels = json.loads(o["attributes"]["panelsJSON"])
            assert sorted(p["panelRefName"] for p in panels) == sorted(names)
            assert len(panels) == 4


def test_every_field_exists_with_a_usable_type(objects):
    views = {dv.id: dv for dv in DATA_VIEWS.values()}
    for o in objects:
        if o["type"] == "index-pattern":
            dv = views[o["id"]]
            assert o["attributes"]["timeFieldName"] in dv.fields and dv.fields[dv.time_field] == "date"
        if o["type"] != "visualization":
            continue
        dv = views[o["references"][0]["id"]]
        for agg in json.loads(o["attributes"]["visState"])["aggs"]:
            accepted = AGG_TYPES[agg["type"]]
            field = agg["params"].get("field")
            if accepted is None:
                assert field is None
                continue
            assert field in dv.fields, f"{o['id']}: {field} not in {dv.pattern}"
            assert dv.fields[field] in accepted, f"{o['id']}: {agg['type']} on {field} ({dv.fields[field]})"


@pytest.mark.parametrize("view", sorted(DATA_VIEWS))
def test_fields_match_the_index_registry(view):
    """Field names and kinds agree with narcwatch.index.fields (the query language's table)."""
    extra = {"seen_at", "crawl_id"}  # snapshot-only fields, from index/documents.py
    for name, es_type in DATA_VIEWS[view].fields.items():
        if name in extra:
            continue
        assert name in FIELDS, f"{name} is not a field of the index"
        assert es_type in KIND_TO_ES[FIELDS[name].kind], f"{name}: {es_type} vs {FIELDS[name].kind}"
