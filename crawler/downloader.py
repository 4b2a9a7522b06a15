"""Scrapy's downloader with per-site concurrency that actually holds under asyncio.

Scrapy 2.19 frees a transfer slot in ``_download`` but only *takes* it once the task it
schedules with ``loop.create_task`` starts running. ``_process_queue`` checks the free
slots in a loop before any of those tasks has run, so on the asyncio reactor it drains
the whole slot queue: every request up to ``CONCURRENT_REQUESTS`` goes to one site at once
whatever ``CONCURRENT_REQUESTS_PER_DOMAIN`` says (measured: 16 in flight at a limit of 2).
For a Tor market that is the difference between a polite crawler and a ban, so the slot
is reserved synchronously, when the download is scheduled.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from twisted.internet.defer import Deferred


class SlotReservingDownloader(Downloader):
    """``Downloader`` whose transfer slots are taken when a download is scheduled."""

    def _wait_for_download(self, slot: Slot, request: Request, queue_dfd: Deferred[Any]) -> Any:
        # Called synchronously by _process_queue to build the coroutine it schedules: the
        # reservation counts before _process_queue checks free_transfer_slots() again.
        # _download adds the same request (a set: no-op) and removes it when done.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)
