"""``narcwatch index``: administration of an Elasticsearch/OpenSearch store (templates, migrations).

A deployment applies the index templates once before anything writes (the compose
file's ``index-init`` service runs ``narcwatch index apply-templates --wait 300``).
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Optional

import typer

from narcwatch.cli._common import console, fail, state

app = typer.Typer(no_args_is_help=True, help="Search-engine index administration (Elasticsearch/OpenSearch).")

_Backend = Annotated[Optional[str], typer.Option("--backend", help="elasticsearch or opensearch (default: config store.backend).")]
_Url = Annotated[Optional[str], typer.Option("--url", help="Cluster URL (default: config store.url).")]
_Prefix = Annotated[Optional[str], typer.Option("--prefix", help="Index/alias prefix (default: config store.index_prefix).")]


def _store(ctx: typer.Context, backend: str | None, url: str | None, prefix: str | None, wait: float) -> Any:
    from narcwatch.index.es_client import EngineError
    from narcwatch.index.search_engine import SearchEngineStore

    cfg = state(ctx).config.store
    backend = backend or (cfg.backend if cfg.backend != "sqlite" else None)
    url = url or cfg.url
    if backend not in ("elasticsearch", "opensearch") or not url:
        fail("needs a search-engine store: --backend elasticsearch|opensearch --url URL "
             "(or store.backend and store.url in the config)")
    deadline = time.monotonic() + max(0.0, wait)
    while True:  # a cluster that is still starting (compose, systemd) is waited for, up to --wait seconds
        try:
            store = SearchEngineStore.connect(backend, url, prefix=prefix or cfg.index_prefix)
            store.pending_migrations()  # one real request: the cluster answers
            return store
        except (EngineError, OSError, ConnectionError) as exc:
            if time.monotonic() >= deadline:
                fail(f"cannot reach {backend} at {url}: {exc}")
            time.sleep(2.0)


@app.command("apply-templates", help="Install/update the index templates and create missing indices behind their aliases.")
def apply_templates(
    ctx: typer.Context, backend: _Backend = None, url: _Url = None, prefix: _Prefix = None,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the cluster to come up.")] = 0.0,
) -> None:
    store = _store(ctx, backend, url, prefix, wait)
    try:
        applied = store.apply_templates()
        pending = store.pending_migrations()
    except RuntimeError as exc:  # an index newer than this narcwatch's templates
        fail(str(exc))
    console.print(json.dumps({"indices": applied, "pending_migrations": {k: list(v) for k, v in pending.items()}},
                             indent=2))
    if pending:
        console.print("[yellow]reindex due:[/yellow] run `narcwatch index migrate` with ingest paused", highlight=False, markup=True)


@app.command("migrate", help="Reindex every index whose template version is newer, then swap its alias.")
def migrate(
    ctx: typer.Context, backend: _Backend = None, url: _Url = None, prefix: _Prefix = None,
    delete_old: Annotated[bool, typer.Option("--delete-old", help="Delete the old index after the swap.")] = False,
) -> None:
    store = _store(ctx, backend, url, prefix, 0.0)
    try:
        console.print(json.dumps(store.migrate(delete_old=delete_old), indent=2))
    except RuntimeError as exc:
        fail(str(exc))
