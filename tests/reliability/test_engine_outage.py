"""The search engine (OpenSearch, here the real in-memory ``osmem-server``) goes away
while the ingest worker works through the spool, and while the dashboard searches.

Two kinds of outage, both real network failures seen by the real client:

* the engine unreachable while its data survives (a network cut, a cluster restart): a
  TCP forwarder between client and engine stops listening (connection refused) and
  drops the connections in flight; then it listens again on the same port;
* the engine process stopped (osmem is in-memory, so its data is gone) and started
  again on the same port: the operator re-applies the templates and replays the spool
  from offset 0, and the store is rebuilt to the same content.

Either way the client's own exceptions surface as the product's "index unavailable":
a health error on the ingest worker, the batch left unacknowledged in the spool, the
worker alive and backing off, and ingest resuming by itself; the dashboard answers 503,
not a stack trace. The store afterwards equals an uninterrupted ingest of the same spool
(listings, snapshots, events... compared by document id).
"""

from __future__ import annotations

import hashlib
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from narcwatch.crawler.models import Listing, Money
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.spool import Spool
from narcwatch.ingest import Ingestor

pytestmark = [pytest.mark.server, pytest.mark.timeout(180)]

osmem_server = pytest.importorskip("osmem_server")
search_engine = pytest.importorskip("narcwatch.index.search_engine")

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=timezone.utc)
N = 40  # listings per crawl; the second crawl changes prices and adds N // 2 new ones


def _listing(i: int, crawl: int) -> Listing:
    price = Decimal(40 + i + (5 if crawl == 2 and i % 3 == 0 else 0))
    return Listing(source="outage-market", site_id=str(i), url=f"http://market.sandbox.test/listing/{i}",
                   crawl_id=f"c{crawl}", seen_at=T0 + timedelta(hours=6 * crawl), title=f"Fictional metonitazene powder {i}",
                   vendor=f"fict_vendor_{i % 4}", price=Money(amount=price, currency="USD"), capture_id=f"cap-{crawl}-{i}",
                   capture_sha256=hashlib.sha256(f"capture-{crawl}-{i}".encode()).hexdigest())


