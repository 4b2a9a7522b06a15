"""crawler.health: the status file, the silent-stop rules, CAPTCHA waits and the Tor probe."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from narcwatch.crawler import captcha, health
from narcwatch.crawler.models import Source
from narcwatch.crawler.runner import CrawlResult
from narcwatch.dashboards.reader import read_crawl_status

HOUR = 3600.0
T0 = 1_700_000_000.0


def _src(network: str = "tor") -> Source:
    return Source(id="velvet", name="Velvet", kind="market", network=network, profile="p",
                  start_urls=["http://example.onion/" if network == "tor" else "http://127.0.0.1/"],
                  schedule="interval:1h")


def _result(items: int, complete: bool = True, crawl_id: str = "c", **kw) -> CrawlResult:
    return CrawlResult(source="velvet", crawl_id=crawl_id, complete=complete, pages=items + 3, items=items,
                       finish_reason=kw.pop("finish_reason", "finished"), **kw)


def _record(jobs: Path, results: list[CrawlResult], start: float = T0) -> health.SourceHealth:
    h = health.SourceHealth("velvet")
    for i, r in enumerate(results):
        h = health.record_crawl(jobs, r, now=start + i * HOUR, interrupted=r.finish_reason == "shutdown")
    return h


# (history of crawls, expected problem substrings) — the "quiet zero" rules.
CASES = [
    pytest.param([_result(40), _result(42)], [], id="healthy"),
    pytest.param([_result(40), _result(0)], ["stopped producing items"], id="zero-after-items"),
    pytest.param([_result(0), _result(0)], [], id="never-had-items-is-not-a-stop"),
    pytest.param([_result(40), _result(5, complete=False, errors={"http_503": 4})], ["last crawl incomplete (http_503=4)"],
                 id="incomplete"),
    pytest.param([_result(40), _result(3, complete=False, health=["profile p: selector for listing.title matched 0"],
                                       finish_reason="finished")],
                 ["profile does not match: profile p: selector for listing.title"], id="profile-broken"),
    pytest.param([_result(40), _result(2, complete=False, finish_reason="shutdown")], [], id="interrupted-is-not-an-error"),
    pytest.param([_result(3, complete=False, health=["profile p: 0 listings"]),
                  _result(0, complete=False, finish_reason="shutdown")],
                 ["profile does not match: profile p: 0 listings"], id="interrupted-keeps-profile-verdict"),
    pytest.param([_result(40), _result(0, complete=False, finish_reason="", errors={"crawler_crashed": 1},
                                       health=["crawl process exited -11: Segmentation fault"])],
                 ["crawl process crashed: crawl process exited -11"], id="crash-is-not-a-profile-error"),
]


@pytest.mark.parametrize(("results", "want"), CASES)
def test_problems_from_history(tmp_path: Path, results: list[CrawlResult], want: list[str]) -> None:
    h = _record(tmp_path, results)
    assert len(h.errors) == len(want), h.errors
    for w, got in zip(want, h.errors):
        assert w in got


def test_overdue_after_three_intervals(tmp_path: Path) -> None:
    _record(tmp_path, [_result(40)])
    src = _src("clearnet")
    fresh = health.evaluate(tmp_path, tmp_path, src, socks_url=None, interval=HOUR, now=T0 + 2.5 * HOUR)
    late = health.evaluate(tmp_path, tmp_path, src, socks_url=None, interval=HOUR, now=T0 + 3.5 * HOUR)
    assert fresh.errors == []
    assert len(late.errors) == 1 and late.errors[0].startswith("no successful crawl since")


def test_interrupted_crawl_keeps_its_id_for_resume(tmp_path: Path) -> None:
    health.mark_started(tmp_path, "velvet", "c1")
    h = health.record_crawl(tmp_path, _result(2, complete=False, crawl_id="c1", finish_reason="shutdown"),
                            interrupted=True)
    assert h.in_flight == "c1"
    other = health.record_crawl(tmp_path, _result(9, crawl_id="manual"))  # crawl --now with its own id
    assert other.in_flight == "c1"
    done = health.record_crawl(tmp_path, _result(9, crawl_id="c1"))
    assert done.in_flight is None and done.crawls == 3 and done.total_items == 20


def test_status_file_matches_what_the_dashboard_reads(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    _record(jobs, [_result(40), _result(0)])
    status = read_crawl_status(tmp_path, "velvet")
    assert status is not None and status.finished and status.items == 0
    assert status.last_crawl_at is not None
    assert any("stopped producing items" in e for e in status.errors)


@pytest.mark.parametrize("garbage", [b"", b"{", b"[1,2]", b'{"crawls": "many", "items": null}', b"\xff\xfe"])
def test_load_is_total(tmp_path: Path, garbage: bytes) -> None:
    (tmp_path / "velvet.status.json").write_bytes(garbage)
    h = health.load(tmp_path, "velvet")
    assert h.source == "velvet"
    health.record_crawl(tmp_path, _result(1))  # and recovers on the next crawl
    assert json.loads((tmp_path / "velvet.status.json").read_text())["items"] == 1


def test_captcha_waiting_is_an_operator_error(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    _record(jobs, [_result(40)])
    req = captcha.ask(tmp_path, "velvet", "http://example.onion/login", b"png")
    h = health.evaluate(jobs, tmp_path, _src("clearnet"), socks_url=None, interval=HOUR, now=T0)
    assert h.captcha_waiting == 1 and h.errors[0].startswith("waiting for a human")
    captcha.answer(tmp_path, "velvet", req.id, "abcd")
    assert health.evaluate(jobs, tmp_path, _src("clearnet"), socks_url=None, interval=HOUR, now=T0).errors == []


def _socks5_stub() -> tuple[socket.socket, threading.Thread]:
    """A minimal real SOCKS5 greeter on a free port: answers 'no auth' to the greeting."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def serve() -> None:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            if conn.recv(3)[:1] == b"\x05":
                conn.sendall(b"\x05\x00")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


def test_tor_probe_up_and_down(tmp_path: Path, sandbox) -> None:  # noqa: ANN001 - sandbox fixture
    assert health.probe_socks(sandbox.socks_url)
    srv, t = _socks5_stub()
    port = srv.getsockname()[1]
    assert health.probe_socks(f"socks5h://127.0.0.1:{port}")
    t.join(5)
    srv.close()
    assert not health.probe_socks(f"socks5h://127.0.0.1:{port}", timeout=1)
    jobs = tmp_path / "jobs"
    _record(jobs, [_result(40)])
    h = health.evaluate(jobs, tmp_path, _src("tor"), socks_url=f"socks5h://127.0.0.1:{port}", interval=HOUR, now=T0)
    assert h.tor_up is False and h.errors == ["Tor is down: the SOCKS proxy does not answer"]
