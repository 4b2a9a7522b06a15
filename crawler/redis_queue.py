"""A reliable, shared request queue in Redis for crawl workers (scrapy-redis scheduler queue).

scrapy-redis pops a request destructively: a worker killed with requests in flight loses
them. Here every pop atomically moves the request from the shared queue into the
worker's own *processing* hash (a Lua script, so no request is ever outside both). The
request leaves that hash only when its page is settled (done or failed) **and** the
crawl context committed its items to the spool (``CrawlContext.after_commit``). A
worker refreshes a heartbeat key with a TTL; any worker that finds a registered worker
without a heartbeat moves that worker's processing hash back to the queue (again one
Lua script). A request's children are pushed before the request itself is acknowledged,
so "queue empty and nothing processing anywhere" (checked atomically) means the round is
really drained.

Delivery is at-least-once: a worker killed between its spool commit and its ack (one
Redis round trip) has those pages crawled again by another worker; ingest is
idempotent per listing key, so this costs a snapshot, never a lost listing.

Keys (prefix ``narcwatch:{source}``): ``:requests`` (ZSET, score = -priority),
``:dupefilter`` (SET), ``:workers`` (SET), ``:hb:{worker}`` (string with TTL),
``:processing:{worker}`` (HASH token -> "score\\ndata"), ``:round`` (current crawl id).
The scripts touch keys they derive from the prefix, so this needs a single Redis (or a
cluster with all keys in one hash slot), not a sharded cluster.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from scrapy_redis.queue import Base

__all__ = ["Keys", "ReliableQueue", "drained", "dumps", "loads", "recover_dead", "TOKEN_META"]

TOKEN_META = "narcwatch_redis_token"


@dataclass(frozen=True)
class Keys:
    """The Redis key names of one source's shared crawl."""

    source: str
    namespace: str = "narcwatch"

    @property
    def prefix(self) -> str:
        return f"{self.namespace}:{self.source}"

    @property
    def queue(self) -> str:
        return f"{self.prefix}:requests"

    @property
    def dupefilter(self) -> str:
        return f"{self.prefix}:dupefilter"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    @property
    def round(self) -> str:
        return f"{self.prefix}:round"

    def heartbeat(self, worker: str) -> str:
        return f"{self.prefix}:hb:{worker}"

    def processing(self, worker: str) -> str:
        return f"{self.prefix}:processing:{worker}"


# -- serializer: JSON with tagged bytes (a request dict holds bytes headers and body) --------
# Not pickle: whoever can write to Redis must not be able to run code in every worker.

