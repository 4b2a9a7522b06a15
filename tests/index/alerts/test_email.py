"""Email notifier against a real aiosmtpd server: STARTTLS, implicit TLS, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from narcwatch.index.alerts.dispatcher import Dispatcher
from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.notifiers import DeliveryError
from narcwatch.index.alerts.notifiers.email import EmailNotifier
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.rules import DEFAULT_RULES, load_rules

from .conftest import World
from .smtp_sink import SmtpSink, self_signed

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def _alerts(tmp_path: Path, world: World) -> AlertEngine:
    engine = AlertEngine(load_rules(DEFAULT_RULES), AlertDB(tmp_path / "o.sqlite"), lookup=world.docs,
                         notifiers=["mail"], clock=lambda: world.clock)
    engine.on_events([world.new_listing(1), world.new_listing(2, vendor="fict_b\r\nBcc: x@evil.test")])
    return engine


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_delivery(tmp_path: Path, world: World, cert: tuple[Path, Path], mode: str) -> None:
    sink = SmtpSink(mode, cert).start()
    try:
        engine = _alerts(tmp_path, world)
        mail = EmailNotifier("mail", "127.0.0.1", sink.port, tls=mode, sender="narcwatch@unit.test",
                             to=["analyst@unit.test"], ca_file=str(cert[0]), timeout=5)
        assert Dispatcher(engine.db, {"mail": mail}).run_once() == 2
        assert sink.tls_seen == [True, True]
        keys = {d.idem_key for d in engine.db.deliveries()}
        assert {i.strip("<>").split("@")[0] for i in sink.ids()} == keys
        msg = sink.messages[0]
        assert str(msg["Subject"]).strip().startswith("[narcwatch CRITICAL] New nitazene listing")
        body = msg.get_content()
        assert "metonitazene (nitazene)" in body and "capture: cap-1" in body and "45.00 USD/g" in body and "ships from: DE" in body
        assert all(m["Bcc"] is None for m in sink.messages)  # header injection from a scraped vendor name
    finally:
        sink.stop()


def test_untrusted_certificate_is_not_accepted(tmp_path: Path, world: World, cert: tuple[Path, Path]) -> None:
    sink = SmtpSink("starttls", cert).start()
    try:
        engine = _alerts(tmp_path, world)
        mail = EmailNotifier("mail", "127.0.0.1", sink.port, sender="n@unit.test", to=["a@unit.test"], timeout=5)
        assert Dispatcher(engine.db, {"mail": mail}).run_once() == 0
        assert sink.messages == []
        assert "CERTIFICATE_VERIFY_FAILED" in (engine.db.deliveries()[0].last_error or "")
    finally:
        sink.stop()


def test_starttls_required_by_client(tmp_path: Path, world: World) -> None:
    sink = SmtpSink("plain").start()  # a server without STARTTLS: we refuse to send in clear text
    try:
        engine = _alerts(tmp_path, world)
        mail = EmailNotifier("mail", "127.0.0.1", sink.port, tls="starttls", sender="n@unit.test",
                             to=["a@unit.test"], timeout=5)
        with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
            mail.send(engine.db.alerts()[0][1], "k")
        assert sink.messages == []
    finally:
        sink.stop()


def test_rejected_recipient_is_permanent(tmp_path: Path, world: World) -> None:
    sink = SmtpSink("plain").start()
    try:
        engine = _alerts(tmp_path, world)
        mail = EmailNotifier("mail", "127.0.0.1", sink.port, tls="none", sender="n@unit.test",
                             to=["nobody@refused.test"], timeout=5)
        with pytest.raises(DeliveryError) as exc:
            mail.send(engine.db.alerts()[0][1], "k")
        assert not exc.value.retryable
    finally:
        sink.stop()


def test_server_down_is_retryable(tmp_path: Path, world: World) -> None:
    sink = SmtpSink("plain")  # never started: connection refused
    engine = _alerts(tmp_path, world)
    mail = EmailNotifier("mail", "127.0.0.1", sink.port, tls="none", sender="n@unit.test", to=["a@unit.test"],
                         timeout=5)
    with pytest.raises(DeliveryError) as exc:
        mail.send(engine.db.alerts()[0][1], "k")
    assert exc.value.retryable
