"""Write request/response pairs to rotating, gzip-compressed WARC files.

Each record is its own gzip member (warcio's default), so a record can be read from
its offset without decompressing the file before it. Payload digests are SHA-256
(``WARC-Payload-Digest: sha256:<base32>``, the form WARC 1.1 recommends), and the
manifest keeps the same digest as hex for ``evidence verify`` and for every item that
cites the capture.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from narcwatch.crawler.evidence.manifest import Manifest
from narcwatch.crawler.models import Capture

__all__ = ["EvidenceArchive", "capture_id", "sha256_label"]

# Headers that carry our own secrets must never be archived.
_REDACT = frozenset({b"proxy-authorization", b"authorization", b"cookie"})


class _Sha256Writer(WARCWriter):
    """warcio writer whose block digests are SHA-256 too (it defaults to SHA-1)."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def sha256_label(digest: bytes) -> str:
    return "sha256:" + base64.b32encode(digest).decode("ascii")


def capture_id(url: str, fetched_at: datetime, sha256_hex: str) -> str:
    """Stable for the bytes and the moment: the same payload fetched later is a new capture."""
    h = hashlib.sha256(f"{url}\n{fetched_at.isoformat()}\n{sha256_hex}".encode()).hexdigest()
    return "c" + h[:23]


def _status_line(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


class EvidenceArchive:
    """One writer per crawl process; files are ``<source>/<date>/<crawl>-<n>.warc.gz``."""

    def __init__(self, root: str | Path, source: str, crawl_id: str, *, max_bytes: int = 256 * 1024 * 1024,
                 manifest: Manifest | None = None, autosync: bool = True, compresslevel: int = 6):
        self.root = Path(root)
        self.source = source
        self.crawl_id = crawl_id
        self.max_bytes = max_bytes
        # autosync: every record reaches the OS (and the manifest) before ``record`` returns.
        # A crawl turns it off and calls ``sync()`` before each spool commit instead.
        self.autosync = autosync
        self.compresslevel = compresslevel
        self.manifest = manifest or Manifest(self.root / "manifest.sqlite", buffered=not autosync)
        self._fh: BinaryIO | None = None
        self._writer: _Sha256Writer | None = None
        self._rel: str = ""
        self._n = 0

    # file rotation ------------------------------------------------------------------------
    def _open(self) -> None:
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        folder = self.root / self.source / day
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            self._n += 1
            path = folder / f"{self.crawl_id}-{os.getpid()}-{self._n:05d}.warc.gz"
            if not path.exists():
                break
        self._fh = open(path, "ab")
        self._writer = _Sha256Writer(self._fh, gzip=True, warc_version="1.1")
        self._rel = str(path.relative_to(self.root))
        info = {"software": "narcwatch", "format": "WARC File Format 1.1", "source": self.source,
                "crawl-id": self.crawl_id}
        self._writer.write_record(self._writer.create_warcinfo_record(path.name, info))

    def _current(self) -> _Sha256Writer:
        if self._fh is not None and self._fh.tell() >= self.max_bytes:
            self.close_file()
        if self._writer is None:
            self._open()
        assert self._writer is not None
        return self._writer

    def close_file(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self.manifest.flush()  # rows of a finished file are never left behind a rotation
        self._fh = None
        self._writer = None

    def sync(self) -> None:
        """Records written so far reach the OS, then their manifest rows are committed."""
        if self._fh is not None:
            self._fh.flush()
        self.manifest.flush()

    def close(self) -> None:
        self.close_file()
        self.manifest.close()

    # recording ---------------------------------------------------------------------------
    def record(self, *, url: str, method: str, request_headers: list[tuple[bytes, bytes]], request_body: bytes,
               status: int, response_headers: list[tuple[bytes, bytes]], body: bytes,
               fetched_at: datetime | None = None, protocol: str = "HTTP/1.1", rendered: bool = False,
               screenshot: str | None = None) -> Capture:
        """Write a request and its response record; returns the manifest entry."""
        fetched_at = fetched_at or datetime.now(timezone.utc)
        writer = self._current()
        assert self._fh is not None
        digest = hashlib.sha256(body).digest()
        sha_hex = digest.hex()
        cid = capture_id(url, fetched_at, sha_hex)
        warc_date = fetched_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        # The payload is the entity as transferred (content-encoding kept, chunking removed).
        resp_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response_headers
                        if k.lower() not in (b"transfer-encoding", b"content-length")]
        resp_headers.append(("Content-Length", str(len(body))))
        is_http = url.startswith(("http://", "https://"))
        http = StatusAndHeaders(_status_line(status), resp_headers, protocol=protocol or "HTTP/1.1") if is_http else None
        # Non-HTTP evidence (an imported export file) is a ``resource`` record: the bytes alone.
        response = writer.create_warc_record(
            url, "response" if is_http else "resource", payload=io.BytesIO(body), length=len(body), http_headers=http,
            warc_content_type="" if is_http else "application/octet-stream",
            warc_headers_dict={"WARC-Date": warc_date, "WARC-Payload-Digest": sha256_label(digest),
                               "WARC-Record-ID": f"<urn:narcwatch:{cid}>",
                               "WARC-Concurrent-To": f"<urn:narcwatch:{cid}:request>",
                               "X-Narcwatch-Capture": cid, "X-Narcwatch-Source": self.source,
                               "X-Narcwatch-Crawl": self.crawl_id})
        req_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request_headers
                       if k.lower() not in _REDACT]
        path = url.split("://", 1)[-1]
        path = "/" + path.split("/", 1)[1] if "/" in path else "/"
        req_http = StatusAndHeaders(f"{method} {path} HTTP/1.1", req_headers, is_http_request=True)
        request = writer.create_warc_record(
            url, "request", payload=io.BytesIO(request_body), length=len(request_body), http_headers=req_http,
            warc_headers_dict={"WARC-Date": warc_date, "WARC-Record-ID": f"<urn:narcwatch:{cid}:request>",
                               "WARC-Concurrent-To": f"<urn:narcwatch:{cid}>"})
        offset = self._fh.tell()
        writer.write_record(response)
        if is_http:
            writer.write_record(request)
        if self.autosync:
            self._fh.flush()  # the record is on disk before any item can cite it
        content_type = next((v.decode("latin-1") for k, v in response_headers if k.lower() == b"content-type"), "")
        capture = Capture(id=cid, source=self.source, url=url, status=status, fetched_at=fetched_at, sha256=sha_hex,
                          content_type=content_type[:200], length=len(body), warc_file=self._rel,
                          warc_offset=offset, rendered=rendered, screenshot=screenshot, crawl_id=self.crawl_id)
        self.manifest.add(capture)
        return capture

