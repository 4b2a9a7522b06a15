"""A thin adapter over the official ``elasticsearch`` client and ``opensearch-py``.

The store speaks one DSL; the two clients differ only in a few call shapes (the bulk body
parameter, response objects, exception classes). This module hides exactly that and
nothing more: every method is one API call with the same JSON on both engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["EngineClient", "EngineError", "EngineUnavailable", "connect_client"]

Flavor = Literal["elasticsearch", "opensearch"]


class EngineError(RuntimeError):
    """An API call failed; ``status`` is the HTTP status (or None for a connection error)."""

    def __init__(self, message: str, status: int | None = None, info: Any = None):
        super().__init__(message)
        self.status = status
        self.info = info


class EngineUnavailable(EngineError, ConnectionError):
    """The cluster cannot be reached or is overloaded (refused, reset, timeout, 429/502/503/504).

    A ``ConnectionError``, so the ingest worker treats it like a locked SQLite file:
    a health error, the batch stays in the spool, retried with backoff."""


# Client exception classes (by name, same on elasticsearch/elastic_transport and opensearchpy)
# and HTTP statuses that mean "try again later" rather than "this request is wrong".
_UNAVAILABLE_CLASSES = frozenset({"ConnectionError", "ConnectionTimeout", "TlsError", "SSLError"})
_UNAVAILABLE_STATUSES = frozenset({429, 502, 503, 504})


def _unavailable(exc: BaseException, status: int | None) -> bool:
    return status in _UNAVAILABLE_STATUSES or any(c.__name__ in _UNAVAILABLE_CLASSES for c in type(exc).__mro__[:-2])


def _body(resp: Any) -> Any:
    return getattr(resp, "body", resp)


class EngineClient:
    """One cluster, one flavor. ``raw`` is the underlying client for anything not wrapped."""

    def __init__(self, raw: Any, flavor: Flavor):
        self.raw = raw
        self.flavor = flavor

    def _call(self, fn: Any, **kw: Any) -> Any:
        try:
            return _body(fn(**kw))
        except Exception as exc:  # both clients' ApiError/TransportError/ConnectionError
            status = getattr(exc, "status_code", None) or getattr(getattr(exc, "meta", None), "status", None)
            if not isinstance(status, int):
                status = None
            info = getattr(exc, "info", None) or getattr(exc, "body", None)
            if type(exc).__module__.split(".")[0] not in ("elasticsearch", "opensearchpy", "elastic_transport"):
                raise
            kind = EngineUnavailable if _unavailable(exc, status) else EngineError
            raise kind(f"{self.flavor}: {exc}", status, info) from exc

    # --- cluster / indices ---------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return self._call(self.raw.info)

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        self._call(self.raw.indices.put_index_template, name=name, body=body)

    def create_index(self, name: str, aliases: dict[str, Any] | None = None) -> None:
        self._call(self.raw.indices.create, index=name, body={"aliases": aliases or {}})

    def delete_index(self, name: str) -> None:
        try:
            self._call(self.raw.indices.delete, index=name)
        except EngineError as exc:
            if exc.status != 404:
                raise

    def index_exists(self, name: str) -> bool:
        return bool(self._call(self.raw.indices.exists, index=name))

    def alias_targets(self, alias: str) -> list[str]:
        """Indices behind ``alias`` (sorted), [] when the alias does not exist."""
        try:
            got = self._call(self.raw.indices.get_alias, name=alias)
        except EngineError as exc:
            if exc.status == 404:
                return []
            raise
        return sorted(got)

    def update_aliases(self, actions: Sequence[dict[str, Any]]) -> None:
        self._call(self.raw.indices.update_aliases, body={"actions": list(actions)})

    def get_mapping(self, index: str) -> dict[str, Any]:
        return self._call(self.raw.indices.get_mapping, index=index)

    def refresh(self, index: str) -> None:
        self._call(self.raw.indices.refresh, index=index)

    def reindex(self, source: str, dest: str) -> dict[str, Any]:
        return self._call(self.raw.reindex, body={"source": {"index": source}, "dest": {"index": dest}},
                          refresh=True, wait_for_completion=True)

    # --- documents -----------------------------------------------------------------------

    def bulk(self, ndjson: str, refresh: bool | str = False) -> dict[str, Any]:
        r = "true" if refresh is True else ("false" if refresh is False else refresh)
        if self.flavor == "elasticsearch":
            return self._call(self.raw.bulk, operations=ndjson, refresh=r)
        return self._call(self.raw.bulk, body=ndjson, refresh=r)

    def mget(self, docs: Sequence[dict[str, Any]], source: bool | Sequence[str] = True) -> list[dict[str, Any]]:
        if not docs:
            return []
        src: Any = source if isinstance(source, bool) else list(source)
        return self._call(self.raw.mget, body={"docs": list(docs)}, _source=src)["docs"]

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.raw.search, index=index, body=body)

    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        return int(self._call(self.raw.count, index=index, body={"query": query or {"match_all": {}}})["count"])

    def close(self) -> None:
        close = getattr(self.raw, "close", None)
        if close:
            close()


def connect_client(flavor: Flavor, url: str, **options: Any) -> EngineClient:
    """``elasticsearch.Elasticsearch`` or ``opensearchpy.OpenSearch`` for ``url``."""
    if flavor == "elasticsearch":
        from elasticsearch import Elasticsearch

        return EngineClient(Elasticsearch(url, request_timeout=options.pop("timeout", 30), **options), flavor)
    if flavor == "opensearch":
        from opensearchpy import OpenSearch

        return EngineClient(OpenSearch(hosts=[url], timeout=options.pop("timeout", 30), **options), flavor)
    raise ValueError(f"unknown search engine {flavor!r}; expected elasticsearch or opensearch")
