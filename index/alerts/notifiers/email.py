"""Email over SMTP: STARTTLS (default), implicit TLS, or plain for a local relay.

The Message-ID is derived from the idempotency key, so a mail system or a mail rule can
drop a repeat. Success is the server's 250 for the message with every recipient
accepted; a refused recipient is a permanent error, a dropped connection or a 4xx is
retried.

Config: ``{id, type: email, host, port?, tls?: starttls|ssl|none, username?,
password?: <secret name>, from, to: [..], ca_file?, verify?: true, timeout?: 30}``.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from narcwatch.index.alerts.notifiers.base import DeliveryError, NotifierConfigError, option
from narcwatch.index.alerts.payload import render_subject, render_text
from narcwatch.index.models import Alert

__all__ = ["EmailNotifier", "build_message"]

_TLS = ("starttls", "ssl", "none")


def build_message(alert: Alert, idempotency_key: str, sender: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    # Header injection: scraped titles end up in the subject; strip line breaks.
    msg["Subject"] = " ".join(render_subject(alert.payload).split())
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{idempotency_key}@narcwatch.alerts>"
    msg["X-Narcwatch-Alert"] = alert.id
    msg["X-Narcwatch-Severity"] = alert.severity.value
    msg.set_content(render_text(alert.payload))
    return msg


class EmailNotifier:
    kind = "email"

    def __init__(self, nid: str, host: str, port: int | None = None, *, tls: str = "starttls",
                 sender: str, to: list[str], username: str | None = None, password: str | None = None,
                 ca_file: str | None = None, verify: bool = True, timeout: float = 30.0):
        if tls not in _TLS:
            raise NotifierConfigError(f"notifier {nid!r}: tls must be one of {', '.join(_TLS)}, got {tls!r}")
        if not to:
            raise NotifierConfigError(f"notifier {nid!r}: 'to' needs at least one address")
        self.id, self.host, self.tls = nid, host, tls
        self.port = port or {"ssl": 465, "starttls": 587, "none": 25}[tls]
        self.sender, self.to = sender, to
        self.username, self.password, self.timeout = username, password, timeout
        self._ctx = ssl.create_default_context(cafile=ca_file)
        if not verify:
            self._ctx.check_hostname = False
            self._ctx.verify_mode = ssl.CERT_NONE

    @classmethod
    def from_config(cls, cfg: dict[str, Any], secrets: Any) -> "EmailNotifier":
        nid = cfg["id"]
        pw_name = option(cfg, "password", str, None, nid=nid)
        password = secrets.get(pw_name).get_secret_value() if pw_name else None
        return cls(nid, option(cfg, "host", str, nid=nid), option(cfg, "port", int, None, nid=nid),
                   tls=option(cfg, "tls", str, "starttls", nid=nid), sender=option(cfg, "from", str, nid=nid),
                   to=option(cfg, "to", list, nid=nid), username=option(cfg, "username", str, None, nid=nid),
                   password=password, ca_file=option(cfg, "ca_file", str, None, nid=nid),
                   verify=option(cfg, "verify", bool, True, nid=nid),
                   timeout=option(cfg, "timeout", float, 30.0, nid=nid))

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._ctx)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.tls == "starttls":
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                smtp.close()
                # refusing to send in clear text is right; the server may be fixed later
                raise DeliveryError(f"{self.host}:{self.port} does not offer STARTTLS")
            smtp.starttls(context=self._ctx)
            smtp.ehlo()
        return smtp

    def send(self, alert: Alert, idempotency_key: str) -> None:
        msg = build_message(alert, idempotency_key, self.sender, self.to)
        try:
            smtp = self._connect()
            try:
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(msg)
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"all recipients refused: {exc.recipients}", retryable=False) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP authentication failed: {exc.smtp_code}", retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                retryable=not 500 <= exc.smtp_code < 600) from None
        except (smtplib.SMTPException, ssl.SSLError, socket.timeout, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if refused:
            # some recipients got it: retrying would duplicate for them
            raise DeliveryError(f"recipients refused: {sorted(refused)}", retryable=False)

    def close(self) -> None:
        pass
