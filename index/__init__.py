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

__all__ = ["StoreMissing", "open_store"]


class StoreMissing(FileNotFoundError):
    """A reader named a data directory that holds no store."""

    def __init__(self, path: object):
        super().__init__(f"no store at {path}: nothing has been crawled into this data directory. "
                         "Run `narcwatch demo` or `narcwatch run` to fill it, or name the one that was "
                         "filled: `narcwatch --data-dir DIR ...` (or NARCWATCH_DATA_DIR)")
        self.path = path


def open_store(config: "StoreConfig", data_dir: "DataDir", *, cache_mib: int | None = None,
               mmap_mib: int | None = None, must_exist: bool = False) -> "Store":
    """SQLite in the data directory by default; Elasticsearch/OpenSearch at ``config.url``.

    ``cache_mib``/``mmap_mib``: SQLite's page cache and memory map (defaults 128 MiB and
    1 GiB, sized for searching); a writer that serves no searches (the daemon's ingest)
    needs far less, and mapped pages would count in its RSS as the file grows.
    ``must_exist``: a reader's open (search, histories, exports). Without a store file it
    raises ``StoreMissing`` instead of creating an empty store, whose "0 matches" would
    read as "nothing like this was ever seen" to someone who named the wrong directory."""
    if config.backend == "sqlite":
        from narcwatch.index.sqlite import SqliteStore

        if must_exist and not data_dir.store.exists():
            raise StoreMissing(data_dir.store)

        sizes = {k: v for k, v in (("cache_mib", cache_mib), ("mmap_mib", mmap_mib)) if v is not None}
        return SqliteStore(data_dir.store, **sizes)
    if not config.url:
        raise ValueError(f"store.backend {config.backend!r} needs store.url (e.g. http://127.0.0.1:9200)")
    from narcwatch.index.search_engine import SearchEngineStore

    return SearchEngineStore.connect(config.backend, config.url, prefix=config.index_prefix)
