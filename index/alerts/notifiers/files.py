"""Local notifiers: a JSONL file (for SIEM shippers and audits) and the console.

The JSONL line holds the idempotency key: a crash between the append and the outbox
commit can repeat a line, and a consumer drops the repeat on the key.

Config: ``{id, type: jsonl, path}`` (relative to the data dir) and ``{id, type: console}``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from narcwatch.index.alerts.notifiers.base import DeliveryError, option
from narcwatch.index.alerts.payload import render_text
from narcwatch.index.models import Alert

__all__ = ["ConsoleNotifier", "JsonlNotifier"]


class JsonlNotifier:
    kind = "jsonl"

    def __init__(self, nid: str, path: str | Path):
        self.id, self.path = nid, Path(path)
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: dict[str, Any], secrets: Any, base: Path | None = None) -> "JsonlNotifier":
        p = Path(option(cfg, "path", str, "alerts.jsonl", nid=cfg["id"])).expanduser()
        return cls(cfg["id"], p if p.is_absolute() or base is None else base / p)

    def send(self, alert: Alert, idempotency_key: str) -> None:
        line = json.dumps({"idempotency_key": idempotency_key, "alert": json.loads(alert.model_dump_json())},
                          sort_keys=True) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise DeliveryError(f"cannot append to {self.path}: {exc}") from None

    def close(self) -> None:
        pass


class ConsoleNotifier:
    kind = "console"

    def __init__(self, nid: str, stream: TextIO | None = None):
        self.id = nid
        self._stream = stream

    @classmethod
    def from_config(cls, cfg: dict[str, Any], secrets: Any) -> "ConsoleNotifier":
        return cls(cfg["id"])

    def send(self, alert: Alert, idempotency_key: str) -> None:
        stream = self._stream or sys.stdout
        try:
            stream.write(render_text(alert.payload) + "\n")
            stream.flush()
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"console: {exc}") from None

    def close(self) -> None:
        pass
