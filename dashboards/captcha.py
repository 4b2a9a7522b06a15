"""The CAPTCHA handshake between a waiting crawl and a human at the dashboard.

Files under ``<data>/captcha/`` (one pair per source; the source id is the file stem):

``<source>.request.json`` — written by the crawler when a crawl stops at a CAPTCHA::

    {"id": "a1b2c3",                       # unique per challenge (required, [A-Za-z0-9_-]{1,64})
     "source": "some-market",
     "created_at": "2026-01-05T10:00:00+00:00",
     "image": "some-market.png",            # file name in the same folder (png, jpeg or gif), optional
     "prompt": "type the characters",       # optional text the site shows
     "url": "http://....onion/login"}       # shown as text only, never fetched

``<source>.answer.json`` — written by the dashboard when a human answers::

    {"request_id": "a1b2c3", "answer": "x7k2p", "answered_by": "alice",
     "answered_at": "2026-01-05T10:01:12+00:00"}

The answer is written to a temporary file and renamed into place, so the crawler never
reads half a file. The crawler must check ``request_id`` against the challenge it is
waiting on (an answer to an older challenge is stale), then delete both files. The
dashboard never writes the request file and never deletes anything.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["CaptchaRequest", "IMAGE_TYPES", "pending", "read_image", "read_request", "write_answer"]

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
    image: str | None = None
    prompt: str = ""
    url: str = ""
    answered: bool = False


def folder(data_dir: Path) -> Path:
    return data_dir / "captcha"


def read_request(data_dir: Path, source: str) -> CaptchaRequest | None:
    """The pending challenge for ``source``, or None (absent, unreadable or malformed)."""
    if not _SOURCE.match(source):
        return None
    path = folder(data_dir) / f"{source}.request.json"
    try:
        if path.stat().st_size > _MAX_REQUEST:
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not _ID.match(raw["id"]):
        return None
    image = raw.get("image")
    if not (isinstance(image, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", image) and not image.startswith(".")):
        image = None
    answer = _read_answer(data_dir, source)
    return CaptchaRequest(
        id=raw["id"], source=source,
        created_at=str(raw.get("created_at", ""))[:40],
        image=image,
        prompt=str(raw.get("prompt", ""))[:500],
        url=str(raw.get("url", ""))[:2000],
        answered=bool(answer and answer.get("request_id") == raw["id"]),
    )


def _read_answer(data_dir: Path, source: str) -> dict[str, object] | None:
    try:
        raw = json.loads((folder(data_dir) / f"{source}.answer.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def pending(data_dir: Path) -> dict[str, CaptchaRequest]:
    """Every source with a challenge file, by source id."""
    out: dict[str, CaptchaRequest] = {}
    try:
        names = sorted(p.name for p in folder(data_dir).glob("*.request.json"))
    except OSError:
        return out
    for name in names:
        source = name.removesuffix(".request.json")
        if (req := read_request(data_dir, source)) is not None:
            out[source] = req
    return out


def read_image(data_dir: Path, request: CaptchaRequest) -> tuple[bytes, str] | None:
    """The challenge image and its type, only if its bytes are a PNG, JPEG or GIF."""
    if request.image is None:
        return None
    try:
        with (folder(data_dir) / request.image).open("rb") as f:
            data = f.read(_MAX_IMAGE + 1)
    except OSError:
        return None
    if len(data) > _MAX_IMAGE:
        return None
    for magic, ctype in IMAGE_TYPES:
        if data.startswith(magic):
            return data, ctype
    return None


def write_answer(data_dir: Path, request: CaptchaRequest, answer: str, by: str) -> Path:
    """Atomically write the answer for ``request``; raises ValueError on an empty or long answer."""
    answer = answer.strip()
    if not answer or len(answer) > MAX_ANSWER or any(ord(c) < 32 for c in answer):
        raise ValueError(f"an answer is 1-{MAX_ANSWER} printable characters")
    target = folder(data_dir) / f"{request.source}.answer.json"
    body = json.dumps({"request_id": request.id, "answer": answer, "answered_by": by,
                       "answered_at": datetime.now(timezone.utc).isoformat()}, ensure_ascii=False)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{request.source}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