def _enc(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray)):
        return {"__b64__": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, dict):
        return {str(k.decode("latin-1") if isinstance(k, bytes) else k): _enc(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_enc(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return {"__unserializable__": type(obj).__name__}  # counted by ReliableQueue, never guessed back


def _dec(obj: Any) -> Any:
    if isinstance(obj, dict):
        if len(obj) == 1 and "__b64__" in obj:
            return base64.b64decode(obj["__b64__"])
        return {k: _dec(v) for k, v in obj.items() if not (isinstance(v, dict) and "__unserializable__" in v)}
    if isinstance(obj, list):
        return [_dec(v) for v in obj]
    return obj


def dumps(obj: Any) -> bytes:
    """Serializer for scrapy-redis (``SCHEDULER_SERIALIZER`` needs ``dumps`` and ``loads``)."""
    headers = obj.get("headers") if isinstance(obj, dict) else None
    if isinstance(headers, dict):  # header names are bytes: keep them as text keys, values tagged
        obj = {**obj, "headers": {(k.decode("latin-1") if isinstance(k, bytes) else k): v for k, v in headers.items()}}
    return json.dumps(_enc(obj), separators=(",", ":"), sort_keys=True).encode("utf-8")


def loads(data: bytes | str) -> Any:
    return _dec(json.loads(data))


# -- Lua scripts -------------------------------------------------------------------------------

# KEYS: queue, processing(worker), workers; ARGV: worker. Pops the best request into the processing hash;
# the worker is registered in the same step, so no other worker can see a request held by nobody.
_POP = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return false end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[1], r[1])
local token = redis.sha1hex(r[1])
redis.call('HSET', KEYS[2], token, r[2] .. '\\n' .. r[1])
return {token, r[1]}
"""

# KEYS: workers, queue; ARGV: prefix, ttl-less worker to skip (the caller). Requeues dead workers' requests.
_RECOVER = """
local moved = 0
for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if w ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. ':hb:' .. w) == 0 then
    local pkey = ARGV[1] .. ':processing:' .. w
    local entries = redis.call('HVALS', pkey)
    for _, v in ipairs(entries) do
      local i = string.find(v, '\\n', 1, true)
      if i then
        redis.call('ZADD', KEYS[2], tonumber(string.sub(v, 1, i - 1)), string.sub(v, i + 1))
        moved = moved + 1
      end
    end
    redis.call('DEL', pkey)
    redis.call('SREM', KEYS[1], w)
  end
end
return moved
"""

# KEYS: workers, queue; ARGV: prefix. 1 when nothing is queued and nothing is in flight anywhere.
_DRAINED = """
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('HLEN', ARGV[1] .. ':processing:' .. w) > 0 then return 0 end
end
return 1
"""

# KEYS: processing(worker), queue. Puts this worker's own in-flight requests back (clean shutdown).
_REQUEUE_OWN = """
local moved = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  local i = string.find(v, '\\n', 1, true)
  if i then
    redis.call('ZADD', KEYS[2], tonumber(string.sub(v, 1, i - 1)), string.sub(v, i + 1))
    moved = moved + 1
  end
end
redis.call('DEL', KEYS[1])
return moved
"""


def recover_dead(server: Any, keys: Keys, me: str = "") -> int:
    """Requeue every request held by a registered worker whose heartbeat expired; returns how many."""
    return int(server.eval(_RECOVER, 2, keys.workers, keys.queue, keys.prefix, me))


def drained(server: Any, keys: Keys) -> bool:
    """Atomically: the queue is empty and no registered worker holds a request."""
    return bool(int(server.eval(_DRAINED, 2, keys.workers, keys.queue, keys.prefix)))


def requeue_own(server: Any, keys: Keys, worker: str) -> int:
    return int(server.eval(_REQUEUE_OWN, 2, keys.processing(worker), keys.queue))


_PUSH_IF_NEW = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0
"""


class ReliableQueue(Base):
    """scrapy-redis queue class (``SCHEDULER_QUEUE_CLASS``): priority order, pop-to-processing, ack after commit.

    Reads ``NARCWATCH_REDIS_WORKER_ID`` and ``NARCWATCH_REDIS_NAMESPACE`` from the spider's settings.
    """

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None):
        super().__init__(server, spider, key, serializer)
        settings = spider.crawler.settings
        self.worker: str = settings.get("NARCWATCH_REDIS_WORKER_ID") or "worker"
        self.keys = Keys(settings.get("NARCWATCH_SOURCE_ID") or spider.name,
                         settings.get("NARCWATCH_REDIS_NAMESPACE") or "narcwatch")
        self.processing = self.keys.processing(self.worker)
        self._pop = server.register_script(_POP)
        self._push_new = server.register_script(_PUSH_IF_NEW)
        self._by_fp: dict[str, list[str]] = defaultdict(list)  # page fingerprint -> tokens in flight
        self._settled: list[str] = []  # tokens whose page ended, waiting for the spool commit
        self.stats = spider.crawler.stats
        self._fingerprint = spider.crawler.request_fingerprinter.fingerprint
        # alive before the first pop (the extension keeps the beat going from spider_opened on)
        ttl = max(1.0, settings.getfloat("NARCWATCH_REDIS_HEARTBEAT_TTL", 10.0))
        server.set(self.keys.heartbeat(self.worker), b"1", px=int(ttl * 1000))

    def __len__(self) -> int:
        return int(self.server.zcard(self.key))

    def push(self, request: Any) -> None:
        request.meta.pop(TOKEN_META, None)  # a retry of a popped request is a new queue entry
        data = self._encode_request(request)
        if b"__unserializable__" in data:
            self.stats.inc_value("narcwatch/redis/meta_dropped")
        self.server.execute_command("ZADD", self.key, -request.priority, data)

    def push_if_new(self, request: Any, seen_key: str, fingerprint: str) -> bool:
        """Mark ``fingerprint`` seen and queue ``request`` in one atomic step. Two round
        trips (SADD, then ZADD) lose a request when a worker dies between them: the
        recovered parent page re-yields it and the filter drops it as already seen."""
        request.meta.pop(TOKEN_META, None)
        data = self._encode_request(request)
        if b"__unserializable__" in data:
            self.stats.inc_value("narcwatch/redis/meta_dropped")
        return bool(self._push_new(keys=[seen_key, self.key], args=[fingerprint, -request.priority, data]))

    def pop(self, timeout: int = 0) -> Any:
        got = self._pop(keys=[self.key, self.processing, self.keys.workers], args=[self.worker])
        if not got:
            return None
        token, data = (v.decode() if isinstance(v, bytes) and i == 0 else v for i, v in enumerate(got))
        try:
            request = self._decode_request(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            # garbage in the queue: acknowledge it so it does not come back forever
            self.stats.inc_value("narcwatch/redis/undecodable")
            self.server.hdel(self.processing, token)
            return None
        request.meta[TOKEN_META] = token
        self._by_fp[self._fingerprint(request).hex()].append(token)
        return request

    # acknowledgement ---------------------------------------------------------------------------
    def settle(self, fp: str) -> None:
        """The page of ``fp`` is done or failed; its tokens are acked after the next commit."""
        tokens = self._by_fp.pop(fp, None)
        if tokens:
            self._settled.extend(tokens)

    def ack_committed(self) -> None:
        if self._settled:
            self.server.hdel(self.processing, *self._settled)
            self.stats.inc_value("narcwatch/redis/acked", len(self._settled))
            self._settled.clear()

    def drop_orphans(self) -> int:
        """At idle (nothing downloading or parsing here): tokens never settled cannot progress any more.

        Acknowledged and counted instead of left to block the round's end forever."""
        tokens = [t for ts in self._by_fp.values() for t in ts]
        self._by_fp.clear()
        if tokens:
            self.server.hdel(self.processing, *tokens)
            self.stats.inc_value("narcwatch/redis/orphaned", len(tokens))
        return len(tokens)

    @property
    def in_flight(self) -> int:
        return sum(len(t) for t in self._by_fp.values())
