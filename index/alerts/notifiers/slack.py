"""Slack / Mattermost incoming webhooks: ``{"text": ..., "blocks": [...]}``.

Both products accept the same JSON on an incoming-webhook URL (Mattermost ignores
``blocks`` and shows ``text``). Neither dedupes, so the idempotency key is also sent as
a header and in the footer for a proxy or a human to spot repeats.

Config: ``{id, type: slack, url | url_secret, timeout?: 10, channel?: "#alerts", username?: ...}``.
An incoming-webhook URL embeds its token: keep it in the secrets store and name it with
``url_secret``; ``url`` is for a local relay without a token.
"""

from __future__ import annotations

import json
from typing import Any

from narcwatch.index.alerts.notifiers.base import option
from narcwatch.index.alerts.notifiers.webhook import WebhookNotifier
from narcwatch.index.alerts.payload import render_subject, render_text
from narcwatch.index.models import Alert

__all__ = ["SlackNotifier", "slack_message"]

_MAX_SECTION = 2900  # Slack's section text limit is 3000 characters


def _escape(text: str) -> str:
    """Scraped text must not become mentions or links: escape Slack's control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(alert: Alert, idempotency_key: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    subject = _escape(render_subject(alert.payload))
    body = _escape(render_text(alert.payload))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body[:_MAX_SECTION]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"alert `{alert.id}` · key `{idempotency_key}`"}]},
    ]
    return {**(extra or {}), "text": subject + "\n" + body[:_MAX_SECTION], "blocks": blocks}


class SlackNotifier(WebhookNotifier):
    kind = "slack"

    def __init__(self, nid: str, url: str, *, timeout: float = 10.0, extra: dict[str, Any] | None = None):
        super().__init__(nid, url, timeout=timeout)
        self._extra = extra or {}

    @classmethod
    def from_config(cls, cfg: dict[str, Any], secrets: Any) -> "SlackNotifier":
        nid = cfg["id"]
        extra = {k: cfg[k] for k in ("channel", "username", "icon_emoji") if cfg.get(k)}
        secret_name = option(cfg, "url_secret", str, None, nid=nid)
        url = secrets.get(secret_name).get_secret_value() if secret_name else option(cfg, "url", str, nid=nid)
        return cls(nid, url, timeout=option(cfg, "timeout", float, 10.0, nid=nid), extra=extra)

    def body(self, alert: Alert, idempotency_key: str) -> bytes:
        return json.dumps(slack_message(alert, idempotency_key, self._extra)).encode()
