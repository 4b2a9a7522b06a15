"""CSV export: the ``facts.COLUMNS`` header, one row per fact with its provenance."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from narcwatch.index.exports.facts import COLUMNS, Fact

__all__ = ["to_csv"]

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(v: str) -> str:
    """Scraped text must not become a spreadsheet formula when an analyst opens the file."""
    return "'" + v if v.startswith(_FORMULA) else v


def to_csv(facts: Sequence[Fact]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for f in facts:
        w.writerow({k: _cell(v) for k, v in f.row().items()})
    return buf.getvalue()
