"""Bulk writes with per-document error handling: read every item, retry 429s, count the rest.

The traps this module exists to avoid (ahmia-crawler has each): ``except Exception: log``
around a bulk call, then clearing the buffer (silent loss); treating a 200 response as
success when items inside it failed. Here every item's status is read; 429 (and the
transient 502/503/504) are retried for that document only, with exponential backoff;
every other failure is counted by error type and raised as ``BulkError`` after the
request, with the caller's actions untouched so it can retry or keep them spooled.
A ``create`` that finds the document already there (409) is idempotent success when the
action says so (replayed snapshots, events).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from narcwatch.index.documents import dumps
from narcwatch.index.es_client import EngineClient, EngineError

__all__ = ["Action", "BulkError", "BulkStats", "bulk_write", "to_ndjson"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: request body budget; ES's default http.max_content_length is 100 MiB
MAX_CHUNK_BYTES = 8 * 2**20


@dataclass(frozen=True)
class Action:
    op: Literal["index", "create", "delete"]
    index: str
    id: str
    source: dict[str, Any] | None = None
    exists_ok: bool = False  # a create that finds the document already there is success

    def lines(self) -> str:
        head = json.dumps({self.op: {"_index": self.index, "_id": self.id}}, separators=(",", ":"))
        return head + "\n" if self.op == "delete" else f"{head}\n{dumps(self.source)}\n"


@dataclass
class BulkStats:
    ok: int = 0
    existed: int = 0
    retried: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # error type -> count
    errors: list[dict[str, Any]] = field(default_factory=list)  # first errors: id, index, status, type, reason

    def merge(self, other: "BulkStats") -> None:
        self.ok += other.ok
        self.existed += other.existed
        self.retried += other.retried
        self.failed.update(other.failed)
        self.errors.extend(other.errors[: max(0, 20 - len(self.errors))])


class BulkError(RuntimeError):
    """Some documents were not written. ``stats.failed`` counts them by error type."""

    def __init__(self, stats: BulkStats):
        self.stats = stats
        reasons = ", ".join(f"{k}={v}" for k, v in stats.failed.most_common())
        first = stats.errors[0] if stats.errors else {}
        super().__init__(f"bulk: {sum(stats.failed.values())} document(s) failed ({reasons}); "
                         f"first: {first.get('index')}/{first.get('id')}: {first.get('reason')}")


def to_ndjson(actions: Sequence[Action]) -> str:
    return "".join(a.lines() for a in actions)


def _chunks(actions: Sequence[Action], max_bytes: int) -> list[list[tuple[Action, str]]]:
    out: list[list[tuple[Action, str]]] = []
    cur: list[tuple[Action, str]] = []
    size = 0
    for a in actions:
        body = a.lines()
        n = len(body.encode())
        if cur and size + n > max_bytes:
            out.append(cur)
            cur, size = [], 0
        cur.append((a, body))
        size += n
    if cur:
        out.append(cur)
    return out


def bulk_write(client: EngineClient, actions: Sequence[Action], *, refresh: bool | str = False,
               max_retries: int = 6, backoff: float = 0.2, max_backoff: float = 10.0,
               max_chunk_bytes: int = MAX_CHUNK_BYTES, sleep: Callable[[float], None] = time.sleep,
               raise_on_error: bool = True) -> BulkStats:
    """Write ``actions`` (in order, chunked by size); raise ``BulkError`` if any document failed."""
    stats = BulkStats()
    chunks = _chunks(actions, max_chunk_bytes)
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        stats.merge(_write_chunk(client, chunk, refresh if last else False, max_retries, backoff, max_backoff, sleep))
    if raise_on_error and stats.failed:
        raise BulkError(stats)
    return stats


def _write_chunk(client: EngineClient, chunk: list[tuple[Action, str]], refresh: bool | str, max_retries: int,
                 backoff: float, max_backoff: float, sleep: Callable[[float], None]) -> BulkStats:
    stats = BulkStats()
    pending = chunk
    attempt = 0
    while pending:
        try:
            resp = client.bulk("".join(body for _, body in pending), refresh=refresh)
        except EngineError as exc:
            if exc.status in RETRY_STATUSES and attempt < max_retries:  # the whole request was rejected
                sleep(min(max_backoff, backoff * 2 ** attempt))
                attempt += 1
                stats.retried += len(pending)
                continue
            raise
        items = resp.get("items") or []
        if len(items) != len(pending):
            raise EngineError(f"bulk: {len(pending)} actions sent, {len(items)} results received", None, resp)
        retry: list[tuple[Action, str]] = []
        for (action, body), item in zip(pending, items):
            result = next(iter(item.values()), {}) if isinstance(item, dict) else {}
            status = int(result.get("status") or 0)
            if 200 <= status < 300:
                stats.ok += 1
            elif status == 409 and action.op == "create" and action.exists_ok:
                stats.existed += 1
            elif status == 404 and action.op == "delete":
                stats.ok += 1
            elif status in RETRY_STATUSES and attempt < max_retries:
                retry.append((action, body))
            else:
                err = result.get("error") or {}
                etype = err.get("type", f"http_{status}") if isinstance(err, dict) else f"http_{status}"
                if status in RETRY_STATUSES:
                    etype = f"{etype} (after {max_retries} retries)"
                stats.failed[etype] += 1
                if len(stats.errors) < 20:
                    stats.errors.append({"index": action.index, "id": action.id, "status": status, "type": etype,
                                         "reason": err.get("reason") if isinstance(err, dict) else str(err)})
        if retry:
            stats.retried += len(retry)
            sleep(min(max_backoff, backoff * 2 ** attempt))
            attempt += 1
        pending = retry
    return stats
