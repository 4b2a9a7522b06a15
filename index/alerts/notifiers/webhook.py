"""Webhook notifier: signed JSON over HTTP(S), and the helper receivers verify with.

Each POST carries ``Idempotency-Key`` (stable per alert and notifier: receivers drop a
repeat), ``X-Narcwatch-Timestamp`` (unix seconds) and ``X-Narcwatch-Signature:
v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``. The secret comes from
``crawler.secrets`` by name (``secret: analysts_webhook``), never from the config file.
A receiver rejects a signature older than its tolerance, so a captured request cannot
be replayed later.

Config: ``{id, type: webhook, url, secret?, timeout?: 10, headers?: {}}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from narcwatch.index.alerts.notifiers.base import DeliveryError, http_error, option
from narcwatch.index.models import Alert

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookNotifier", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Narcwatch-Signature"
TIMESTAMP_HEADER = "X-Narcwatch-Timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, signature: str, *,
                     tolerance: float = 300.0, now: float | None = None) -> bool:
    """True when ``signature`` is ours for this body and the timestamp is fresh."""
    try:
        ts = float(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def alert_body(alert: Alert, idempotency_key: str) -> bytes:
    doc = {"idempotency_key": idempotency_key, "alert": json.loads(alert.model_dump_json())}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


class WebhookNotifier:
    kind = "webhook"

    def __init__(self, nid: str, url: str, *, secret: bytes | None = None, timeout: float = 10.0,
                 headers: dict[str, str] | None = None, verify: bool | str = True):
        self.id, self.url, self.secret = nid, url, secret
        self._headers = dict(headers or {})
        self._client = httpx.Client(timeout=timeout, verify=verify, follow_redirects=False, trust_env=False)

    @classmethod
    def from_config(cls, cfg: dict[str, Any], secrets: Any) -> "WebhookNotifier":
        nid = cfg["id"]
        name = option(cfg, "secret", str, None, nid=nid)
        secret = secrets.get(name).get_secret_value().encode() if name else None
        return cls(nid, option(cfg, "url", str, nid=nid), secret=secret,
                   timeout=option(cfg, "timeout", float, 10.0, nid=nid),
                   headers=option(cfg, "headers", dict, {}, nid=nid), verify=cfg.get("verify", True))

    def body(self, alert: Alert, idempotency_key: str) -> bytes:
        return alert_body(alert, idempotency_key)

    def send(self, alert: Alert, idempotency_key: str) -> None:
        body = self.body(alert, idempotency_key)
        ts = str(int(time.time()))
        headers = {**self._headers, "Content-Type": "application/json", "Idempotency-Key": idempotency_key,
                   TIMESTAMP_HEADER: ts, "User-Agent": "narcwatch-alerts/1"}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, ts, body)
        try:
            resp = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= resp.status_code < 300:
            raise http_error(resp.status_code, resp.text)

    def close(self) -> None:
        self._client.close()
