"""NEWNYM against a real local ``tor`` (network disabled): the controller and the crawl's failure counter.

Tor accepts control connections, authenticates and handles ``SIGNAL NEWNYM`` while
``DisableNetwork 1`` keeps it off the internet; a second controller subscribed to
``SIGNAL`` events sees each NEWNYM the crawler sent. Skipped with the reason when the
``tor`` binary is missing or does not start.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.models import Network, Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import crawl_source
from narcwatch.crawler.spool import Spool
from narcwatch.crawler.tor import TorController, parse_control

from ._local import ONION, PROFILE, Market, serve_market, serve_socks

# stem 1.8 calls the deprecated Thread.setDaemon() when a controller starts (the test's event listener)
pytestmark = [pytest.mark.server, pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning")]

TOR = shutil.which("tor") or "/usr/sbin/tor"
PASSWORD = "fictional-control-password"


@dataclass
class LocalTor:
    proc: subprocess.Popen[bytes]
    port: int
    password: str | None

    def events(self) -> tuple["queue.Queue[str]", object]:
        """A controller subscribed to SIGNAL events; returns (queue of signal names, controller)."""
        from stem.control import Controller, EventType

        got: queue.Queue[str] = queue.Queue()
        ctl = Controller.from_port(address="127.0.0.1", port=self.port)
        ctl.authenticate(password=self.password)
        ctl.add_event_listener(lambda ev: got.put(str(ev.signal)), EventType.SIGNAL)
        return got, ctl


def _start_tor(tmp: Path, auth: str) -> LocalTor:
    if not os.access(TOR, os.X_OK):
        pytest.skip(f"no tor binary at {TOR}")
    portfile = tmp / "control.port"
    lines = [f"DataDirectory {tmp / 'data'}", "DisableNetwork 1", "SocksPort 127.0.0.1:auto",  # client functionality on, else NEWNYM is ignored
             "ControlPort 127.0.0.1:auto",
             f"ControlPortWriteToFile {portfile}", "Log notice stderr", "AvoidDiskWrites 1",
             f"__OwningControllerProcess {os.getpid()}"]  # tor exits if this test process dies
    password = None
    if auth == "cookie":
        lines.append("CookieAuthentication 1")
    else:
        password = PASSWORD
        hashed = subprocess.run([TOR, "--quiet", "--hash-password", password], capture_output=True, text=True,
                                timeout=30).stdout.strip().splitlines()[-1]
        lines.append(f"HashedControlPassword {hashed}")
    (tmp / "data").mkdir(mode=0o700)
    (tmp / "torrc").write_text("\n".join(lines) + "\n")
    log = open(tmp / "tor.log", "wb")
    proc = subprocess.Popen([TOR, "-f", str(tmp / "torrc"), "--defaults-torrc", os.devnull],
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.skip(f"tor exited with {proc.returncode}: {(tmp / 'tor.log').read_text()[-800:]}")
        if portfile.exists() and (ctl := parse_control(portfile.read_text().strip().removeprefix("PORT="))):
            with socket.create_connection(ctl, timeout=5):
                return LocalTor(proc, ctl[1], password)
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    pytest.skip(f"tor did not open its control port in 30 s: {(tmp / 'tor.log').read_text()[-800:]}")


@pytest.fixture(params=["cookie", "password"])
def tor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTor]:
    t = _start_tor(tmp_path_factory.mktemp(f"tor-{request.param}"), request.param)
    yield t
    t.proc.terminate()
    try:
        t.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        t.proc.kill()
        t.proc.wait()


def _next(q: "queue.Queue[str]", timeout: float = 15.0) -> str | None:
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        return None


def test_new_circuit_sends_newnym_to_a_real_tor(tor: LocalTor) -> None:
    events, ctl = tor.events()
    try:
        assert TorController("127.0.0.1", tor.port, tor.password).new_circuit() is True
        assert _next(events) == "NEWNYM"
    finally:
        ctl.close()  # type: ignore[attr-defined]


def test_a_wrong_password_is_reported_not_raised(tmp_path: Path) -> None:
    t = _start_tor(tmp_path, "password")
    try:
        assert TorController("127.0.0.1", t.port, "not-the-password").new_circuit() is False
        assert TorController("127.0.0.1", t.port, None).new_circuit() is False
    finally:
        t.proc.terminate()
        t.proc.wait(timeout=10)


def test_no_control_port_is_reported_not_raised() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert TorController("127.0.0.1", port, timeout=2).new_circuit() is False


class FlakySocks:
    """Tor's SOCKS port while circuits fail: the first ``fail`` connections are dropped at once
    (as Tor closes a stream it could not attach); the rest are piped to a working proxy."""

    def __init__(self, upstream_port: int, fail: int):
        self.upstream_port, self.left = upstream_port, fail
        self.dropped = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.left > 0:
                self.left -= 1
                self.dropped += 1
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()  # RST
                continue
            up = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(conn, up), daemon=True).start()

    @staticmethod
    def _pipe(conn: socket.socket, up: socket.socket) -> None:
        from ._local import pipe

        with conn:
            pipe(conn, up)  # closes ``up``

    def close(self) -> None:
        self.sock.close()


def test_failures_on_a_source_make_the_crawl_ask_tor_for_new_circuits(
        tor: LocalTor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After N consecutive proxy failures the crawl sends NEWNYM, changes its isolation
    credentials (circuit epoch) and still completes the crawl. With password auth the
    password comes from the secrets store, named by ``tor.control_password``."""
    secret = None
    if tor.password:
        secret = "tor-control"
        monkeypatch.setenv("NARCWATCH_SECRET_TOR_CONTROL", tor.password)  # the crawl child inherits it
    market = Market(n=5, per_page=10)
    http, port = serve_market(market)
    socks = serve_socks(port)
    assert socks.server is not None
    flaky = FlakySocks(socks.server.server_address[1], fail=3)
    events, ctl = tor.events()
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "localmarket.yaml").write_text(PROFILE)
    cfg = Config(data_dir=tmp_path / "data", profiles_dirs=[profiles],
                 tor=TorConfig(socks_url=f"socks5h://127.0.0.1:{flaky.port}", control=f"127.0.0.1:{tor.port}",
                               control_password=secret, new_circuit_after_failures=3))
    src = Source(id="localmkt", network=Network.TOR, profile="localmarket", start_urls=[f"http://{ONION}/"])
    data = DataDir.at(tmp_path / "data")
    try:
        result = crawl_source(src, cfg, data, crawl_id="newnym",
                              extra_settings={"NARCWATCH_BACKOFF_BASE": 0.05, "NARCWATCH_BACKOFF_MAX": 0.1},
                              timeout=120)
        assert result.complete, (result, Path(result.log_file).read_text()[-3000:])
        assert flaky.dropped == 3
        assert result.stats.get("narcwatch/route/new_circuit") == 1, result.stats
        assert result.stats.get("narcwatch/route/newnym/ok") == 1, result.stats
        assert _next(events) == "NEWNYM"
        # every stream still carries the source's isolation user (only the password names the new circuit)
        assert {u for _, _, u, _ in socks.connects} == {"narcwatch-localmkt"}
        with Spool(data.spool) as spool:
            assert sorted(int(e.payload["site_id"]) for e in spool.iter_all("listing")) == [1, 2, 3, 4, 5]
    finally:
        ctl.close()  # type: ignore[attr-defined]
        flaky.close()
        http.shutdown()
        http.server_close()
        socks.server.shutdown()
        socks.server.server_close()
