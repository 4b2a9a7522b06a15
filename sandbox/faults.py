"""The faults real sites have, each off by default, each switchable and counted.

Faults fire on a deterministic schedule (every N-th request of a source), not at random,
so a test can switch one on and observe it on a known request. Counters per
(source, fault) are in ``FaultEngine.fired`` (``SandboxServer.fault_counts()``).

``FaultConfig.parse("rate_limit_every=10,queue,hostile_share=0.2")`` reads the CLI form;
a bare name switches a fault on with its default strength.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field, fields, replace

from narcwatch.sandbox.http import Request, Response, html

__all__ = ["FaultConfig", "FaultEngine"]


@dataclass(frozen=True)
class FaultConfig:
    rate_limit_every: int = 0  # every N-th request of a source: 429 with Retry-After
    retry_after: int = 1  # seconds, in the Retry-After header
    error_burst_every: int = 0  # every N requests a burst of ``error_burst_len`` 5xx starts
    error_burst_len: int = 3
    error_status: int = 503
    slow_every: int = 0  # every N-th response waits ``slow_seconds``
    slow_seconds: float = 2.0
    drop_every: int = 0  # every N-th request: connection closed without a response
    truncate_every: int = 0  # every N-th response: body cut in half, connection closed
    large_every: int = 0  # every N-th HTML page padded to ``large_bytes``
    large_bytes: int = 5_000_000
    redirect_loop_every: int = 0  # every N-th listing id redirects in a loop
    pagination_trap: bool = False  # index pages always offer a "next" page, forever
    session_expiry_after: int = 0  # a session dies after N requests: 302 to the login page
    captcha_changed: bool = False  # the login CAPTCHA switches to a new kind and field name
    queue: bool = False  # DDoS-guard queue page in front of onion sites
    queue_seconds: float = 1.0  # wall-clock wait the queue imposes (the refresh N s)
    hostile_share: float = 0.0  # share of listings whose fields carry script/markup payloads
    throttle_seconds: float = 0.0  # latency added to every response (Tor-like round trips)
    only_sources: frozenset[str] = field(default_factory=frozenset)  # empty: all sources

    _FLAGS = {"rate_limit": ("rate_limit_every", 5), "error_burst": ("error_burst_every", 10), "slow": ("slow_every", 5),
              "drop": ("drop_every", 7), "truncate": ("truncate_every", 6), "large": ("large_every", 10),
              "redirect_loop": ("redirect_loop_every", 10), "pagination_trap": ("pagination_trap", True),
              "session_expiry": ("session_expiry_after", 20), "captcha_changed": ("captcha_changed", True),
              "queue": ("queue", True), "hostile": ("hostile_share", 0.1), "throttle": ("throttle_seconds", 0.2)}

    @classmethod
    def parse(cls, spec: str | None) -> "FaultConfig":
        """``"queue,rate_limit_every=10,only_sources=velvet-market"``; ``"all"`` switches all on."""
        cfg = cls()
        if not spec:
            return cfg
        names = {f.name: f for f in fields(cls)}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            if part == "all":
                for key, (name, value) in cls._FLAGS.items():
                    if key not in ("slow", "throttle", "large", "drop"):
                        cfg = replace(cfg, **{name: value})
                continue
            key, _, raw = part.partition("=")
            key = key.strip().replace("-", "_")
            if not raw and key in cls._FLAGS:
                name, value = cls._FLAGS[key]
                cfg = replace(cfg, **{name: value})
                continue
            if key not in names or key.startswith("_"):
                valid = sorted({*cls._FLAGS, *(n for n in names if not n.startswith("_"))})
                raise ValueError(f"unknown fault {key!r}; valid: {', '.join(valid)}")
            typ = type(getattr(cfg, key))
            if key == "only_sources":
                value: object = frozenset(s for s in raw.split("+") if s)
            elif typ is bool:
                value = raw.lower() in ("1", "true", "yes", "on", "")
            else:
                try:
                    value = typ(raw)
                except ValueError:
                    raise ValueError(f"fault {key} needs a {typ.__name__}, got {raw!r}") from None
            cfg = replace(cfg, **{key: value})
        return cfg

    @property
    def any(self) -> bool:
        return self != FaultConfig(only_sources=self.only_sources)


class FaultEngine:
    """Applies the transport-level faults; sites read the page-level ones from ``config``."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.fired: Counter[tuple[str, str]] = Counter()
        self._count: Counter[str] = Counter()
        self._queue_pass: dict[str, float] = {}
        self._lock = threading.Lock()

    def applies(self, source: str) -> bool:
        return not self.config.only_sources or source in self.config.only_sources

    def fire(self, source: str, fault: str) -> None:
        with self._lock:
            self.fired[(source, fault)] += 1

    def before(self, source: str, req: Request, onion: bool = True) -> Response | None:
        """A response that replaces the page (429, 5xx, drop, queue), or None.

        The DDoS-guard queue only stands in front of onion sites (``onion``)."""
        c = self.config
        if not self.applies(source):
            return None
        with self._lock:
            self._count[source] += 1
            n = self._count[source]
        if c.drop_every and n % c.drop_every == 0:
            self.fire(source, "drop")
            return Response(drop=True)
        if c.rate_limit_every and n % c.rate_limit_every == 0:
            self.fire(source, "rate_limit")
            return html("<html><body><h1>429 Too Many Requests</h1></body></html>", 429,
                        [("Retry-After", str(c.retry_after))])
        if c.error_burst_every and (n - 1) % c.error_burst_every >= c.error_burst_every - c.error_burst_len:
            self.fire(source, "error_burst")
            return html(f"<html><body><h1>{c.error_status} Service Unavailable</h1><p>upstream error</p></body></html>",
                        c.error_status)
        if c.queue and onion:
            token = req.cookies.get("dcap")
            now = time.monotonic()
            with self._lock:
                ready = self._queue_pass.get(token or "")
            if ready is None or now < ready:
                self.fire(source, "queue")
                if ready is None:
                    token = f"q{n:x}{int(now * 1000) % 100000:x}"
                    with self._lock:
                        self._queue_pass[token] = now + c.queue_seconds
                wait = max(1, int(c.queue_seconds + 0.999))
                page = (f"<html><head><title>DDoS protection - queue</title>"
                        f'<meta http-equiv="refresh" content="{wait}"></head><body class="dg-queue">'
                        f'<div id="queue"><h1>You are in queue</h1><p>Your position: <b>{1 + n % 40}</b></p>'
                        f'<p class="wait">You are in queue, refresh in <span id="wait">{wait}</span> s</p>'
                        "</div></body></html>")
                return html(page, 503, [("Set-Cookie", f"dcap={token}; Path=/; HttpOnly"), ("Retry-After", str(wait))])
        return None

    def after(self, source: str, req: Request, resp: Response) -> Response:
        c = self.config
        if not self.applies(source):
            return resp
        n = self._count[source]
        if c.throttle_seconds:
            resp.delay += c.throttle_seconds
        if c.slow_every and n % c.slow_every == 0:
            self.fire(source, "slow")
            resp.delay += c.slow_seconds
        if c.large_every and n % c.large_every == 0 and resp.content_type.startswith("text/html") and resp.status == 200:
            self.fire(source, "large")
            pad = b"<!-- " + b"x" * max(0, c.large_bytes - len(resp.body)) + b" -->"
            resp.body = resp.body.replace(b"</body>", pad + b"</body>", 1) if b"</body>" in resp.body else resp.body + pad
        if c.truncate_every and n % c.truncate_every == 0 and len(resp.body) > 64:
            self.fire(source, "truncate")
            resp.truncate_to = len(resp.body) // 2
        return resp
