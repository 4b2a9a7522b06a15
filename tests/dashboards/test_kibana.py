"""The Kibana NDJSON: every reference resolves, every field exists in the Elasticsearch
index template behind its data view with a type its aggregation can use, the objects
carry the migration versions Kibana 8.8+/9 import, the names match the index's field
registry, and the committed file is what the builder generates (no hand edits)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from narcwatch.dashboards.kibana.build import OUTPUT, build, dumps
from narcwatch.dashboards.kibana.fields import DATA_VIEWS
from narcwatch.index.fields import FIELDS, FieldKind
from narcwatch.index.search_engine import KINDS, load_templates

NUMERIC = {"scaled_float", "half_float", "float", "double", "long", "integer", "short", "byte", "unsigned_long"}
DATES = {"date", "date_nanos"}
#: aggregation -> the Elasticsearch field types it accepts (None: takes no field)
AGG_TYPES: dict[str, set[str] | None] = {
    "count": None, "terms": {"keyword", "boolean", "ip"} | NUMERIC, "date_histogram": DATES, "median": NUMERIC,
    "avg": NUMERIC, "sum": NUMERIC, "min": NUMERIC | DATES, "max": NUMERIC | DATES, "percentiles": NUMERIC,
    "cardinality": {"keyword", "ip", "boolean"} | NUMERIC,
}
KIND_TO_ES = {FieldKind.KEYWORD: {"keyword"}, FieldKind.TEXT: {"text"}, FieldKind.NUMBER: NUMERIC,
              FieldKind.DATE: DATES, FieldKind.BOOL: {"boolean"}}
#: Kibana refuses an object whose typeMigrationVersion is newer than it knows; these
#: versions import into Kibana 8.8 (the first with typeMigrationVersion) and every 9.x.
MAX_TYPE_VERSION = {"index-pattern": (8, 0, 0), "visualization": (8, 5, 0), "dashboard": (8, 7, 0)}


def _semver(v: object) -> tuple[int, ...]:
    assert isinstance(v, str) and v.count(".") == 2, v
    return tuple(int(p) for p in v.split("."))


def _template_mapping(pattern: str) -> dict[str, Any]:
    """The template properties of the index kind a data view pattern (``narcwatch-listings*``) matches."""
    kinds = [k for k in KINDS if pattern in (f"narcwatch-{k}", f"narcwatch-{k}*")]
    assert len(kinds) == 1, f"data view {pattern!r} matches no single index kind of the store ({sorted(KINDS)})"
    return load_templates()[kinds[0]]["mappings"]["properties"]


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


def test_every_field_exists_in_the_index_template_with_a_usable_type(objects):
    """Checked against index/templates/*.json directly (not against fields.py's copy)."""
    patterns = {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    checked = 0
    for o in objects:
        if o["type"] == "index-pattern":
            props = _template_mapping(o["attributes"]["title"])
            time_field = o["attributes"]["timeFieldName"]
            assert props.get(time_field, {}).get("type") in DATES, f"{o['id']}: time field {time_field}"
        if o["type"] != "visualization":
            continue
        props = _template_mapping(patterns[o["references"][0]["id"]])
        for agg in json.loads(o["attributes"]["visState"])["aggs"]:
            accepted = AGG_TYPES[agg["type"]]
            field = agg["params"].get("field")
            if accepted is None:
                assert field is None
                continue
            assert field in props, f"{o['id']}: {field} is not in the index template"
            assert props[field].get("type") in accepted, f"{o['id']}: {agg['type']} on {field} ({props[field]})"
            assert props[field].get("index", True) is not False, f"{o['id']}: {field} is not indexed"
            checked += 1
    assert checked >= 8


def test_objects_import_into_kibana_8_and_9(objects):
    for o in objects:
        assert set(o) >= {"id", "type", "attributes", "references", "coreMigrationVersion", "typeMigrationVersion"}
        assert (8, 8, 0) <= _semver(o["coreMigrationVersion"]) < (9, 0, 0), o["id"]
        assert _semver(o["typeMigrationVersion"]) <= MAX_TYPE_VERSION[o["type"]], o["id"]
        assert isinstance(o["references"], list) and all(set(r) == {"name", "type", "id"} for r in o["references"])
        assert o["attributes"]["title"]
        for key in ("visState", "uiStateJSON", "panelsJSON", "optionsJSON"):
            if key in o["attributes"]:
                json.loads(o["attributes"][key])  # strings holding JSON, as Kibana stores them
        meta = o["attributes"].get("kibanaSavedObjectMeta")
        if meta:
            search = json.loads(meta["searchSourceJSON"])
            assert "index" not in search, "a raw index id: must be a named reference (indexRefName)"


@pytest.mark.parametrize("view", sorted(DATA_VIEWS))
def test_fields_match_the_index_registry(view):
    """Field names and kinds agree with narcwatch.index.fields (the query language's table)."""
    extra = {"seen_at", "crawl_id", "capture_sha256"}  # snapshot-only fields, from index/documents.py
    exact_text = {("snapshots", "price")}  # a snapshot keeps the price as exact decimal text (keyword)
    fields = DATA_VIEWS[view].fields
    assert {"vendor", "usd_per_gram", DATA_VIEWS[view].time_field} <= fields.keys()
    for name, es_type in fields.items():
        if name in extra or (view, name) in exact_text:
            continue
        assert name in FIELDS, f"{name} is not a field of the index"
        assert es_type in KIND_TO_ES[FIELDS[name].kind], f"{name}: {es_type} vs {FIELDS[name].kind}"
