"""``narcwatch serve`` writes JSON lines only, uvicorn's access and error lines included,
and never a secret: API tokens (header or query string), session cookies, CSRF tokens.

A real ``serve --port 0`` subprocess, real HTTP requests over 127.0.0.1, and a malformed
request on a raw socket to make uvicorn itself log an error-logger line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from narcwatch.dashboards.auth import Accounts

from dash_helpers import ANALYST, FAST_ARGON2

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"ts", "level", "logger", "msg"}


def _start(data: Path) -> tuple[subprocess.Popen[bytes], str, Path, Path]:
    out, err = data.parent / "serve.out", data.parent / "serve.err"
    env = {**os.environ, "NARCWATCH_DATA_DIR": str(data)}
    with out.open("w") as fout, err.open("w") as ferr:
        proc = subprocess.Popen([sys.executable, "-m", "narcwatch", "serve", "--port", "0"], env=env, cwd=ROOT,
                                stdout=fout, stderr=ferr)
    for _ in range(300):  # up to 30 s on a busy machine
        m = re.search(r"http://127\.0\.0\.1:\d+", out.read_text())
        if m or proc.poll() is not None:
            break
        time.sleep(0.1)
    if not m:
        proc.kill()
        proc.wait()
        pytest.fail(f"serve did not start: {out.read_text()!r} {err.read_text()!r}")
    return proc, m.group(0), out, err


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            pytest.fail(f"{path.name}: not a JSON line: {line!r}")
        assert isinstance(rec, dict) and KEYS <= rec.keys(), line
        out.append(rec)
    return out


def test_serve_logs_json_lines_without_secrets(tmp_path: Path) -> None:
    data = tmp_path / "data"
    accounts = Accounts(data, hasher=FAST_ARGON2)
    accounts.add_user(ANALYST[0], "analyst", ANALYST[1])
    token = accounts.create_token(ANALYST[0], "logs test")
    wrong = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    accounts.close()
    proc, base, out, err = _start(data)
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            bearer = {"Authorization": f"Bearer {token}"}
            assert c.get("/api/me", headers=bearer).status_code == 200
            # a careless client puts the token in the query string too
            r = c.get("/api/search", params={"q": "fictional-secret-query", "token": token, "access_token": token},
                      headers=bearer)
            assert r.status_code == 200
            assert c.get("/api/me", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
            page = c.get("/login")
            login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
            r = c.post("/login", data={"username": ANALYST[0], "password": ANALYST[1], "login_csrf": login_csrf})
            assert r.status_code in (200, 303)
            cookie = c.cookies.get("nw_session")
            assert cookie
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/account").text).group(1)
            c.get("/search", params={"q": "x", "csrf_token": csrf})
            c.get("/no/such/page")
        with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10) as s:
            s.sendall(b"GARBAGE \x00\x01 nonsense\r\n\r\n")  # uvicorn logs "Invalid HTTP request received."
            s.recv(1024)
    finally:
        _stop(proc)
    records = _lines(out) + _lines(err) + _lines(data / "logs" / "serve.log")
    stdout = _lines(out)
    assert len(stdout) == 1 and stdout[0]["url"] == base + "/"
    loggers = {r["logger"] for r in records}
    assert {"uvicorn.access", "uvicorn.error", "narcwatch.serve"} <= loggers, loggers
    assert any(r["logger"] == "uvicorn.error" and r["level"] == "warning" and "Invalid HTTP request" in r["msg"]
               for r in records)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert {(r["method"], r["path"], r["status"]) for r in access} >= {
        ("GET", "/api/me", 200), ("GET", "/api/search", 200), ("GET", "/api/me", 401), ("POST", "/login", 303)}
    search = next(r for r in access if r["path"] == "/api/search")
    assert search["query_keys"] == "q,token,access_token" and search["client"].startswith("127.0.0.1:")
    text = "\n".join([out.read_text(), err.read_text(), (data / "logs" / "serve.log").read_text()])
    for secret in (token, token.split("_")[-1], wrong, cookie, cookie.split(".")[0], csrf, login_csrf,
                   "fictional-secret-query", ANALYST[1]):
        assert secret not in text, f"a secret reached the logs: {secret[:6]}..."


TOKEN = "nw_0123456789abcdef_" + "Ab1-_" * 8 + "xyz"
COOKIE = "Zz9-_" * 8 + "abc" + "." + "0f" * 32


@pytest.mark.parametrize("text, expected", [
    pytest.param("", "", id="empty"),
    pytest.param(f"Authorization: Bearer {TOKEN}", "Authorization: Bearer [REDACTED]", id="bearer"),
    pytest.param(f"GET /api/me?x={TOKEN}&y=1", "GET /api/me?x=[REDACTED]&y=1", id="token-anywhere"),
    pytest.param(f"cookie: nw_session={COOKIE}; other=1", "cookie: nw_session=[REDACTED]; other=1", id="cookie"),
    pytest.param("csrf_token=abcdefghijklmnop1234&q=x", "csrf_token=[REDACTED]&q=x", id="csrf-form-field"),
    pytest.param("X-CSRF-Token: 'abcdefghijklmnop1234'", "X-CSRF-Token: '[REDACTED]'", id="csrf-header"),
    pytest.param("the csrf check failed", "the csrf check failed", id="word-csrf-alone"),
    pytest.param("nw_0123_short", "nw_0123_short", id="not-a-token-shape"),
    pytest.param("a" * 100_000 + "csrf=" * 10_000, "a" * 100_000 + "csrf=" * 10_000, id="hostile-long-line"),
])
def test_scrub(text: str, expected: str) -> None:
    from narcwatch.dashboards.weblog import scrub

    assert scrub(text) == expected


@pytest.mark.parametrize("args, fields", [
    pytest.param(("127.0.0.1:5", "GET", f"/api/search?q=a&token={TOKEN}", "1.1", 200),
                 {"msg": "GET /api/search 200", "path": "/api/search", "query_keys": "q,token", "status": 200},
                 id="query-values-dropped"),
    pytest.param(("127.0.0.1:5", "GET", f"/x/{TOKEN}", "1.1", 404),
                 {"msg": "GET /x/[REDACTED] 404", "path": "/x/[REDACTED]"}, id="token-in-path"),
    pytest.param(("odd",), {"msg": "plain odd", "path": None}, id="not-an-access-record"),
])
def test_access_filter(args: tuple, fields: dict) -> None:
    import logging

    from narcwatch.crawler.logs import JsonFormatter
    from narcwatch.dashboards.weblog import AccessLogFilter

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d' if len(args) == 5 else "plain %s", args, None)
    assert AccessLogFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert {k: line.get(k) for k in fields} == fields
    assert TOKEN not in json.dumps(line)
