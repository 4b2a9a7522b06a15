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
import re
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


_MD_LINK = re.compile(r"([\[\]])")  # with [ and ] escaped there is no link or image syntax left


def _markdown_literal(text: str) -> str:
    """``text`` for Mattermost, which renders it as Markdown: no link or image either. A
    title ``![](http://x.example/p.png)`` would make every reader's client fetch that image
    and tell the vendor who reads the alert, and when. (Slack shows ``text`` only where
    ``blocks`` cannot be shown, backslashes included.)"""
    return _MD_LINK.sub(r"\\\1", _escape(text))


def slack_message(alert: Alert, idempotency_key: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    subject, body = render_subject(alert.payload), render_text(alert.payload)[:_MAX_SECTION]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _escape(subject)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(body)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"alert `{alert.id}` · key `{idempotency_key}`"}]},
    ]
    # no previews: Slack would fetch the scraped links (a shop's, a vendor's) to unfurl them
    return {**(extra or {}), "text": _markdown_literal(subject + "\n" + body), "blocks": blocks,
            "unfurl_links": False, "unfurl_media": False}


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
