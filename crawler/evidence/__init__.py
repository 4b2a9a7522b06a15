"""The evidence archive: every response in WARC files, a manifest, verification."""

from narcwatch.crawler.evidence.archive import EvidenceArchive, capture_id
from narcwatch.crawler.evidence.manifest import Manifest
from narcwatch.crawler.evidence.verify import Mismatch, verify_archive

__all__ = ["EvidenceArchive", "Manifest", "Mismatch", "capture_id", "verify_archive"]
