"""The official ``elasticsearch`` client path of the adapter, end to end.

No Elasticsearch runs here, and the elasticsearch client refuses servers that do not
say ``X-Elastic-Product: Elasticsearch``. So a small real HTTP shim on 127.0.0.1 sits
between the client and osmem: it maps ES's compatibility media type to plain JSON and
adds the product header, nothing else. The same store code then runs through
``elasticsearch.Elasticsearch`` (bulk ``operations=``, response objects, exceptions).
A real cluster is tested by the contract suite when NARCWATCH_ES_URL is set.
"""

from __future__ import annotations

import http.client
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from narcwatch.index.es_client import EngineError

from .conftest import corpus

pytestmark = pytest.mark.server


def _shim(upstream: str) -> ThreadingHTTPServer:
    host = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ctype = self.headers.get("Content-Type", "application/json")
            ctype = "application/x-ndjson" if "x-ndjson" in ctype else "application/json"
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
            try:
                conn.request(self.command, self.path, body=body or None, headers={"Content-Type": ctype})
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            self.send_response(resp.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def es_url(osmem: Any) -> Iterator[str]:
    with osmem.clone() as clone:
        server = _shim(clone.url)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            t.join()


def test_the_store_runs_through_the_official_elasticsearch_client(es_url: str, tmp_path: Any) -> None:
    from narcwatch.index.search_engine import SearchEngineStore
    from narcwatch.index.sqlite import SqliteStore

    sq = SqliteStore(tmp_path / "s.sqlite")
    expected = [e.id for e in sq.ingest(corpus())]
    sq.close()

    store = SearchEngineStore.connect("elasticsearch", es_url, prefix=f"nw{uuid.uuid4().hex[:8]}", refresh=True)
    assert type(store.client.raw).__module__.startswith("elasticsearch")
    events = store.ingest(corpus())
    assert [e.id for e in events] == expected and store.ingest(corpus()) == []
    assert set(store.search("class:nitazene AND ships_from:EU").keys) == {"alpha:1", "alpha:2"}
    assert store.vendor("drgreen").markets == ["alpha", "beta"]
    assert store.counts()["snapshots"] == 7
    with pytest.raises(EngineError) as exc:
        store.client.search("no-such-index", {"query": {"match_all": {}}})
    assert exc.value.status == 404
    store.drop_all()
    assert store.client.alias_targets(store.alias("listings")) == []
    store.close()
