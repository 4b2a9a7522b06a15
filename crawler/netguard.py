"""Process-wide guard: onion and I2P names are never resolved by this process.

The routing middleware already sends dark hosts only to the SOCKS proxy with remote DNS;
this is the second wall. Every resolver Scrapy, httpx/anyio and Twisted use ends in
``socket.getaddrinfo`` (asyncio's ``loop.getaddrinfo`` calls it in a thread), so
wrapping it makes a local lookup of ``*.onion`` fail loudly and be counted instead of
asking the system resolver, which would announce the name to the local DNS server.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["DarkLookupRefused", "install", "installed", "is_dark_host", "refused_lookups"]

_DARK_SUFFIXES = (".onion", ".i2p", ".onion.", ".i2p.")

_lock = threading.Lock()
_refused: list[str] = []
_original: dict[str, Callable[..., Any]] = {}


class DarkLookupRefused(socket.gaierror):
    """A local DNS lookup of a dark-web name was attempted and refused."""


def is_dark_host(host: str | bytes | None) -> bool:
    """True for names that must only ever be resolved by Tor or I2P."""
    if not host:
        return False
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return host.lower().endswith(_DARK_SUFFIXES)


def _refuse(host: Any) -> None:
    with _lock:
        if len(_refused) < 10_000:  # bounded: a hostile page cannot grow this forever
            _refused.append(str(host))
    raise DarkLookupRefused(socket.EAI_NONAME, f"refusing to resolve {host!r} locally (dark-web name)")


def _wrap(name: str) -> None:
    original = getattr(socket, name)
    _original[name] = original

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if is_dark_host(host):
            _refuse(host)
        return original(host, *args, **kwargs)

    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(socket, name, guarded)


def install() -> None:
    """Wrap the resolver functions once; idempotent."""
    with _lock:
        if _original:
            return
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
            _wrap(name)


def installed() -> bool:
    return bool(_original)


def refused_lookups() -> list[str]:
    with _lock:
        return list(_refused)