def _fill(spool: Spool) -> int:
    rows = [(f"c1:{i}", "listing", _listing(i, 1).model_dump(mode="json"), "outage-market") for i in range(N)]
    rows += [(f"c2:{i}", "listing", _listing(i, 2).model_dump(mode="json"), "outage-market")
             for i in range(N + N // 2)]
    return spool.put_many(rows)


class Forwarder:
    """A TCP forwarder on a fixed local port: ``cut()`` refuses new connections and drops
    the open ones, ``restore()`` listens on the same port again."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> "Forwarder":
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self._listener = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()
        return self

    def cut(self) -> None:
        srv, self._listener = self._listener, None
        if srv is not None:
            try:
                srv.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept(); close() alone does not
            except OSError:
                pass
            srv.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, up]
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _stop(server: Any) -> None:
    server.close()
    for stream in (server.process.stdout, server.process.stdin):  # the launcher leaves its pipes open
        if stream is not None and not stream.closed:
            stream.close()


@pytest.fixture(scope="module")
def osmem() -> Iterator[Any]:
    server = osmem_server.OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    yield server
    _stop(server)


def _hostport(url: str) -> tuple[str, int]:
    host, port = url.rsplit("//", 1)[-1].rstrip("/").rsplit(":", 1)
    return host, int(port)


def _connect(url: str, prefix: str) -> Any:
    # a short client timeout: a cut connection must fail fast, not after the default 10 s
    return search_engine.SearchEngineStore.connect("opensearch", url, prefix=prefix, refresh=True,
                                                   client_options={"timeout": 5})


def dump(store: Any) -> dict[str, set[str]]:
    """Every document id of every kind: what "the same store" means."""
    out: dict[str, set[str]] = {}
    for kind in search_engine.KINDS:
        store.client.raw.indices.refresh(index=store.alias(kind))
        hits = store.client.raw.search(index=store.alias(kind), body={"query": {"match_all": {}}, "size": 10_000,
                                                                       "_source": False})["hits"]["hits"]
        out[kind] = {h["_id"] for h in hits}
    return out


def _reference(osmem: Any, tmp: Path, fill: Callable[[Spool], int] = _fill) -> dict[str, set[str]]:
    """What an uninterrupted ingest of ``fill``'s spool leaves in a fresh engine."""
    clone = osmem.clone()
    try:
        store = _connect(clone.url, "ref")
        data = DataDir.at(tmp / "ref")
        data.ensure()
        with Spool(data.spool) as spool:
            fill(spool)
            Ingestor(spool, store, batch_size=10).drain()
        got = dump(store)
        store.close()
        return got
    finally:
        clone.close()


def wait_drained(spool: Spool, stop: threading.Event, polls: int, every: float) -> None:
    """Until the ingest worker has emptied ``spool`` (or ``polls`` polls ``every`` seconds apart)."""
    for _ in range(polls):
        if spool.pending("ingest") == 0:
            return
        stop.wait(every)


def ingest_through_faults(spool: Spool, store: Any, faults: int, inject: Callable[[], Callable[[], None]],
                          pause: Callable[[], float] = lambda: 0.0, meet_polls: int = 400,
                          drain_polls: int = 1500) -> tuple[Ingestor, int, int]:
    """Ingest ``spool`` with the worker running (as the daemon does) while ``faults``
    faults are injected, each ``pause()`` seconds after the last: ``inject()`` starts one
    and returns what ends it, called once the worker has reported it (or after
    ``meet_polls`` polls). Returns the ingestor, how many faults the worker met and
    outlived, and the items still pending after the drain."""
    ingestor = Ingestor(spool, store, batch_size=10)
    stop = threading.Event()
    worker = threading.Thread(target=ingestor.run_forever, args=(stop,), kwargs={"poll": 0.02, "backoff_max": 0.2})
    worker.start()
    survived = 0
    try:
        for _ in range(faults):
            stop.wait(pause())
            errors = ingestor.stats.store_errors
            release = inject()
            for _ in range(meet_polls):
                if ingestor.stats.store_errors > errors:
                    break
                stop.wait(0.02)
            release()
            survived += ingestor.stats.store_errors > errors and worker.is_alive()
        wait_drained(spool, stop, drain_polls, 0.02)
    finally:
        stop.set()
        worker.join(60)
    return ingestor, survived, spool.pending("ingest")


def test_engine_unreachable_mid_ingest_is_a_health_error_and_resumes_by_itself(osmem: Any, tmp_path: Path) -> None:
    want = _reference(osmem, tmp_path)
    assert len(want["listings"]) == N + N // 2 and want["events"] and want["snapshots"]
    clone = osmem.clone()
    fwd = Forwarder(_hostport(clone.url)).restore()
    data = DataDir.at(tmp_path / "data")
    data.ensure()
    store = _connect(fwd.url, "ref")
    try:
        with Spool(data.spool) as spool:
            total = _fill(spool)
            ingestor = Ingestor(spool, store, batch_size=10)
            assert ingestor.try_once() == 10 and ingestor.try_once() == 10  # some work done before the outage
            fwd.cut()
            stop = threading.Event()
            worker = threading.Thread(target=ingestor.run_forever, args=(stop,),
                                      kwargs={"poll": 0.05, "backoff_max": 0.3})
            worker.start()
            try:
                for _ in range(300):
                    if ingestor.stats.store_errors >= 3:
                        break
                    stop.wait(0.05)
                assert ingestor.stats.store_errors >= 3, ingestor.stats  # backing off, not acking, not dead
                assert any(h.startswith("index unavailable") for h in ingestor.stats.health), ingestor.stats.health
                assert spool.pending("ingest") == total - 20  # the failed batch stays in the spool
                assert worker.is_alive()
                fwd.restore()
                wait_drained(spool, stop, 600, 0.05)
            finally:
                stop.set()
                worker.join(30)
            assert spool.pending("ingest") == 0
        assert dump(store) == want  # nothing lost, nothing extra
    finally:
        fwd.cut()
        store.close()
        clone.close()


def test_engine_restarted_empty_is_rebuilt_from_the_spool(tmp_path: Path) -> None:
    """osmem itself stopped mid-ingest (its memory is gone), started again on the same port:
    the worker reported the outage and kept the batch; replaying the spool from offset 0
    into the fresh engine rebuilds the same store."""
    ref_server = osmem_server.OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    try:
        want = _reference(ref_server, tmp_path)
    finally:
        _stop(ref_server)
    server = osmem_server.OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    port = _hostport(server.url)[1]
    data = DataDir.at(tmp_path / "data")
    data.ensure()
    store = _connect(server.url, "ref")
    try:
        with Spool(data.spool) as spool:
            total = _fill(spool)
            ingestor = Ingestor(spool, store, batch_size=10)
            assert ingestor.try_once() == 10
            _stop(server)  # the engine process is gone
            assert ingestor.try_once() is None
            assert ingestor.stats.store_errors == 1 and ingestor.stats.health[-1].startswith("index unavailable")
            assert spool.pending("ingest") == total - 10
            server = osmem_server.OsmemServer.start(addr=f"127.0.0.1:{port}", japanese=False)
            store.close()
            store = _connect(server.url, "ref")  # apply-templates on the empty engine
            replay = Ingestor(spool, store, consumer=f"rebuild-{uuid.uuid4().hex[:6]}", batch_size=10)
            replay.drain()
            assert replay.stats.store_errors == 0 and spool.pending(replay.consumer) == 0
        assert dump(store) == want
    finally:
        store.close()
        _stop(server)


def test_dashboard_search_during_an_engine_outage_answers_503_then_recovers(osmem: Any, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from narcwatch.crawler.config import Config
    from narcwatch.dashboards.app import create_app
    from tests.dashboards.dash_helpers import ANALYST, FAST_ARGON2, login

    clone = osmem.clone()
    fwd = Forwarder(_hostport(clone.url)).restore()
    data = DataDir.at(tmp_path / "data")
    data.ensure()
    store = _connect(fwd.url, "dash")
    try:
        with Spool(data.spool) as spool:
            _fill(spool)
            Ingestor(spool, store, batch_size=50).drain()
        app = create_app(store, data.root, Config(data_dir=data.root), password_hasher=FAST_ARGON2)
        app.state.ctx.accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
        paths = ["/search?q=metonitazene", "/api/search?q=metonitazene", "/api/index/search?q=metonitazene"]
        with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
            login(client, ANALYST)
            assert [client.get(p).status_code for p in paths] == [200, 200, 200]
            assert client.get("/healthz").status_code == 200
            fwd.cut()
            health = client.get("/healthz")  # what a load balancer or compose healthcheck polls
            assert health.status_code == 503 and health.text.startswith("index unavailable"), health.text
            down = [client.get(p) for p in paths]
            assert [r.status_code for r in down] == [503, 503, 503], [r.text[:300] for r in down]
            assert all(r.headers.get("retry-after") for r in down)
            assert "unavailable" in down[0].text and "Traceback" not in down[0].text
            assert "unavailable" in down[1].json()["detail"]
            fwd.restore()
            assert [client.get(p).status_code for p in paths] == [200, 200, 200]  # back by itself
            assert client.get("/healthz").status_code == 200
    finally:
        fwd.cut()
        store.close()
        clone.close()


def run_engine_cuts(osmem: Any, tmp: Path, *, cuts: int, seed: int = 3, spool_fill: Any = None) -> dict[str, Any]:
    """Ingest the spool with the worker running while the engine is cut off ``cuts`` times
    at random moments (each cut held until the worker has reported it); the store compared
    with an uninterrupted ingest of the same spool."""
    import random

    fill = spool_fill or _fill
    rng = random.Random(seed)
    want = _reference(osmem, tmp, fill)
    clone = osmem.clone()
    fwd = Forwarder(_hostport(clone.url)).restore()
    data = DataDir.at(tmp / "cut")
    data.ensure()
    store = _connect(fwd.url, "cuts")
    try:
        with Spool(data.spool) as spool:
            total = fill(spool)

            def cut() -> Callable[[], None]:
                fwd.cut()
                return fwd.restore

            ingestor, survived, pending = ingest_through_faults(spool, store, cuts, cut, pause=lambda: rng.uniform(0.0, 0.3))
        got = dump(store)
    finally:
        fwd.cut()
        store.close()
        clone.close()
    lost = sum(len(want[k] - got.get(k, set())) for k in want)
    extra = sum(len(got[k] - want.get(k, set())) for k in got)
    return {"cuts": cuts, "survived": survived, "pending": pending, "lost": lost, "extra": extra, "total": total,
            "store_errors": ingestor.stats.store_errors, "same": got == want}


def test_repeated_engine_cuts_lose_and_duplicate_nothing(osmem: Any, tmp_path: Path) -> None:
    out = run_engine_cuts(osmem, tmp_path, cuts=4)
    assert out["survived"] == 4 and out["pending"] == 0, out
    assert out["same"] and out["lost"] == 0 and out["extra"] == 0, out
