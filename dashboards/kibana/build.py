"""Generate ``narcwatch.ndjson``: two data views, four visualisations, one dashboard.

Aggregation-based visualisations (``visualization`` saved objects) rather than Lens:
their saved format is small, documented and imports unchanged into Kibana 8 and 9.
Every cross-object link is a named reference, so Kibana rewrites ids on import.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from narcwatch.dashboards.kibana.fields import DATA_VIEWS, DataView

__all__ = ["OUTPUT", "build", "dumps"]

OUTPUT = Path(__file__).resolve().parent / "narcwatch.ndjson"
_CORE = "8.8.0"
_INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
LISTINGS_ONLY = 'type : "listing"'  # the listings alias holds listings only; a guard if it ever holds more


def _data_view(dv: DataView) -> dict[str, Any]:
    return {"id": dv.id, "type": "index-pattern", "coreMigrationVersion": _CORE, "typeMigrationVersion": "8.0.0",
            "attributes": {"title": dv.pattern, "name": dv.name, "timeFieldName": dv.time_field}, "references": []}


def _agg(i: int, kind: str, schema: str, **params: Any) -> dict[str, Any]:
    return {"id": str(i), "enabled": True, "type": kind, "schema": schema, "params": params}


def _vis(vid: str, title: str, kind: str, dv: DataView, aggs: list[dict[str, Any]], params: dict[str, Any],
         description: str) -> dict[str, Any]:
    state = {"title": title, "type": kind, "aggs": aggs, "params": {"type": kind, **params}}
    search = {"query": {"query": LISTINGS_ONLY, "language": "kuery"}, "filter": [], "indexRefName": _INDEX_REF}
    return {"id": vid, "type": "visualization", "coreMigrationVersion": _CORE, "typeMigrationVersion": "8.5.0",
            "attributes": {"title": title, "description": description, "version": 1, "uiStateJSON": "{}",
                           "visState": json.dumps(state, sort_keys=True),
                           "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search, sort_keys=True)}},
            "references": [{"name": _INDEX_REF, "type": "index-pattern", "id": dv.id}]}


def _week(field: str) -> dict[str, Any]:
    return _agg(2, "date_histogram", "segment", field=field, calendar_interval="1w", interval="w",
                min_doc_count=1, extended_bounds={})


def build() -> list[dict[str, Any]]:
    listings, snaps = DATA_VIEWS["listings"], DATA_VIEWS["snapshots"]
    xy = {"addLegend": True, "addTooltip": True, "legendPosition": "right"}
    visualisations = [
        _vis("narcwatch-vis-class-per-week", "narcwatch · new listings per substance class per week", "histogram",
             listings, [_agg(1, "count", "metric"), _week("first_seen"),
                        _agg(3, "terms", "group", field="classes", size=12, order="desc", orderBy="1")],
             xy, "Listings by the week they were first seen, stacked by substance class."),
        _vis("narcwatch-vis-usd-per-gram", "narcwatch · median USD per gram per substance", "line", snaps,
             [_agg(1, "median", "metric", field="usd_per_gram"), _week("seen_at"),
              _agg(3, "terms", "group", field="substances", size=10, order="desc", orderBy="_key")],
             xy, "Median best USD/gram of every observation that week, per substance: the price history of all "
                 "listings, not only their current price (snapshots carry substances since template v2)."),
        _vis("narcwatch-vis-top-vendors", "narcwatch · top vendors", "table", listings,
             [_agg(1, "count", "metric"), _agg(2, "terms", "bucket", field="vendor", size=25, order="desc", orderBy="1"),
              _agg(3, "cardinality", "metric", field="source")],
             {"perPage": 25, "showTotal": True}, "Vendors by number of listings, with the number of markets."),
        _vis("narcwatch-vis-ships-from", "narcwatch · ships from", "table", listings,
             [_agg(1, "count", "metric"), _agg(2, "terms", "bucket", field="ships_from", size=50, order="desc", orderBy="1"),
              _agg(3, "median", "metric", field="usd_per_gram")],
             {"perPage": 25, "showTotal": True}, "Listings per ships-from country or region, with median USD/gram."),
    ]
    panels, refs = [], []
    for i, vis in enumerate(visualisations):
        panels.append({"panelIndex": str(i + 1), "panelRefName": f"panel_{i}", "embeddableConfig": {},
                       "gridData": {"i": str(i + 1), "x": 24 * (i % 2), "y": 15 * (i // 2), "w": 24, "h": 15},
                       "version": _CORE})
        refs.append({"name": f"panel_{i}", "type": "visualization", "id": vis["id"]})
    dashboard = {
        "id": "narcwatch-dashboard", "type": "dashboard", "coreMigrationVersion": _CORE, "typeMigrationVersion": "8.7.0",
        "attributes": {"title": "narcwatch · markets overview", "description": "Listings per class, USD/gram, vendors, origins.",
                       "panelsJSON": json.dumps(panels, sort_keys=True), "timeRestore": False, "version": 1,
                       "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
                       "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
                           {"query": {"query": "", "language": "kuery"}, "filter": []})}},
        "references": refs}
    return [_data_view(listings), _data_view(snaps), *visualisations, dashboard]


def dumps(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(o, sort_keys=True) + "\n" for o in objects)


def main() -> int:
    OUTPUT.write_text(dumps(build()), encoding="utf-8")
    print(f"wrote {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
