"""Keep a long-running process's resident memory from creeping: the allocator's side.

Python frees objects, but glibc keeps the freed heap pages and, with many threads, one
64 MB arena per thread that touched malloc; RSS then ratchets up with every burst of
work (an ingest batch, a crawl supervisor thread) even though nothing leaks. Two
standard remedies, both no-ops where glibc is absent (musl, macOS):

* ``M_ARENA_MAX`` = 2 (what ``MALLOC_ARENA_MAX=2`` does, set at start for arenas yet to
  be created): threads share two arenas instead of 8 per core.
* ``malloc_trim(0)`` after work: give free pages at the top and inside the heap back to
  the kernel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from pathlib import Path

__all__ = ["cap_arenas", "rss_kb", "trim"]

log = logging.getLogger(__name__)
_M_ARENA_MAX = -8  # from <malloc.h>


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim  # noqa: B018 - glibc only
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def cap_arenas(arenas: int = 2) -> bool:
    """Limit glibc to ``arenas`` malloc arenas; True if applied."""
    if _LIBC is None or arenas < 1:
        return False
    return bool(_LIBC.mallopt(_M_ARENA_MAX, arenas))


def trim() -> bool:
    """Return free heap memory to the kernel; True if any was released."""
    if _LIBC is None:
        return False
    return bool(_LIBC.malloc_trim(0))


def rss_kb(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of a process in KiB (file pages are reclaimable cache: mmap'd SQLite)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out
