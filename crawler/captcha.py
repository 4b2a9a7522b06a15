"""CAPTCHA handshake: the crawl asks, a human answers; never guessed.

A request is a JSON file ``<data>/captcha/<source>/<id>.json`` naming the page and the
saved image; the answer is ``<id>.answer`` next to it, written by ``narcwatch crawl``'s
prompt or, later, the dashboard. Files (not a socket) so any UI on the machine can
answer and an unanswered request survives a restart.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CaptchaRequest", "answer", "ask", "open_requests", "poll"]


@dataclass(frozen=True)
class CaptchaRequest:
    id: str
    source: str
    url: str
    image: str | None
    created: float
    path: Path
    image_url: str | None = None  # where the page showed the image (a human may open it in Tor Browser)


def _folder(data_root: Path, source: str) -> Path:
    folder = data_root / "captcha" / source
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ask(data_root: Path, source: str, url: str, image: bytes | None, image_ext: str = "png",
        image_url: str | None = None) -> CaptchaRequest:
    folder = _folder(data_root, source)
    cid = uuid.uuid4().hex[:12]
    image_path = None
    if image:
        image_path = folder / f"{cid}.{image_ext if image_ext.isalnum() else 'bin'}"
        image_path.write_bytes(image)
    req = CaptchaRequest(cid, source, url, str(image_path) if image_path else None, time.time(), folder / f"{cid}.json",
                         image_url)
    tmp = req.path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"id": cid, "source": source, "url": url, "image": req.image, "created": req.created,
                               "image_url": image_url}))
    os.replace(tmp, req.path)
    return req


def poll(req: CaptchaRequest) -> str | None:
    ans = req.path.with_suffix(".answer")
    if ans.exists():
        text = ans.read_text(encoding="utf-8").strip()
        return text[:200] or None
    return None


def answer(data_root: Path, source: str, cid: str, text: str) -> None:
    path = _folder(data_root, source) / f"{cid}.answer"
    tmp = path.with_suffix(".answer.tmp")
    tmp.write_text(text.strip(), encoding="utf-8")
    os.replace(tmp, path)


def open_requests(data_root: Path) -> list[CaptchaRequest]:
    out = []
    for path in sorted((data_root / "captcha").glob("*/*.json")):
        if path.with_suffix(".answer").exists():
            continue
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            out.append(CaptchaRequest(d["id"], d["source"], d["url"], d.get("image"), d["created"], path,
                                      d.get("image_url")))
        except (OSError, ValueError, KeyError):
            continue
    return out
