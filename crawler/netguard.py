"""Process-wide guard: onion and I2P names are never resolved by this process.

The routing middleware already sends dark hosts only to the SOCKS proxy with remote DNS;
this is the second wall. Every resolver Scrapy, httpx/anyio and Twisted use ends in
``socket.getaddrinfo`` (asyncio's ``loop.getaddrinfo`` calls it in a thread), so
wrapping it makes a local lookup of ``*.onion`` fail loudly and be counted instead of
asking the system resolver, which would announce the name to the local DNS server.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["DarkLookupRefused", "LOOPBACK_ENV", "NonLoopbackRefused", "install", "install_loopback_only",
           "installed", "is_dark_host", "is_loopback_target", "refused_lookups"]

# Test mode: ``NARCWATCH_NETGUARD_LOOPBACK=/path/violations.log`` makes ``install()`` also
# refuse every connection, datagram and name lookup that is not for a loopback address,
# and append one line per refusal to that file (the test run reads it and fails).
LOOPBACK_ENV = "NARCWATCH_NETGUARD_LOOPBACK"

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
    """Wrap the resolver functions once; idempotent. Honours ``LOOPBACK_ENV`` (tests)."""
    with _lock:
        if _original:
            return
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
            _wrap(name)
    log = os.environ.get(LOOPBACK_ENV)
    if log:
        install_loopback_only(lambda what: _append(log, what))


class NonLoopbackRefused(ConnectionRefusedError):
    """A test process tried to reach (or resolve) something that is not on 127.0.0.0/8 or ::1."""


_LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback_target(host: Any) -> bool:
    """True for a loopback IP literal or a name that can only mean this machine's loopback."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    h = host.strip("[]").split("%", 1)[0].lower()
    if h in _LOCAL_NAMES or h.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def _is_ip_literal(host: Any) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host).strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _append(path: str, what: str) -> None:
    line = f"{os.getpid()} {what}".replace("\n", " ")[:500] + "\n"
    with open(path, "a", encoding="utf-8") as fh:  # O_APPEND: one line per write, across processes
        fh.write(line)


def install_loopback_only(report: Callable[[str], None]) -> None:
    """Refuse (and ``report``) every non-loopback connect/sendto and every lookup of a name
    that is not local. Lookups of IP literals are allowed (no packet: binding "0.0.0.0")."""
    if "connect" in _original:
        return
    sock_cls = socket.socket
    hostname = socket.gethostname().lower()

    def refuse(what: str) -> None:
        report(what)
        raise NonLoopbackRefused(f"netguard: {what} refused (tests may only reach loopback)")

    def check_addr(op: str, address: Any) -> None:
        if isinstance(address, tuple) and address and not is_loopback_target(address[0]):
            refuse(f"{op} {address[0]}:{address[1] if len(address) > 1 else ''}")

    for op in ("connect", "connect_ex"):
        original = getattr(sock_cls, op)
        _original[op] = original

        def guarded(self: socket.socket, address: Any, *, _op: str = op, _orig: Callable[..., Any] = original) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                check_addr(_op, address)
            return _orig(self, address)

        setattr(sock_cls, op, guarded)
    original_sendto = sock_cls.sendto
    _original["sendto"] = original_sendto

    def sendto(self: socket.socket, data: Any, *args: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and args:
            check_addr("sendto", args[-1])
        return original_sendto(self, data, *args)

    sock_cls.sendto = sendto  # type: ignore[method-assign]
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        inner = getattr(socket, name)
        _original[f"loopback:{name}"] = inner

        def lookup(host: Any, *args: Any, _inner: Callable[..., Any] = inner, _name: str = name, **kwargs: Any) -> Any:
            h = host.decode("ascii", "replace") if isinstance(host, bytes) else host
            if h is not None and not (is_dark_host(h) or is_loopback_target(h) or _is_ip_literal(h) or str(h).lower() == hostname):
                refuse(f"{_name} {h}")
            return _inner(host, *args, **kwargs)

        setattr(socket, name, lookup)


def installed() -> bool:
    return bool(_original)


def refused_lookups() -> list[str]:
    with _lock:
        return list(_refused)
