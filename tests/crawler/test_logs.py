"""crawler.logs: one JSON object per line, source and crawl id on each, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from narcwatch.crawler import logs
from narcwatch.crawler.logs import REDACTED, Redactor


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    buf = io.StringIO()
    logs.configure(stream=buf, level="DEBUG", secrets=["hunter2-very-secret"])
    yield buf
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved:
        root.addHandler(h)
    root.setLevel(level)
    logging.captureWarnings(False)


def _lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_every_line_is_json_with_fixed_keys(stream: io.StringIO) -> None:
    log = logging.getLogger("narcwatch.test")
    log.info("outside a crawl")
    with logs.log_context("velvet-market", "velvet-market-1"):
        log.warning("page %s failed", "/p/2", extra={"status": 503})
        logging.getLogger("scrapy.core.engine").info("Spider opened")
    lines = _lines(stream)
    assert [set(("ts", "level", "logger", "msg", "source", "crawl_id")) <= set(line) for line in lines] == [True] * 3
    assert lines[0]["source"] is None and lines[0]["crawl_id"] is None
    assert lines[1] == {**lines[1], "level": "warning", "msg": "page /p/2 failed", "source": "velvet-market",
                        "crawl_id": "velvet-market-1", "status": 503}
    assert lines[2]["logger"] == "scrapy.core.engine" and lines[2]["source"] == "velvet-market"


def test_context_is_per_thread(stream: io.StringIO) -> None:
    log = logging.getLogger("narcwatch.test")

    def crawl(source: str) -> None:
        with logs.log_context(source, f"{source}-c"):
            for _ in range(50):
                log.info("tick")

    threads = [threading.Thread(target=crawl, args=(s,)) for s in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = _lines(stream)
    assert len(lines) == 150
    assert all(line["crawl_id"] == f"{line['source']}-c" for line in lines)


def test_exceptions_and_secrets_in_tracebacks_are_redacted(stream: io.StringIO) -> None:
    try:
        raise RuntimeError("login failed with password hunter2-very-secret")
    except RuntimeError:
        logging.getLogger("x").exception("boom")
    text = stream.getvalue()
    assert "hunter2-very-secret" not in text
    line = _lines(stream)[0]
    assert "RuntimeError" in line["exc"] and REDACTED in line["exc"]


@pytest.mark.parametrize(("raw", "leaked"), [
    pytest.param("token hunter2-very-secret used", "hunter2-very-secret", id="known-secret"),
    pytest.param("{'Authorization': 'Bearer abc.def.ghi'}", "abc.def.ghi", id="auth-header-repr"),
    pytest.param("Cookie: sid=77aa88bb; path=/", "77aa88bb", id="cookie-header"),
    pytest.param('{"password": "pa55w0rd!"}', "pa55w0rd!", id="json-password"),
    pytest.param("POST /login?user=bob&password=s3cr3t&next=/", "s3cr3t", id="query-password"),
    pytest.param("proxy socks5h://user:pr0xypass@127.0.0.1:9050", "pr0xypass", id="url-userinfo"),
    pytest.param("Set-Cookie: sessionid=abcdef123456", "abcdef123456", id="set-cookie"),
])
def test_redactor_table(raw: str, leaked: str) -> None:
    out = Redactor(["hunter2-very-secret"])(raw)
    assert leaked not in out and REDACTED in out


@pytest.mark.parametrize("raw", ["listing 5g at 40 EUR", "", "tokenizer ready", "x" * 10_000])
def test_redactor_leaves_plain_text(raw: str) -> None:
    assert Redactor(["hunter2-very-secret"])(raw) == raw


def test_redactor_is_linear_on_hostile_input() -> None:
    # Many near-matches: bounded repetitions keep this a single pass (a timing-free check:
    # it must simply finish; a catastrophic pattern would hang the test under pytest-timeout).
    hostile = ("password=" + "a" * 5000 + " ") * 200 + "authorization:" * 5000
    out = Redactor()(hostile)
    assert "a" * 5000 not in out


def test_redaction_never_breaks_the_json_line(stream: io.StringIO) -> None:
    # Found by the daemon test: a value regex that ate the backslash of an escaped quote.
    logging.getLogger("x").info('item %r', {"contact": 'Session: "05ab" password="p\\"w"', "k": "hunter2-very-secret"})
    (line,) = _lines(stream)
    assert "hunter2-very-secret" not in line["msg"] and "Session: " in line["msg"]


def test_terminal_controls_json_leaves_raw_are_escaped(stream: io.StringIO) -> None:
    # json.dumps escapes C0 controls; a C1 CSI, DEL, line separators and bidi overrides it
    # writes raw, and `tail -f` in a terminal would act on them
    title = "iso\x9b2J\x7f\u2028\u202eevil\x1b[2J"
    logging.getLogger("x").info("listing %s", title)
    raw = stream.getvalue()
    for ch in ("\x9b", "\x7f", "\u2028", "\u202e", "\x1b"):
        assert ch not in raw
    assert "\\u009b" in raw and "\\u202e" in raw
    (line,) = _lines(stream)
    assert line["msg"] == f"listing {title}"  # the same JSON value
