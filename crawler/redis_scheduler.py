"""scrapy-redis's scheduler, adapted to Scrapy 2.19's stats and logging API (no deprecated calls).

The behaviour is scrapy-redis's (shared queue + Redis duplicate filter); only the
``spider=`` arguments to the stats collector and ``Spider.log`` are gone, which Scrapy
2.19 deprecates and which would otherwise warn on every request.

``push_now`` puts a page's discovered request in Redis before the engine hands it over.
The scraper takes a callback's output through a queue of up to 2 x CONCURRENT_ITEMS and
schedules it a little later, so a page can end (and its popped request be acknowledged)
while requests it yielded are still in that queue: a worker killed then loses them,
and every page only they lead to (seen under load: a category's next page and its 15
listings). ``RedisFrontierSpiderMiddleware`` pushes them first.
"""

from __future__ import annotations

import weakref
from typing import Any

from scrapy.utils.misc import load_object
from scrapy_redis.scheduler import Scheduler

__all__ = ["RedisScheduler"]


class RedisScheduler(Scheduler):
    def open(self, spider: Any) -> None:
        self.spider = spider
        try:
            self.queue = load_object(self.queue_cls)(server=self.server, spider=spider,
                                                     key=self.queue_key % {"spider": spider.name},
                                                     serializer=self.serializer)
        except TypeError as exc:
            raise ValueError(f"Failed to instantiate queue class {self.queue_cls!r}: {exc}") from exc
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        self._handed: weakref.WeakSet[Any] = weakref.WeakSet()  # requests the engine has given us
        self._early: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()  # push_now's, not yet given
        if self.flush_on_start:
            self.flush()
        if queued := len(self.queue):
            spider.logger.info("joining a crawl round with %d requests queued", queued)

    def push_now(self, request: Any) -> None:
        """Queue ``request`` in Redis now, unless the engine already handed it over; the
        engine's later ``enqueue_request`` of the same object returns this push's result."""
        if request in self._handed or request in self._early:
            return
        self._early[request] = self._push(request)

    def enqueue_request(self, request: Any) -> bool:
        if request in self._early:
            return self._early.pop(request)
        self._handed.add(request)
        return self._push(request)

    def _push(self, request: Any) -> bool:
        if not request.dont_filter and hasattr(self.queue, "push_if_new") and hasattr(self.df, "key"):
            # seen-set and queue change together, or not at all (see ReliableQueue.push_if_new)
            if not self.queue.push_if_new(request, self.df.key, self.df.request_fingerprint(request)):
                self.df.log(request, self.spider)
                if self.stats:
                    self.stats.inc_value("narcwatch/redis/duplicate")
                return False
            if self.stats:
                self.stats.inc_value("scheduler/enqueued/redis")
            return True
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            if self.stats:
                self.stats.inc_value("narcwatch/redis/duplicate")
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Any:
        request = self.queue.pop(self.idle_before_close)
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request
