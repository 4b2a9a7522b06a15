"""Exports of actors and query results: STIX 2.1, MISP and CSV, all from the same facts."""

from narcwatch.index.exports.csvout import to_csv
from narcwatch.index.exports.facts import COLUMNS, Fact, facts_for
from narcwatch.index.exports.misp import to_misp
from narcwatch.index.exports.stix import to_stix

__all__ = ["COLUMNS", "Fact", "facts_for", "to_csv", "to_misp", "to_stix"]
