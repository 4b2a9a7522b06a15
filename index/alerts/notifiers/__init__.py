"""Notifiers by config ``type``; ``build_notifiers`` turns config entries into instances."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from narcwatch.index.alerts.notifiers.base import DeliveryError, Notifier, NotifierConfigError
from narcwatch.index.alerts.notifiers.email import EmailNotifier
from narcwatch.index.alerts.notifiers.files import ConsoleNotifier, JsonlNotifier
from narcwatch.index.alerts.notifiers.slack import SlackNotifier
from narcwatch.index.alerts.notifiers.webhook import WebhookNotifier

__all__ = ["DeliveryError", "Notifier", "NotifierConfigError", "build_notifiers", "NOTIFIER_TYPES"]

NOTIFIER_TYPES: dict[str, Any] = {
    "webhook": WebhookNotifier,
    "slack": SlackNotifier,
    "email": EmailNotifier,
    "jsonl": JsonlNotifier,
    "console": ConsoleNotifier,
}


def build_notifiers(configs: Sequence[Any], secrets: Any, data_root: Path | None = None) -> dict[str, Notifier]:
    """Instances for config entries (``NotifierConfig`` or dicts); errors name the notifier."""
    out: dict[str, Notifier] = {}
    for c in configs:
        cfg = c.model_dump() if hasattr(c, "model_dump") else dict(c)
        nid, kind = cfg.get("id"), cfg.get("type")
        if kind not in NOTIFIER_TYPES:
            raise NotifierConfigError(f"notifier {nid!r}: unknown type {kind!r}; valid: {', '.join(NOTIFIER_TYPES)}")
        if nid in out:
            raise NotifierConfigError(f"duplicate notifier id {nid!r}")
        cls = NOTIFIER_TYPES[kind]
        out[nid] = cls.from_config(cfg, secrets, data_root) if kind == "jsonl" else cls.from_config(cfg, secrets)
    return out
