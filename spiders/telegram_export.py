"""Import a Telegram Desktop JSON export (``result.json``) as Posts, like a crawl would.

The export file itself is archived as one capture (its sha256 is the evidence every
message cites); messages become ``Post`` items, onion/I2P links in them become
``candidate_source`` items, all spooled under a crawl id derived from the file's hash
so importing the same file twice adds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from narcwatch.crawler.evidence.archive import EvidenceArchive
from narcwatch.crawler.models import Post
from narcwatch.crawler.netguard import is_dark_host
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.spool import Spool
from narcwatch.crawler.spoolitems import CandidateSource
from narcwatch.spiders._fields import ONION_RE, parse_when

__all__ = ["import_export", "iter_messages", "message_text"]


def message_text(text: Any) -> tuple[str, list[str]]:
    """Flatten ``text`` (a string or a list of strings and entity dicts) -> (text, links)."""
    if isinstance(text, str):
        return text, []
    parts: list[str] = []
    links: list[str] = []
    if isinstance(text, list):
        for part in text[:10_000]:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                value = str(part.get("text", ""))
                parts.append(value)
                if part.get("type") == "text_link" and isinstance(part.get("href"), str):
                    links.append(part["href"])
                elif part.get("type") == "link":
                    links.append(value)
    return "".join(parts), links


def iter_messages(export: dict[str, Any], source_id: str, channel: str) -> Iterator[Post]:
    for msg in export.get("messages") or []:
        if not isinstance(msg, dict) or msg.get("type") != "message":
            continue
        text, links = message_text(msg.get("text"))
        for ent in msg.get("text_entities") or []:
            if isinstance(ent, dict) and ent.get("type") in ("link", "text_link"):
                link = ent.get("href") or ent.get("text")
                if isinstance(link, str) and link not in links:
                    links.append(link)
        if not text.strip():
            continue
        mid = str(msg.get("id", ""))
        yield Post(source=source_id, url=f"https://t.me/{channel}/{mid}", site_id=mid or None, author=msg.get("from"),
                   thread=channel, text=text, posted_at=parse_when(str(msg.get("date", ""))), links=links[:200])


def import_export(path: Path, data: DataDir, source_id: str = "telegram-import") -> dict[str, int]:
    raw = path.read_bytes()
    export = json.loads(raw)
    if isinstance(export, list):  # a bare "messages" array, as some tools save it
        export = {"name": path.stem, "messages": export}
    if not isinstance(export, dict):
        raise ValueError(f"{path}: not a Telegram Desktop export (top level is not an object or list)")
    channel = str(export.get("name") or export.get("id") or path.stem).replace(" ", "_")[:100]
    digest = hashlib.sha256(raw).hexdigest()
    crawl_id = f"import-{digest[:16]}"
    archive = EvidenceArchive(data.evidence, source_id, crawl_id)
    try:
        cap = archive.record(url=path.resolve().as_uri(), method="GET", request_headers=[], request_body=b"",
                             status=200, response_headers=[(b"Content-Type", b"application/json")], body=raw)
    finally:
        archive.close()
    rows: list[tuple[str, str, dict[str, Any], str]] = []
    posts = candidates = 0
    for post in iter_messages(export, source_id, channel):
        post.crawl_id, post.capture_id, post.capture_sha256 = crawl_id, cap.id, cap.sha256
        rows.append((f"{crawl_id}:post:{post.key}", "post", post.model_dump(mode="json"), source_id))
        posts += 1
        hosts = {urlsplit(h).hostname or "" for h in post.links} | {m.group(0).lower() for m in ONION_RE.finditer(post.text)}
        for host in sorted(h for h in hosts if is_dark_host(h)):
            cand = CandidateSource(source=source_id, url=f"http://{host}/", host=host, found_in=post.url,
                                   crawl_id=crawl_id, capture_id=cap.id)
            rows.append((f"{crawl_id}:candidate_source:{host}", "candidate_source", cand.model_dump(mode="json"), source_id))
            candidates += 1
    with Spool(data.spool) as spool:
        new = spool.put_many(rows)
    return {"messages": posts, "candidate_sources": candidates, "new": new, "capture": cap.id}  # type: ignore[dict-item]
