"""Structured logs: one JSON object per line, with the source and crawl id on every line.

An operator greps and ships these files (journald, Loki, Elasticsearch), so every line
has the same keys: ``ts``, ``level``, ``logger``, ``msg``, ``source``, ``crawl_id`` (null
outside a crawl). The source and crawl id come from context variables set with
``log_context(...)`` (a crawl child sets them once for its whole life; a daemon thread
sets them around the crawl it supervises), so no call site has to pass them.

Secrets never reach a file: every formatted line is passed through ``Redactor``, which
replaces the values ``Secrets.all_values()`` knows and the values of credential-bearing
headers and URL user-info, whatever logger produced them (Scrapy, httpx, ours).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

__all__ = ["ContextFilter", "JsonFormatter", "Redactor", "configure", "current_context", "log_context"]

_SOURCE: contextvars.ContextVar[str | None] = contextvars.ContextVar("narcwatch_source", default=None)
_CRAWL_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("narcwatch_crawl_id", default=None)

REDACTED = "[REDACTED]"
# Header and parameter names whose value is a credential wherever it shows up.
SENSITIVE_NAMES = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token",
                   "api_key", "apikey", "password", "passwd", "secret", "token", "sessionid")
# name, then ':' or '=' (optionally quoted, as in a repr'd dict), then the value up to a
# delimiter. Bounded repetitions only: a hostile 10 MB line costs linear time.
_NAMED = re.compile(
    r"""(?P<name>\b(?:%s))(?P<sep>['"]?\s{0,3}[:=]\s{0,3}(?:b?['"])?(?:(?:bearer|basic|digest|token)\s{1,3})?)(?P<value>[^\s'",;}\]&\\]{1,4096})"""
    % "|".join(re.escape(n) for n in SENSITIVE_NAMES),
    re.IGNORECASE,
)
# scheme://user:password@host -> scheme://user:[REDACTED]@host
_USERINFO = re.compile(r"(?P<pre>[a-z][a-z0-9+.-]{0,20}://[^\s:/@]{0,256}:)(?P<pw>[^\s@/]{1,256})(?=@)", re.IGNORECASE)


def current_context() -> tuple[str | None, str | None]:
    return _SOURCE.get(), _CRAWL_ID.get()


@contextmanager
def log_context(source: str | None = None, crawl_id: str | None = None) -> Iterator[None]:
    """Tag every log line emitted in this context (this thread or task) with source and crawl id."""
    t1, t2 = _SOURCE.set(source), _CRAWL_ID.set(crawl_id)
    try:
        yield
    finally:
        _CRAWL_ID.reset(t2)
        _SOURCE.reset(t1)


def set_process_context(source: str | None, crawl_id: str | None) -> None:
    """For a process that is one crawl from start to end (the runner child)."""
    _SOURCE.set(source)
    _CRAWL_ID.set(crawl_id)


class Redactor:
    """Replace secret values and credential-looking fields in a string; total on any input."""

    def __init__(self, secrets: Iterable[str] = ()):
        # Longest first so a secret that contains another is removed whole.
        self.values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, REDACTED)
        text = _NAMED.sub(lambda m: f"{m['name']}{m['sep']}{REDACTED}", text)
        return _USERINFO.sub(lambda m: f"{m['pre']}{REDACTED}", text)


class ContextFilter(logging.Filter):
    """Stamp ``source`` and ``crawl_id`` on a record (unless the caller passed them in ``extra``)."""

    def __init__(self, source: str | None = None, crawl_id: str | None = None):
        super().__init__()
        self.source, self.crawl_id = source, crawl_id

    def filter(self, record: logging.LogRecord) -> bool:
        source, crawl_id = current_context()
        if getattr(record, "source", None) is None:
            record.source = source or self.source
        if getattr(record, "crawl_id", None) is None:
            record.crawl_id = crawl_id or self.crawl_id
        return True


_STD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "source", "crawl_id",
                                                                      "taskName"}


_RAW_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class JsonFormatter(logging.Formatter):
    """One JSON object per record; extras (``extra={...}``) become keys, never overriding the fixed ones."""

    def __init__(self, redactor: Redactor | None = None):
        super().__init__()
        self.redact = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        try:
            msg = record.getMessage()
        except Exception as exc:  # a bad %-format in a third-party call must not lose the line
            msg = f"{record.msg!r} (unformattable: {exc})"
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": msg,
            "source": getattr(record, "source", None),
            "crawl_id": getattr(record, "crawl_id", None),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STD and key not in out:
                out[key] = value if isinstance(value, (int, float, bool, type(None))) else str(value)
        # Redact every string field before serialising (never the JSON text: a replacement
        # there could cut an escape sequence and break the line), tracebacks and extras included.
        line = json.dumps({k: self.redact(v) if isinstance(v, str) else v for k, v in out.items()},
                          ensure_ascii=False)
        # JSON escapes C0 controls itself; these it writes raw, and a terminal tailing the log
        # acts on them (an 8-bit CSI, a bidi override from a scraped title): escaped, the same
        # JSON value (they occur only inside strings)
        return _RAW_UNSAFE.sub(lambda m: "\\u%04x" % ord(m[0]), line)


def configure(*, file: str | Path | None = None, stream: IO[str] | None = None, level: str | int = "INFO",
              secrets: Iterable[str] = (), source: str | None = None, crawl_id: str | None = None,
              quiet: Iterable[str] = ("apscheduler.executors", "httpx", "httpcore")) -> logging.Handler:
    """Route the root logger to JSON lines (file and/or stream), replacing other root handlers.

    ``source``/``crawl_id`` are the defaults for lines logged outside any ``log_context``."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    formatter = JsonFormatter(Redactor(secrets))
    flt = ContextFilter(source, crawl_id)
    handler: logging.Handler
    if file is not None:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    lvl = level if isinstance(level, int) else logging.getLevelName(level.upper())
    handler.setFormatter(formatter)
    handler.addFilter(flt)  # on the handler: records from every logger pass through it
    handler.setLevel(lvl)  # Scrapy resets the root logger's level; the handler keeps ours
    root.addHandler(handler)
    if file is not None and stream is not None:
        extra = logging.StreamHandler(stream)
        extra.setFormatter(formatter)
        extra.addFilter(flt)
        extra.setLevel(lvl)
        root.addHandler(extra)
    root.setLevel(lvl)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return handler
