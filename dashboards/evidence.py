"""Read a captured page back from the evidence archive for the safe views.

A capture names its WARC file (relative to ``<data>/evidence/``) and the record's
offset. The payload is re-hashed while it is read, so the page can say whether the
bytes still match the sha256 recorded at capture time. Only the first ``MAX_SHOWN``
bytes are kept for display; the hash always covers the whole payload.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from narcwatch.crawler.models import Capture
from narcwatch.crawler.sqlitetx import read_only

__all__ = ["MAX_SHOWN", "Payload", "lookup_capture", "read_payload"]

MAX_SHOWN = 512 * 1024


@dataclass(frozen=True)
class Payload:
    body: bytes  # the first MAX_SHOWN bytes
    truncated: bool
    sha256: str  # of the whole payload
    matches: bool  # sha256 == capture.sha256
    content_type: str

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def _warc_path(evidence_dir: Path, capture: Capture) -> Path | None:
    if not capture.warc_file:
        return None
    base = evidence_dir.resolve()
    path = (base / capture.warc_file).resolve()
    return path if path.is_relative_to(base) and path.is_file() else None


def read_payload(evidence_dir: Path, capture: Capture) -> Payload | None:
    """The response payload of ``capture``, or None when its record cannot be read."""
    path = _warc_path(evidence_dir, capture)
    if path is None:
        return None
    try:
        with path.open("rb") as f:
            f.seek(max(0, capture.warc_offset))
            for record in ArchiveIterator(f):
                if record.rec_type not in ("response", "resource"):
                    continue
                digest, kept, size = hashlib.sha256(), bytearray(), 0
                stream = record.content_stream()
                while chunk := stream.read(64 * 1024):
                    digest.update(chunk)
                    size += len(chunk)
                    if len(kept) < MAX_SHOWN:
                        kept += chunk[: MAX_SHOWN - len(kept)]
                ctype = ""
                if record.http_headers is not None:
                    ctype = record.http_headers.get_header("Content-Type") or ""
                sha = digest.hexdigest()
                return Payload(bytes(kept), size > MAX_SHOWN, sha, sha == capture.sha256, ctype[:200])
    except (OSError, ArchiveLoadFailed, ValueError):
        return None
    return None


def lookup_capture(evidence_dir: Path, capture_id: str) -> Capture | None:
    """A capture from the crawler's manifest (``<evidence>/manifest.sqlite``), read-only.

    Columns as the crawler writes them (crawler/evidence/manifest.py): id, source,
    crawl_id, url, status, fetched_at, sha256, content_type, length, warc_file,
    warc_offset, rendered, screenshot. Missing file, table or row: None.
    """
    path = evidence_dir / "manifest.sqlite"
    if not capture_id or not path.is_file():
        return None
    cols = ("id", "source", "crawl_id", "url", "status", "fetched_at", "sha256", "content_type", "length",
            "warc_file", "warc_offset", "rendered", "screenshot")
    try:
        db = read_only(path, timeout=5)
        try:
            row = db.execute(f"SELECT {','.join(cols)} FROM captures WHERE id = ?", (capture_id,)).fetchone()
        finally:
            db.close()
        if row is None:
            return None
        data = dict(zip(cols, row))
        data["rendered"] = bool(data["rendered"])
        return Capture.model_validate(data)
    except (sqlite3.Error, ValueError):
        return None
