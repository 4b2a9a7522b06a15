"""Tor control: ask a Tor instance for new circuits (NEWNYM) through its control port.

Kept apart from the middleware so it can be tested against a real local ``tor`` with
``DisableNetwork 1`` and replaced by a no-op when no control port is configured.

The routing middleware calls :meth:`TorController.new_circuit` from the crawl's event
loop, so the call is bounded: stem has no connect or reply timeout of its own, and a
hung control port must cost a crawl at most ``timeout`` seconds, never the crawl.
"""

from __future__ import annotations

import logging
import socket
import threading
import warnings
from dataclasses import dataclass
from typing import Any

__all__ = ["TorController", "control_password", "parse_control"]

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


def control_password(secret: str | None, secrets_file: str | None) -> str | None:
    """The control-port password named by ``tor.control_password`` in the secrets store.

    ``None`` when no secret is named; a named secret that is missing is logged and gives
    ``None`` (NEWNYM then fails and is counted): a crawl is not refused for want of it."""
    if not secret:
        return None
    from pathlib import Path

    from narcwatch.crawler.secrets import SecretNotFound, Secrets

    try:
        return Secrets(Path(secrets_file) if secrets_file else None).get(secret).get_secret_value()
    except (SecretNotFound, OSError) as exc:
        log.warning("Tor control password: %s", exc)
        return None


def _control_port(host: str, port: int, timeout: float) -> Any:
    """stem's ControlPort, connected with a timeout by ``socket.create_connection`` (which
    closes the socket when the connect fails; stem's own connect leaks it)."""
    from stem.socket import ControlPort

    class _Port(ControlPort):  # type: ignore[misc]
        def _make_socket(self) -> socket.socket:
            try:
                sock = socket.create_connection((host, port), timeout=timeout)
            except OSError as exc:
                raise stem.SocketError(exc) from None
            sock.settimeout(None)  # replies are awaited by stem's reader thread; new_circuit() bounds the wait
            return sock

    import stem

    return _Port(host, port)


@dataclass
class TorController:
    """Sends ``SIGNAL NEWNYM``; failures are logged and reported, never raised into a crawl."""

    host: str
    port: int
    password: str | None = None
    timeout: float = 10.0

    def new_circuit(self) -> bool:
        """True once Tor acknowledged ``SIGNAL NEWNYM``; False on any failure or after ``timeout``."""
        outcome: list[bool] = []
        worker = threading.Thread(target=self._signal, args=(outcome,), name="narcwatch-newnym", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            log.warning("NEWNYM via %s:%s: no answer within %.0f s", self.host, self.port, self.timeout)
            return False
        return bool(outcome and outcome[0])

    def _signal(self, outcome: list[bool]) -> None:
        try:
            with warnings.catch_warnings():
                # stem 1.8 calls Thread.setDaemon(), deprecated since Python 3.10: not ours to fix
                warnings.filterwarnings("ignore", "setDaemon", DeprecationWarning)
                from stem import Signal
                from stem.control import Controller

                with Controller(_control_port(self.host, self.port, self.timeout)) as ctl:
                    ctl.authenticate(password=self.password)
                    ctl.signal(Signal.NEWNYM)
            outcome.append(True)
        except Exception as exc:  # stem raises many unrelated types (SocketError, AuthenticationFailure, ...)
            log.warning("NEWNYM via %s:%s failed: %s", self.host, self.port, exc)
            outcome.append(False)
