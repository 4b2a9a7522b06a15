"""Webhook and chat notifiers against a real local HTTP receiver."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from narcwatch.index.alerts.dispatcher import Dispatcher
from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.notifiers import DeliveryError
from narcwatch.index.alerts.notifiers.slack import SlackNotifier
from narcwatch.index.alerts.notifiers.webhook import WebhookNotifier, sign, verify_signature
from narcwatch.index.alerts.outbox import AlertDB, Backoff
from narcwatch.index.alerts.receiver import WebhookReceiver
from narcwatch.index.alerts.rules import DEFAULT_RULES, load_rules

from .conftest import World

pytestmark = pytest.mark.server
SECRET = b"test-secret-not-real"


@pytest.fixture
def receiver():
    r = WebhookReceiver(SECRET).start()
    yield r
    r.stop()


def _engine(tmp_path: Path, world: World, notifiers: list[str]) -> AlertEngine:
    return AlertEngine(load_rules(DEFAULT_RULES), AlertDB(tmp_path / "outbox.sqlite"), lookup=world.docs,
                       notifiers=notifiers, clock=lambda: world.clock)


def test_signed_delivery_with_idempotency_key(tmp_path: Path, world: World, receiver: WebhookReceiver) -> None:
    engine = _engine(tmp_path, world, ["hook"])
    [alert] = engine.on_events([world.new_listing(1)])
    disp = Dispatcher(engine.db, {"hook": WebhookNotifier("hook", receiver.url, secret=SECRET)})
    assert disp.run_once() == 1
    [got] = receiver.received
    assert got.body["alert"]["id"] == alert.id
    assert got.key == engine.db.deliveries()[0].idem_key == got.body["idempotency_key"]
    assert got.headers["x-narcwatch-signature"].startswith("v1=")
    assert got.body["alert"]["payload"]["items"][0]["capture"]["id"] == "cap-1"
    assert [d.state for d in engine.db.deliveries()] == ["delivered"]
    assert disp.run_once() == 0  # delivered rows are never sent again


def test_wrong_secret_is_rejected_and_kept_pending(tmp_path: Path, world: World, receiver: WebhookReceiver) -> None:
    engine = _engine(tmp_path, world, ["hook"])
    engine.on_events([world.new_listing(1)])
    disp = Dispatcher(engine.db, {"hook": WebhookNotifier("hook", receiver.url, secret=b"wrong")},
                      backoff=Backoff(base=60))
    assert disp.run_once() == 0
    [d] = engine.db.deliveries()
    # 401 is a client error that will not fix itself: parked as dead, visible, requeueable
    assert d.state == "dead" and "HTTP 401" in (d.last_error or "") and receiver.rejected == 1


def test_503_is_retried_with_backoff_then_delivered(tmp_path: Path, world: World, receiver: WebhookReceiver) -> None:
    engine = _engine(tmp_path, world, ["hook"])
    engine.on_events([world.new_listing(1), world.new_listing(2, vendor="b"), world.new_listing(3, vendor="c")])
    disp = Dispatcher(engine.db, {"hook": WebhookNotifier("hook", receiver.url, secret=SECRET)},
                      backoff=Backoff(base=30, cap=60))
    receiver.fail_with = 503
    assert disp.run_once() == 0
    rows = engine.db.deliveries()
    # one attempt spent on a failing endpoint, the other rows released untouched with it
    assert [r.attempts for r in rows] == [1, 0, 0]
    assert all(15 <= r.next_at - time.time() <= 30.5 for r in rows)
    receiver.fail_with = None
    assert disp.run_once() == 0  # not due yet
    assert disp.run_once(now=time.time() + 31) == 3
    assert len(receiver.received) == 3


def test_signature_verification_rejects_tampering_and_replay() -> None:
    body = b'{"a":1}'
    ts = str(int(time.time()))
    sig = sign(SECRET, ts, body)
    assert verify_signature(SECRET, ts, body, sig)
    assert not verify_signature(SECRET, ts, b'{"a":2}', sig)
    assert not verify_signature(b"other", ts, body, sig)
    assert not verify_signature(SECRET, ts, body, sig, now=time.time() + 3600)  # replayed an hour later
    assert not verify_signature(SECRET, "garbage", body, sig)


def test_connection_refused_is_retryable(tmp_path: Path) -> None:
    r = WebhookReceiver().start()
    url = r.url
    r.stop()
    with pytest.raises(DeliveryError) as exc:
        from narcwatch.index.models import Alert
        from datetime import datetime, timezone
        WebhookNotifier("h", url, timeout=2).send(
            Alert(id="al-1", rule_id="r", rule_name="R", created_at=datetime.now(timezone.utc), event_ids=[],
                  summary="s"), "k")
    assert exc.value.retryable


def test_slack_compatible_message(tmp_path: Path, world: World) -> None:
    r = WebhookReceiver().start()
    try:
        engine = _engine(tmp_path, world, ["chat"])
        doc_event = world.new_listing(1)
        world.docs.docs[doc_event.listing_key or ""]["title"] = "<!channel> metonitazene <http://x|click>"
        engine.on_events([doc_event])
        Dispatcher(engine.db, {"chat": SlackNotifier("chat", r.url)}).run_once()
        [got] = r.received
        assert set(got.body) >= {"text", "blocks"}
        assert "metonitazene" in got.body["text"]
        # scraped text cannot ping the channel or inject links
        assert "<!channel>" not in got.body["text"] and "&lt;!channel&gt;" in got.body["text"]
        assert json.dumps(got.body["blocks"]).count("<http") == 0
        assert got.body["unfurl_links"] is False and got.body["unfurl_media"] is False
    finally:
        r.stop()


def test_chat_text_has_no_markdown_image_or_link(tmp_path: Path, world: World) -> None:
    """Mattermost renders ``text`` as Markdown: a scraped image would be fetched by every
    reader's client (the vendor learns who reads the alert, and when). Parsed here with
    a CommonMark parser (markdown-it, rich's own)."""
    from markdown_it import MarkdownIt

    r = WebhookReceiver().start()
    try:
        engine = _engine(tmp_path, world, ["chat"])
        doc_event = world.new_listing(1)
        title = "metonitazene ![](http://tracker.example/p.png) [shop](http://shop.example) <http://a.example>"
        world.docs.docs[doc_event.listing_key or ""]["title"] = title
        engine.on_events([doc_event])
        Dispatcher(engine.db, {"chat": SlackNotifier("chat", r.url)}).run_once()
        [got] = r.received
        tokens = MarkdownIt("commonmark").parse(got.body["text"])
        kinds = {c.type for t in tokens if t.type == "inline" for c in t.children or []}
        assert not kinds & {"image", "link_open", "html_inline"}, kinds
        shown = "".join(c.content for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "text")
        assert "![](http://tracker.example/p.png) [shop](http://shop.example)" in shown  # as typed
    finally:
        r.stop()


def test_crash_after_send_before_commit_is_deduped_by_the_receiver(tmp_path: Path, world: World,
                                                                    receiver: WebhookReceiver) -> None:
    engine = _engine(tmp_path, world, ["hook"])
    [alert] = engine.on_events([world.new_listing(1)])
    notifier = WebhookNotifier("hook", receiver.url, secret=SECRET)

    class Crash(Exception):
        pass

    def crash(*a: object, **k: object) -> None:
        raise Crash("process killed between the 2xx and the commit")

    dying = Dispatcher(engine.db, {"hook": notifier})
    engine.db.mark_delivered_many = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        dying.run_once()
    del engine.db.mark_delivered_many  # the restarted process has a working database again
    assert [d.state for d in engine.db.deliveries()] == ["pending"]  # never marked without the commit
    # after the lease runs out another dispatcher sends it again, with the same key
    assert Dispatcher(engine.db, {"hook": notifier}).run_once(now=time.time() + engine.db.lease_seconds + 1) == 1
    assert len(receiver.received) == 2 and list(receiver.by_key) == [engine.db.deliveries()[0].idem_key]
    assert {r.body["alert"]["id"] for r in receiver.received} == {alert.id}


def test_a_request_cut_off_mid_body_is_not_counted_as_a_forgery() -> None:
    """A sender killed mid-request (the deliverer under kill -9) leaves a short body: the
    receiver drops it as truncated, not as a request whose signature failed."""
    import socket

    receiver = WebhookReceiver(b"secret").start()
    try:
        with socket.create_connection((receiver.host, receiver.port), timeout=5) as sock:
            sock.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b'{"alert": 1')
            sock.shutdown(socket.SHUT_WR)  # gone before the other 89 bytes
            assert sock.recv(1024) == b""  # no answer: there was no request to answer
        with socket.create_connection((receiver.host, receiver.port), timeout=5) as sock:  # a whole unsigned one
            sock.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            assert sock.recv(1024).startswith(b"HTTP/1.0 401")
        assert (receiver.truncated, receiver.rejected) == (1, 1)
    finally:
        receiver.stop()
