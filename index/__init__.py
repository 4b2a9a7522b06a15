"""The store: interface, backends, query language, change detection.

``open_store(config, data_dir)`` is the one way to get a ``Store``; the query language is
``narcwatch.index.query`` (``parse``, ``matches``, ``QueryError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from narcwatch.crawler.config import StoreConfig
    from narcwatch.crawler.paths import DataDir
    from narcwatch.index.store import Store

__all__ = ["open_store"]


def open_store(config: "StoreConfig", data_dir: "DataDir", *, cache_mib: int | None = None,
               mmap_mib: int | None = None) -> "Store":
    """SQLite in the data directory by default; Elasticsearch/OpenSearch at ``config.url``.

    ``cache_mib``/``mmap_mib``: SQLite's page cache and memory map (defaults 128 MiB and
    1 GiB, sized for searching); a writer that serves no searches (the daemon's ingest)
    needs far less, and mapped pages would count in its RSS as the file grows."""
    if config.backend == "sqlite":
        from narcwatch.index.sqlite import SqliteStore

        sizes = {k: v for k, v in (("cache_mib", cache_mib), ("mmap_mib", mmap_mib)) if v is not None}
        return SqliteStore(data_dir.store, **sizes)
    if not config.url:
        raise ValueError(f"store.backend {config.backend!r} needs store.url (e.g. http://127.0.0.1:9200)")
    from narcwatch.index.search_engine import SearchEngineStore

    return SearchEngineStore.connect(config.backend, config.url, prefix=config.index_prefix)
