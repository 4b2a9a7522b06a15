"""Re-hash the archive: every manifest entry against the WARC record it points to."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from narcwatch.crawler.evidence.archive import sha256_label
from narcwatch.crawler.evidence.manifest import Manifest
from narcwatch.crawler.models import Capture

__all__ = ["Mismatch", "read_payload", "verify_archive"]


@dataclass(frozen=True)
class Mismatch:
    capture: str
    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.capture} ({self.file}): {self.problem}"


def read_payload(root: Path, capture: Capture) -> tuple[bytes, dict[str, str]]:
    """Payload and WARC headers of a capture's response record; raises on unreadable data."""
    with open(root / capture.warc_file, "rb") as fh:
        fh.seek(capture.warc_offset)
        for record in ArchiveIterator(fh):
            headers = dict(record.rec_headers.headers)
            return record.raw_stream.read(), headers  # as transferred: content-encoding not undone
    raise ValueError("no record at offset")


def verify_archive(root: str | Path) -> Iterator[Mismatch | Capture]:
    """Yields each verified capture, or a ``Mismatch`` for each problem found."""
    root = Path(root)
    manifest = Manifest(root / "manifest.sqlite")
    try:
        for cap in manifest:
            try:
                payload, headers = read_payload(root, cap)
            except FileNotFoundError:
                yield Mismatch(cap.id, cap.warc_file, "WARC file missing")
                continue
            except Exception as exc:  # a corrupt gzip member or truncated file: report, keep going
                yield Mismatch(cap.id, cap.warc_file, f"unreadable record: {type(exc).__name__}: {exc}")
                continue
            digest = hashlib.sha256(payload).digest()
            if headers.get("X-Narcwatch-Capture") != cap.id:
                yield Mismatch(cap.id, cap.warc_file, f"record at offset {cap.warc_offset} is not this capture")
            elif digest.hex() != cap.sha256:
                yield Mismatch(cap.id, cap.warc_file, f"payload sha256 {digest.hex()} != manifest {cap.sha256}")
            elif headers.get("WARC-Payload-Digest") != sha256_label(digest):
                yield Mismatch(cap.id, cap.warc_file, "WARC-Payload-Digest header does not match payload")
            else:
                yield cap
    finally:
        manifest.close()
