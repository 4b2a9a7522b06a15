"""A reference webhook receiver: verifies the signature, drops repeats, records alerts.

Integrators can copy it; the tests and the latency benchmark run it as the real local
endpoint. It binds 127.0.0.1 on a free port, can be stopped (connections refused, as
when the endpoint is down) and started again on the same port, and can be told to
answer 503 for a while.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from narcwatch.index.alerts.notifiers.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

__all__ = ["Received", "WebhookReceiver"]


@dataclass
class Received:
    key: str
    body: dict[str, Any]
    at: float
    headers: dict[str, str] = field(default_factory=dict)


class WebhookReceiver:
    def __init__(self, secret: bytes | None = None, host: str = "127.0.0.1", port: int = 0):
        self.secret, self.host, self.port = secret, host, port
        self.received: list[Received] = []  # every accepted request, repeats included
        self.by_key: dict[str, Received] = {}
        self.rejected = 0  # complete requests whose signature did not verify
        self.truncated = 0  # requests cut off before their Content-Length (not a forgery: a dead sender)
        self.fail_with: int | None = None
        self.cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    def start(self) -> "WebhookReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 10_000_000)
                raw = self.rfile.read(length)
                if len(raw) < length:  # the sender went away mid-body (killed, timed out): no request
                    with receiver.cond:
                        receiver.truncated += 1
                    self.close_connection = True
                    return
                code = receiver._handle(raw, {k: v for k, v in self.headers.items()})
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def _handle(self, raw: bytes, headers: dict[str, str]) -> int:
        if self.fail_with is not None:
            return self.fail_with
        lower = {k.lower(): v for k, v in headers.items()}
        if self.secret is not None and not verify_signature(
                self.secret, lower.get(TIMESTAMP_HEADER.lower(), ""), raw, lower.get(SIGNATURE_HEADER.lower(), "")):
            with self.cond:
                self.rejected += 1
            return 401
        key = lower.get("idempotency-key", "")
        try:
            body = json.loads(raw)
        except ValueError:
            return 400
        with self.cond:
            rec = Received(key, body, time.time(), lower)
            self.received.append(rec)
            self.by_key.setdefault(key, rec)
            self.cond.notify_all()
        return 200

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        """Block until ``n`` distinct keys arrived (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.by_key) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True
