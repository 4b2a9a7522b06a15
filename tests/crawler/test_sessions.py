"""Sessions against the sandbox: login with secrets, CAPTCHAs answered by a human, expiry, queues, cookies.txt.

The "human" is a thread that watches ``<data>/captcha/`` like the CLI prompt does, reads
the request the crawl wrote (page, saved image, image URL) and answers with what the
image shows (``server.captcha_answer``: the sandbox knows what it drew). The crawl
never guesses: without the thread it would wait.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from narcwatch.crawler import captcha
from narcwatch.crawler.config import Config, TorConfig
from narcwatch.crawler.middlewares.sessions import load_cookies_txt
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.runner import crawl_source
from narcwatch.crawler.spool import Spool
from narcwatch.sandbox import FaultConfig, SandboxServer, World
from narcwatch.sandbox.testing import fetch

pytestmark = [pytest.mark.server]

SOURCE = "velvet-market"
WORLD = 200


class Human(threading.Thread):
    """Answers every open CAPTCHA request under ``data`` from the image it names."""

    def __init__(self, server: SandboxServer, data: Path):
        super().__init__(daemon=True)
        self.server, self.data = server, data
        self.answered: list[captcha.CaptchaRequest] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            for req in captcha.open_requests(self.data):
                m = re.search(r"/captcha/([0-9a-z]{1,40})\.svg", req.image_url or "")
                assert m, f"CAPTCHA request without an image URL: {req}"
                assert req.image and Path(req.image).stat().st_size > 0, "image not saved for the human"
                text = self.server.captcha_answer(req.source, m.group(1))
                captcha.answer(self.data, req.source, req.id, text or "")
                self.answered.append(req)


@dataclass(frozen=True)
class Case:
    id: str
    faults: str
    require_login: bool = True
    credentials: bool = True
    cookies_txt: bool = False
    min_captchas: int = 1
    min_logins: int = 1


CASES = [
    Case("login-captcha", ""),
    Case("session-expiry-relogin", "session_expiry_after=60", min_captchas=2, min_logins=2),
    Case("captcha-changed", "captcha_changed,session_expiry_after=80", min_captchas=2, min_logins=2),
    Case("queue-and-login", "queue,queue_seconds=1"),
    Case("queue-only-no-login", "queue,queue_seconds=1", require_login=False, credentials=False,
         min_captchas=0, min_logins=0),
    Case("cookies-txt-no-credentials", "", credentials=False, cookies_txt=True, min_captchas=0, min_logins=0),
]


def _login_cookie(server: SandboxServer) -> tuple[str, str]:
    """What a user exports from Tor Browser after logging in by hand."""
    base = server.source(SOURCE).base_url.rstrip("/")
    page = fetch(server, base + "/login")
    cid = re.search(r'name="challenge" value="([0-9a-z]+)"', page.text).group(1)
    body = f"username=analyst&password=pw&challenge={cid}&captcha={server.captcha_answer(SOURCE, cid)}".encode()
    done = fetch(server, base + "/login", method="POST", body=body)
    assert done.status == 303, done.text[:300]
    return "vb_session", done.cookies["vb_session"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Listings an unobstructed crawl of the same world finds (no login, no faults).

    Not the ground truth itself: in small worlds the sandbox's category pages omit some
    listings the truth holds (reported to the lead); those are unreachable for any crawler."""
    tmp = tmp_path_factory.mktemp("reference")
    with SandboxServer(World(seed=1, size=WORLD)) as server:
        src = server.source(SOURCE).as_source().model_copy(update={"concurrency": 8, "autothrottle": False})
        data = DataDir.at(tmp / "data")
        cfg = Config(data_dir=data.root, tor=TorConfig(socks_url=server.socks_url, control=None))
        result = crawl_source(src, cfg, data, crawl_id="reference", proxy_url=server.socks_url, timeout=240)
        assert result.complete, result.errors
        with Spool(data.spool) as spool:
            return {e.payload["site_id"] for e in spool.iter_all("listing")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_session_flows(case: Case, reference: set[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    faults = FaultConfig.parse(",".join(p for p in (case.faults, f"only_sources={SOURCE}") if p))
    with SandboxServer(World(seed=1, size=WORLD), faults, require_login=case.require_login) as server:
        src = server.source(SOURCE).as_source().model_copy(update={
            "concurrency": 8, "autothrottle": False, "credentials": "velvet" if case.credentials else None})
        monkeypatch.setenv("NARCWATCH_SECRET_VELVET_USERNAME", "analyst")
        monkeypatch.setenv("NARCWATCH_SECRET_VELVET_PASSWORD", "not-a-real-password")
        data = DataDir.at(tmp_path / "data")
        if case.cookies_txt:
            name, value = _login_cookie(server)
            host = server.source(SOURCE).host
            (data.root / "cookies").mkdir()
            (data.root / "cookies" / f"{SOURCE}.txt").write_text(
                "# Netscape HTTP Cookie File\n" f"{host}\tFALSE\t/\tFALSE\t0\t{name}\t{value}\n")
        cfg = Config(data_dir=data.root, tor=TorConfig(socks_url=server.socks_url, control=None))
        human = Human(server, data.root)
        human.start()
        try:
            result = crawl_source(src, cfg, data, crawl_id=f"s-{case.id}", proxy_url=server.socks_url,
                                  extra_settings={"NARCWATCH_CAPTCHA_POLL": 0.05, "NARCWATCH_CAPTCHA_TIMEOUT": 60},
                                  timeout=240)
        finally:
            human.stop.set()
            human.join(5)
        log = Path(result.log_file).read_text()[-3000:]
        assert result.complete, (result.errors, result.health, log)
        st = result.stats
        assert len(human.answered) >= case.min_captchas
        assert st.get("narcwatch/session/logins", 0) >= case.min_logins, log
        if case.credentials and case.require_login:
            assert st.get("narcwatch/session/logins", 0) == len(human.answered) - st.get(
                "narcwatch/session/login_rejected", 0)
        counts = server.fault_counts()
        if "session_expiry" in case.faults:
            assert counts.get((SOURCE, "session_expiry"), 0) >= 1
        if "captcha_changed" in case.faults:
            assert counts.get((SOURCE, "captcha_changed"), 0) >= 1
            assert st.get("narcwatch/session/captcha_field_changed", 0) >= 1
        if "queue" in case.faults:
            assert counts.get((SOURCE, "queue"), 0) >= 1
            assert st.get("narcwatch/session/queue_waits", 0) >= 1
        if case.cookies_txt:
            assert st.get("narcwatch/session/cookies_imported") == 1
        truth = {t["site_id"] for t in server.truth() if t.get("source") == SOURCE and t["kind"] == "listing"}
        with Spool(data.spool) as spool:
            got = [e.payload["site_id"] for e in spool.iter_all("listing")]
        assert len(got) == len(set(got)), "a listing spooled twice"
        assert set(got) == reference
        assert set(got) <= truth and len(got) >= 0.8 * len(truth)


def test_cookies_txt_parsing_is_total(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("# Netscape HTTP Cookie File\n"
                    "abc.onion\tFALSE\t/\tFALSE\t0\tsid\tv1\n"
                    "garbage line without tabs\n"
                    ".abc.onion\tTRUE\t/x\tTRUE\t2000000000\tother\tv2\n")
    try:
        cookies = load_cookies_txt(path)
    except Exception as exc:  # noqa: BLE001 - the test reports what a user would see
        pytest.fail(f"cookies.txt with a bad line raised {exc!r}")
    assert {(c["name"], c["value"]) for c in cookies} >= {("sid", "v1"), ("other", "v2")}
