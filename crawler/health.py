"""Per-source health: what an operator must know about each source, in one file per source.

``<data>/jobs/<source>.status.json`` is written after every crawl (``record_crawl``) and
before one starts (``mark_started``, so a daemon killed mid-crawl still knows which crawl
id to resume). Its first four keys are the ones the dashboard reads
(``dashboards.reader.read_crawl_status``): ``last_crawl_at``, ``finished``, ``items``,
``errors`` (operator-visible messages). The rest is this module's: counters, the last
successful crawl, errors by reason, the profile's health messages, the items history.

``evaluate`` adds what can only be known now: whether a CAPTCHA waits for a human,
whether the Tor SOCKS proxy answers, and whether the source has silently stopped: no
successful crawl within three schedule intervals, or a complete crawl with no items after
earlier crawls had some. A quiet zero is an error, not a number.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from narcwatch.crawler import captcha
from narcwatch.crawler.models import Network, Source

__all__ = ["SourceHealth", "evaluate", "load", "mark_started", "probe_socks", "record_crawl", "status_path"]

HISTORY = 10  # items of the last complete crawls kept, newest last
OVERDUE_INTERVALS = 3
_MAX_BYTES = 1_000_000
# Load-modify-save of one status file from several daemon threads (crawl jobs, health loop).
_LOCK = threading.RLock()


def status_path(jobs_dir: Path, source_id: str) -> Path:
    return jobs_dir / f"{source_id}.status.json"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def _ts(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


@dataclass
class SourceHealth:
    """The persisted record. Unknown keys in an old file are ignored, missing ones defaulted."""

    source: str
    last_crawl_at: str | None = None  # when the last crawl (of any outcome) ended
    finished: bool = False  # the last crawl was complete
    items: int = 0  # items of the last crawl
    errors: list[str] = field(default_factory=list)  # operator-visible problems, worst first
    last_crawl_id: str | None = None
    last_success_at: str | None = None
    last_success_crawl_id: str | None = None
    pages: int = 0
    errors_by_reason: dict[str, int] = field(default_factory=dict)  # of the last crawl
    profile_errors: list[str] = field(default_factory=list)  # CrawlResult.health of the last crawl
    finish_reason: str = ""
    crash: str | None = None  # the last crawl's process died without a result (not by our stop)
    crawls: int = 0
    successes: int = 0
    total_pages: int = 0
    total_items: int = 0
    total_errors: dict[str, int] = field(default_factory=dict)  # cumulative, for the metrics counters
    items_history: list[int] = field(default_factory=list)
    in_flight: str | None = None  # crawl id running now, or interrupted (resume it)
    in_flight_since: str | None = None
    schedule: str | None = None
    interval_seconds: float | None = None
    captcha_waiting: int = 0
    tor_up: bool | None = None  # None: source does not use Tor, or not probed
    updated_at: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load(jobs_dir: Path, source_id: str) -> SourceHealth:
    """The stored record, or an empty one when missing or unreadable (never raises)."""
    path = status_path(jobs_dir, source_id)
    try:
        if path.stat().st_size > _MAX_BYTES:
            return SourceHealth(source_id)
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return SourceHealth(source_id)
    if not isinstance(raw, dict):
        return SourceHealth(source_id)
    known = SourceHealth.__dataclass_fields__
    kept = {k: v for k, v in raw.items() if k in known and k != "source"}
    for _ in range(2):  # fields of the wrong type are dropped (defaulted), the rest kept
        try:
            return _ADAPTER.validate_python({**kept, "source": source_id})
        except ValidationError as exc:
            for err in exc.errors():
                kept.pop(str(err["loc"][0]) if err["loc"] else "", None)
    return SourceHealth(source_id)


_ADAPTER = TypeAdapter(SourceHealth)


def save(jobs_dir: Path, health: SourceHealth) -> None:
    """Atomic replace: the dashboard never reads half a file."""
    jobs_dir.mkdir(parents=True, exist_ok=True)
    health.updated_at = _iso(time.time())
    path = status_path(jobs_dir, health.source)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(health.to_json(), indent=1, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)


def mark_started(jobs_dir: Path, source_id: str, crawl_id: str) -> SourceHealth:
    with _LOCK:
        h = load(jobs_dir, source_id)
        if h.in_flight != crawl_id:
            h.in_flight, h.in_flight_since = crawl_id, _iso(time.time())
        save(jobs_dir, h)
        return h


def record_crawl(jobs_dir: Path, result: Any, *, interrupted: bool = False, now: float | None = None) -> SourceHealth:
    """Fold one ``CrawlResult`` into the source's record. ``interrupted``: stopped at a safe
    point by a shutdown, so ``in_flight`` is kept and the next run resumes that crawl id."""
    with _LOCK:
        return _record(jobs_dir, result, interrupted, time.time() if now is None else now)


def _record(jobs_dir: Path, result: Any, interrupted: bool, now: float) -> SourceHealth:
    h = load(jobs_dir, result.source)
    h.crawls += 1
    h.last_crawl_at, h.last_crawl_id = _iso(now), result.crawl_id
    h.finished, h.items, h.pages = bool(result.complete), int(result.items), int(result.pages)
    h.errors_by_reason = {str(k): int(v) for k, v in dict(result.errors).items()}
    h.finish_reason = str(result.finish_reason or "")
    crashed = "crawler_crashed" in h.errors_by_reason  # runner.read_result: no result file
    if not interrupted:  # a crawl stopped half-way proves nothing about the profile: keep the last verdict
        h.profile_errors = [] if crashed else [str(m)[:500] for m in list(result.health)[:50]]
    h.crash = None if interrupted or not crashed else (" ".join(map(str, result.health)) or "no result")[:500]
    h.total_pages += h.pages
    h.total_items += h.items
    for reason, n in h.errors_by_reason.items():
        h.total_errors[reason] = h.total_errors.get(reason, 0) + n
    if result.complete:
        h.successes += 1
        h.last_success_at, h.last_success_crawl_id = _iso(now), result.crawl_id
        h.items_history = [*h.items_history, h.items][-HISTORY:]
    if interrupted:
        h.in_flight = result.crawl_id
    elif h.in_flight == result.crawl_id:  # a crawl of another id (crawl --now) leaves a pending resume alone
        h.in_flight = h.in_flight_since = None
    h.errors = _errors(h, now)
    save(jobs_dir, h)
    return h


def _errors(h: SourceHealth, now: float) -> list[str]:
    """The operator-visible problems in ``h`` (stored state only; no probes)."""
    out: list[str] = []
    if h.tor_up is False:
        out.append("Tor is down: the SOCKS proxy does not answer")
    if h.captcha_waiting:
        out.append(f"waiting for a human: {h.captcha_waiting} CAPTCHA(s) to answer in the dashboard")
    out += [f"profile does not match: {m}" for m in h.profile_errors]
    if h.crash:
        out.append(f"crawl process crashed: {h.crash}")
    if h.finished and h.items == 0 and any(n > 0 for n in h.items_history[:-1]):
        out.append(f"stopped producing items: the last complete crawl ({h.last_crawl_id}) found 0 items, "
                   f"earlier crawls found up to {max(h.items_history)}")
    last_ok = _ts(h.last_success_at)
    if h.interval_seconds and last_ok is not None and now - last_ok > OVERDUE_INTERVALS * h.interval_seconds:
        out.append(f"no successful crawl since {h.last_success_at} ({OVERDUE_INTERVALS} intervals of "
                   f"{h.schedule or f'{h.interval_seconds:g}s'} passed)")
    if h.crawls and not h.finished and h.finish_reason not in ("shutdown",) and not h.profile_errors and not h.crash:
        failed = ", ".join(f"{k}={v}" for k, v in sorted(h.errors_by_reason.items())) or h.finish_reason or "unknown"
        out.append(f"last crawl incomplete ({failed})")
    return out


def probe_socks(url: str, timeout: float = 3.0) -> bool:
    """Is a SOCKS5 proxy answering at ``url``? A greeting (no auth) and a valid reply; no request is made."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 9050
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"\x05\x01\x00")
            reply = sock.recv(2)
    except OSError:
        return False
    return len(reply) == 2 and reply[0] == 5 and reply[1] in (0, 2)


def evaluate(jobs_dir: Path, data_root: Path, source: Source, *, socks_url: str | None, interval: float | None,
             probe: bool = True, now: float | None = None, save_result: bool = False) -> SourceHealth:
    """The stored record plus live checks: CAPTCHA waits, Tor reachability, overdue crawls."""
    now = time.time() if now is None else now
    with _LOCK:
        return _evaluate(jobs_dir, data_root, source, socks_url, interval, probe, now, save_result)


def _evaluate(jobs_dir: Path, data_root: Path, source: Source, socks_url: str | None, interval: float | None,
              probe: bool, now: float, save_result: bool) -> SourceHealth:
    h = load(jobs_dir, source.id)
    h.schedule, h.interval_seconds = source.schedule, interval
    h.captcha_waiting = sum(1 for r in captcha.open_requests(data_root) if r.source == source.id)
    if probe and source.network != Network.CLEARNET and socks_url:
        h.tor_up = probe_socks(socks_url)
    elif source.network == Network.CLEARNET:
        h.tor_up = None
    h.errors = _errors(h, now)
    if save_result:
        save(jobs_dir, h)
    return h
