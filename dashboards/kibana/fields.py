"""The Elasticsearch indices and fields the Kibana objects are built on, read from the
index's own templates (``index/templates/*.json``, installed by
``narcwatch index apply-templates``) so the two cannot drift apart.

Each data view's pattern is ``{prefix}-{kind}*``: it matches the alias the store writes
through (``narcwatch-listings``) and the versioned indices behind it
(``narcwatch-listings-v1``). Only fields of the query language's registry
(``narcwatch.index.fields``) are offered, plus the snapshot bookkeeping fields; the
store's internal columns (``doc``, ``key_exact``, ``has_text`` ...) are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from narcwatch.index.fields import FIELDS
from narcwatch.index.search_engine import load_templates

__all__ = ["DATA_VIEWS", "DataView", "PREFIX", "template_fields"]

PREFIX = "narcwatch"
SNAPSHOT_EXTRA = ("seen_at", "crawl_id", "capture_sha256")


def template_fields(kind: str, extra: tuple[str, ...] = (), templates: dict[str, Any] | None = None) -> dict[str, str]:
    """field -> Elasticsearch type in the template of ``kind``, for registry fields and ``extra``."""
    props = (templates or load_templates())[kind]["mappings"]["properties"]
    wanted = set(FIELDS) | set(extra)
    return {name: str(spec["type"]) for name, spec in sorted(props.items()) if name in wanted and "type" in spec}


@dataclass(frozen=True)
class DataView:
    id: str
    name: str
    kind: str  # the store's index kind (search_engine.KINDS)
    time_field: str
    fields: dict[str, str]

    @property
    def pattern(self) -> str:
        return f"{PREFIX}-{self.kind}*"


DATA_VIEWS: dict[str, DataView] = {
    "listings": DataView("narcwatch-dv-listings", "narcwatch listings", "listings", "first_seen",
                         template_fields("listings")),
    "snapshots": DataView("narcwatch-dv-snapshots", "narcwatch listing snapshots", "snapshots", "seen_at",
                          template_fields("snapshots", SNAPSHOT_EXTRA)),
}
