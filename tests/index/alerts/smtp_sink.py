"""A real local SMTP server (aiosmtpd) that records messages, plain, STARTTLS or implicit TLS.

The certificate is self-signed for 127.0.0.1, generated per test session; the client
trusts it through ``ca_file`` exactly as a deployment with a private CA would.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.endswith("@refused.test"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.sink.cond:
            self.sink.messages.append(msg)
            self.sink.tls_seen.append(server.transport.get_extra_info("ssl_object") is not None)
            self.sink.cond.notify_all()
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, mode: str = "plain", cert: tuple[Path, Path] | None = None):
        self.mode, self.port = mode, free_port()
        self.messages: list[Message] = []
        self.tls_seen: list[bool] = []
        self.cond = threading.Condition()
        self._ctx: ssl.SSLContext | None = None
        if mode != "plain":
            assert cert is not None
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        self._controller: Controller | None = None

    def start(self) -> "SmtpSink":
        kw: dict[str, Any] = {}
        if self.mode == "starttls":
            kw = {"tls_context": self._ctx, "require_starttls": True}
        elif self.mode == "ssl":
            kw = {"ssl_context": self._ctx}
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kw)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def ids(self) -> list[str]:
        with self.cond:
            return [str(m["Message-ID"]) for m in self.messages]
