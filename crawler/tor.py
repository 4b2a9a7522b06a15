"""Tor control: ask a Tor instance for new circuits (NEWNYM) through its control port.

Kept apart from the middleware so it can be tested against a real local ``tor`` with
``DisableNetwork 1`` and replaced by a no-op when no control port is configured.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

__all__ = ["TorController", "parse_control"]

log = logging.getLogger(__name__)


def parse_control(spec: str | None) -> tuple[str, int] | None:
    """``"127.0.0.1:9051"`` -> ``("127.0.0.1", 9051)``; ``None``/garbage -> ``None``."""
    if not spec or ":" not in spec:
        return None
    host, _, port = spec.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        return None
    return (host or "127.0.0.1", number) if 0 < number < 65536 else None


@dataclass
class TorController:
    """Sends ``SIGNAL NEWNYM``; failures are logged and reported, never raised into a crawl."""

    host: str
    port: int
    password: str | None = None
    timeout: float = 10.0

    def new_circuit(self) -> bool:
        from stem import Signal
        from stem.control import Controller

        try:
            with Controller.from_port(address=self.host, port=self.port) as ctl:
                ctl.authenticate(password=self.password)
                ctl.signal(Signal.NEWNYM)
            return True
        except Exception as exc:  # stem raises many unrelated types (SocketError, AuthenticationFailure, ...)
            log.warning("NEWNYM via %s:%s failed: %s", self.host, self.port, exc)
            return False
