"""Rule filters: the product's query language evaluated in memory on one document.

Alerting depends on the narrow ``Filter`` interface (``.matches(doc)``, ``.text``) and
gets its one implementation from the index area (``narcwatch.index.query``), so a rule's
``filter:`` means exactly what the same string means in ``narcwatch search``: same
fields and aliases, same errors with positions and the list of valid fields.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from narcwatch.index.query import ParsedQuery, QueryError, matches, parse

__all__ = ["Filter", "FilterError", "MatchAll", "QueryFilter", "compile_filter"]

MAX_FILTER = 2000


class FilterError(ValueError):
    """A filter string that does not parse; the message says where and why."""


@runtime_checkable
class Filter(Protocol):
    text: str

    def matches(self, doc: dict[str, Any]) -> bool: ...


class MatchAll:
    """The empty filter: a rule without ``filter`` matches every event of its types."""

    text = "*"

    def matches(self, doc: dict[str, Any]) -> bool:
        return True


class QueryFilter:
    """Parsed once; a filter with date math (``last_seen:>now-7d``) is re-parsed per
    evaluation so that ``now`` means the moment of the event, not of rule loading."""

    def __init__(self, text: str):
        self.text = text
        try:
            self._parsed: ParsedQuery = parse(text)
        except QueryError as exc:
            raise FilterError(str(exc)) from None
        self._dynamic = "now" in text.lower()

    def matches(self, doc: dict[str, Any]) -> bool:
        return matches(parse(self.text) if self._dynamic else self._parsed, doc)


def compile_filter(text: str | None) -> Filter:
    if text is None or not text.strip() or text.strip() == "*":
        return MatchAll()
    if len(text) > MAX_FILTER:
        raise FilterError(f"filter longer than {MAX_FILTER} characters")
    return QueryFilter(text)
