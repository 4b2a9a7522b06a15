"""The dashboard's side of the CAPTCHA handshake defined by ``crawler.captcha``.

The crawl writes ``<data>/captcha/<source>/<id>.json`` (page URL, created time, the
saved image's path) and waits for ``<id>.answer`` next to it; ``narcwatch crawl --now``
answers from the terminal, this module lets an admin answer from the Sources page.
Everything read here is treated as hostile: ids and sources are checked against
strict patterns, the image must lie inside that source's CAPTCHA folder and be a PNG,
JPEG, GIF or SVG by its bytes (an SVG is served with ``default-src 'none'; sandbox``,
so it can never run a script), and answers are printable and short.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from narcwatch.crawler import captcha as handshake

__all__ = ["CaptchaRequest", "IMAGE_TYPES", "MAX_ANSWER", "pending", "read_image", "read_request", "write_answer"]

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_MAX_REQUEST = 64 * 1024
_MAX_IMAGE = 2 * 1024 * 1024
MAX_ANSWER = 200

#: magic bytes -> content type; only these images are ever served.
IMAGE_TYPES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class CaptchaRequest:
    id: str
    source: str
    created_at: str = ""
    image: str | None = None  # absolute path, checked to lie in the source's folder
    prompt: str = ""
    url: str = ""
    answered: bool = False


def _folder(data_dir: Path, source: str) -> Path:
    return data_dir / "captcha" / source


def _load(path: Path, source: str) -> CaptchaRequest | None:
    try:
        if path.stat().st_size > _MAX_REQUEST:
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not _ID.match(raw["id"]):
        return None
    if raw["id"] != path.stem:
        return None
    image = raw.get("image")
    folder = _folder(path.parent.parent.parent, source).resolve()
    if isinstance(image, str):
        try:
            resolved = Path(image).resolve()
        except (OSError, ValueError):
            resolved = None
        image = str(resolved) if resolved is not None and resolved.parent == folder else None
    else:
        image = None
    created = raw.get("created")
    created_at = (datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="seconds")
                  if isinstance(created, (int, float)) and 0 < created < 32503680000 else "")
    return CaptchaRequest(id=raw["id"], source=source, created_at=created_at, image=image,
                          prompt=str(raw.get("prompt", ""))[:500], url=str(raw.get("url", ""))[:2000],
                          answered=path.with_suffix(".answer").exists())


def read_request(data_dir: Path, source: str) -> CaptchaRequest | None:
    """The challenge a crawl of ``source`` waits on: the oldest unanswered one, else the
    newest answered one (so the page can say "answered, waiting for crawler"); None if
    there is none or nothing readable."""
    if not _SOURCE.match(source):
        return None
    try:
        paths = sorted(_folder(data_dir, source).glob("*.json"))
    except OSError:
        return None
    requests = [r for p in paths if (r := _load(p, source)) is not None]
    requests.sort(key=lambda r: (r.created_at, r.id))
    open_ = [r for r in requests if not r.answered]
    if open_:
        return open_[0]
    return requests[-1] if requests else None


def pending(data_dir: Path) -> dict[str, CaptchaRequest]:
    """Every source with a challenge, by source id."""
    out: dict[str, CaptchaRequest] = {}
    try:
        sources = sorted(p.name for p in (data_dir / "captcha").iterdir() if p.is_dir())
    except OSError:
        return out
    for source in sources:
        if (req := read_request(data_dir, source)) is not None:
            out[source] = req
    return out


def _sniff(data: bytes) -> str | None:
    for magic, ctype in IMAGE_TYPES:
        if data.startswith(magic):
            return ctype
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    return None


def read_image(data_dir: Path, request: CaptchaRequest) -> tuple[bytes, str] | None:
    """The challenge image and its type, only if its bytes are an image we serve."""
    if request.image is None:
        return None
    path = Path(request.image)
    if path.parent != _folder(data_dir, request.source).resolve():
        return None
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_IMAGE + 1)
    except OSError:
        return None
    if len(data) > _MAX_IMAGE:
        return None
    ctype = _sniff(data)
    return (data, ctype) if ctype else None


def write_answer(data_dir: Path, request: CaptchaRequest, answer: str, by: str) -> Path:
    """Hand the answer to the waiting crawl (atomically); ValueError on an empty or bad answer.
    Who answered goes to the audit log (the caller), not to the crawler's file."""
    answer = answer.strip()
    if not answer or len(answer) > MAX_ANSWER or any(ord(c) < 32 for c in answer):
        raise ValueError(f"an answer is 1-{MAX_ANSWER} printable characters")
    handshake.answer(data_dir, request.source, request.id, answer)
    return _folder(data_dir, request.source) / f"{request.id}.answer"
