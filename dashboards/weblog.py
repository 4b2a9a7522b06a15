"""The web server's own log lines as the product's JSON lines, with no secret in them.

uvicorn configures its own plain-text handlers unless told not to; ``narcwatch serve``
passes ``log_config=None`` so its records reach the root logger, where
``narcwatch.crawler.logs`` writes JSON. This module adds what a web server needs on
top: the access line becomes fields (``client``, ``method``, ``path``, ``status``) with
the query string reduced to its parameter names, because a query string is where a
careless client puts an API token, and search queries are for the audit log, not the
server log; and every line is scrubbed of the dashboard's own secret shapes (API
tokens, session cookies, CSRF fields), whichever logger wrote them.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

__all__ = ["AccessLogFilter", "SecretScrubFilter", "install", "scrub"]

REDACTED = "[REDACTED]"
_SECRET_SHAPES = re.compile(
    r"""(?P<token>nw_[0-9a-f]{16}_[A-Za-z0-9_-]{43})            # API token (auth.create_token)
      | (?P<cookie>[A-Za-z0-9_-]{43}\.[0-9a-f]{64})            # session cookie id.hmac (auth.start_session)
      | (?<=csrf)(?P<sep>(?:[_-]?token)?['"]?\s{0,3}[:=]\s{0,3}['"]?)[A-Za-z0-9_-]{16,128}  # csrf[_token]=value
    """,
    re.VERBOSE | re.IGNORECASE,
)
_QUERY_KEYS = 20


def scrub(text: str) -> str:
    """``text`` with every dashboard secret shape replaced; total, linear time."""
    return _SECRET_SHAPES.sub(_replace, text) if text else text


def _replace(m: re.Match[str]) -> str:
    return REDACTED if m.group("sep") is None else m.group("sep") + REDACTED


class SecretScrubFilter(logging.Filter):
    """Render the message once, scrubbed (on a handler: applies to every logger's records)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-coloured copy of msg
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - the formatter reports an unformattable message itself
            return True
        clean = scrub(msg)
        if clean != msg or record.args:
            record.msg, record.args = clean, None
        return True


class AccessLogFilter(logging.Filter):
    """uvicorn's ``'%s - "%s %s HTTP/%s" %d'`` access record -> fields, query values dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not (isinstance(args, tuple) and len(args) == 5):
            return True
        client, method, full_path, http_version, status = args
        path, _, query = str(full_path).partition("?")
        keys = list(dict.fromkeys(k for k, _ in parse_qsl(query, keep_blank_values=True)))[:_QUERY_KEYS]
        record.msg, record.args = "%s %s %s", (method, scrub(path), status)
        record.client = str(client)
        record.method = str(method)
        record.path = scrub(path)
        record.status = status
        record.http_version = str(http_version)
        if keys:
            record.query_keys = ",".join(scrub(k)[:64] for k in keys)
        return True


def install(access_log: bool = True) -> None:
    """Route uvicorn's loggers through the root JSON handlers (call after ``logs.configure``)."""
    scrubber = SecretScrubFilter()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretScrubFilter) for f in handler.filters):
            handler.addFilter(scrubber)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            lg.removeHandler(h)
        lg.propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogFilter) for f in access.filters):
        access.addFilter(AccessLogFilter())
    access.setLevel(logging.INFO if access_log else logging.CRITICAL + 1)
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)
