"""The notifier interface and the errors that steer retries.

A notifier sends one alert and returns only when the receiver has acknowledged it
(HTTP 2xx, SMTP 250). Anything else raises ``DeliveryError``: ``retryable`` ones are
rescheduled with backoff (connection refused, timeout, 5xx, 429, 408), permanent ones
(a 4xx that will not change, a rejected recipient) are parked as ``dead`` and shown by
``narcwatch alerts --pending`` for an operator to fix and requeue.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from narcwatch.index.models import Alert

__all__ = ["DeliveryError", "Notifier", "NotifierConfigError", "http_error"]


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class NotifierConfigError(ValueError):
    """A notifier entry in the config is missing a field or has a bad value."""


@runtime_checkable
class Notifier(Protocol):
    id: str

    def send(self, alert: Alert, idempotency_key: str) -> None:
        """Deliver ``alert``; return only after the receiver acknowledged it."""

    def close(self) -> None: ...


def http_error(status: int, body: str) -> DeliveryError:
    retry = status >= 500 or status in (408, 409, 425, 429)
    return DeliveryError(f"HTTP {status}: {body[:200]}", retryable=retry)


def option(cfg: dict[str, Any], key: str, kind: type, default: Any = ..., *, nid: str) -> Any:
    """A typed notifier option with an error that names the notifier and the key."""
    if key not in cfg or cfg[key] is None:
        if default is ...:
            raise NotifierConfigError(f"notifier {nid!r}: missing option {key!r}")
        return default
    value = cfg[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is list and isinstance(value, str):
        value = [value]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise NotifierConfigError(f"notifier {nid!r}: option {key!r} must be {kind.__name__}, got {value!r}")
    return value
