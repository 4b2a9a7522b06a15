"""A sandbox channel as a Telegram Desktop JSON export (``result.json``).

Same structure as a real export (see ``shared/data/telegram/``): ``name``, ``type``
(``public_channel``), ``id`` and ``messages``, each with ``id``, ``type``, ``date`` (local
ISO time without zone), ``date_unixtime`` (a string), ``from``, ``from_id``
(``channel<id>``), ``text`` (a plain string, or a list mixing strings and entity objects
when the message has mentions or links) and ``text_entities`` (always a list).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from narcwatch.sandbox._rng import h64
from narcwatch.sandbox.clock import at
from narcwatch.sandbox.sites.telegram import TelegramPreview
from narcwatch.sandbox.truth import build_sites
from narcwatch.sandbox.world import World

__all__ = ["export", "write_export"]

# @mentions and http(s) links; bounded repetitions, no nesting.
_ENTITY = re.compile(r"(?P<mention>@[A-Za-z0-9_]{3,32})|(?P<link>https?://[^\s<>\"']{1,200})")


def _entities(text: str) -> list[dict[str, str]]:
    out, last = [], 0
    for m in _ENTITY.finditer(text):
        if m.start() > last:
            out.append({"type": "plain", "text": text[last:m.start()]})
        out.append({"type": "mention" if m.group("mention") else "link", "text": m.group(0)})
        last = m.end()
    if last < len(text):
        out.append({"type": "plain", "text": text[last:]})
    return out


def export(world: World, channel: str, hours: float = 0.0) -> dict[str, object]:
    soc = world.social
    if channel not in soc.channels:
        raise KeyError(f"unknown channel {channel!r}; available: {', '.join(sorted(soc.channels))}")
    site = next(s for s in build_sites(world) if isinstance(s, TelegramPreview))
    person = soc.channels[channel]
    chan_id = 1_000_000_000 + h64(world.seed, "chan-id", channel) % 900_000_000
    messages = []
    for k in site.visible(channel, hours):
        m = soc.message(channel, k)
        when = at(m.posted)
        ents = _entities(m.text)
        text: object = m.text if all(e["type"] == "plain" for e in ents) else [e["text"] if e["type"] == "plain" else e for e in ents]
        messages.append({"id": m.msg_id, "type": "message", "date": when.strftime("%Y-%m-%dT%H:%M:%S"),
                         "date_unixtime": str(int(when.timestamp())), "from": person.handle, "from_id": f"channel{chan_id}",
                         "text": text, "text_entities": ents})
    return {"name": person.handle, "type": "public_channel", "id": chan_id, "messages": messages}


def write_export(path: str | Path, world: World, channel: str, hours: float = 0.0) -> int:
    data = export(world, channel, hours)
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return len(data["messages"])  # type: ignore[arg-type]
