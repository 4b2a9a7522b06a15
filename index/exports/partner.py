"""Partner intelligence in, alert watch-lists out.

Reads a STIX 2.x bundle (indicator patterns and SCOs), a MISP event (attributes and
objects, as MISP exports them with or without the ``Event`` wrapper) or a plain list
(one value a line, ``#`` comments) and sorts what it finds into the kinds the alert
watch-lists know (``index/alerts/watchlists.py``): wallets, PGP fingerprints, handles.
``write_watchlists`` merges them into watch-list files (``value  # note`` lines) that a
rule references with ``watchlist: {file: ..., kind: ...}``. Input is untrusted: bounded
sizes, bounded regexes, no value longer than the watch-list limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from narcwatch.index.alerts.watchlists import WatchKind, load_watchlist, normalise

__all__ = ["Imported", "classify", "read_partner_file", "write_watchlists"]

_MAX_BYTES = 50_000_000
_MAX_VALUE = 512
# [type:path = 'value'] comparisons in a STIX pattern; the quoted value allows \' escapes.
_COMPARISON = re.compile(r"([a-z0-9][a-z0-9-]{0,60}):([a-z0-9_.\[\]*'-]{1,80})\s{0,8}=\s{0,8}'((?:[^'\\]|\\.){1,512})'")
_PGP = re.compile(r"(?:0x)?[0-9A-Fa-f]{40}")
_HEX40 = re.compile(r"[0-9A-Fa-f ]{40,60}")
_WALLET = re.compile(r"(?:bc1|ltc1|tb1)[02-9ac-hj-np-z]{20,90}|[13LMT][1-9A-HJ-NP-Za-km-z]{25,40}"
                     r"|[48][1-9A-HJ-NP-Za-km-z]{94,105}|0x[0-9a-fA-F]{40}")

_WALLET_TYPES = {"btc", "xmr", "bitcoin", "monero", "ltc", "eth", "usdt", "trx"}
_HANDLE_TYPES = {"telegram", "wickr", "session", "threema", "signal", "jabber-id", "xmpp", "whatsapp"}


@dataclass(frozen=True)
class Imported:
    kind: WatchKind
    value: str
    note: str


def classify(value: str, hint: str = "") -> WatchKind | None:
    """The watch-list kind of one value (``hint``: the type the partner gave it)."""
    v = value.strip()
    if not v or len(v) > _MAX_VALUE:
        return None
    h = hint.lower()
    if "pgp" in h or "fingerprint" in h:
        return WatchKind.PGP if _HEX40.fullmatch(v) or _PGP.fullmatch(v) else None
    if h in _WALLET_TYPES or "wallet" in h or "coin" in h or "address" == h:
        return WatchKind.WALLET
    if h in _HANDLE_TYPES or "account" in h or h in ("handle", "username", "user_id", "account_login"):
        return WatchKind.HANDLE
    if _PGP.fullmatch(v.replace(" ", "")):
        return WatchKind.PGP
    if _WALLET.fullmatch(v):
        return WatchKind.WALLET
    if v.startswith("@") or re.fullmatch(r"[\w.\-]{2,64}", v):
        return WatchKind.HANDLE
    return None


def _stix(doc: dict[str, Any], label: str) -> Iterator[Imported]:
    for obj in doc.get("objects") or []:
        if not isinstance(obj, dict):
            continue
        t = str(obj.get("type", ""))
        note = f"{label} {obj.get('id', t)}"
        if t == "indicator" and isinstance(obj.get("pattern"), str):
            for otype, path, value in _COMPARISON.findall(obj["pattern"][:20_000]):
                value = value.replace("\\'", "'")
                kind = classify(value, f"{otype} {path}" if "wallet" in otype or "pgp" in otype else
                                ("account" if otype == "user-account" else ""))
                if kind:
                    yield Imported(kind, value, f"{note} {obj.get('name', '')}".strip())
        elif t == "x-narcwatch-wallet" and obj.get("address"):
            yield Imported(WatchKind.WALLET, str(obj["address"]), note)
        elif t == "x-narcwatch-pgp-key" and obj.get("fingerprint"):
            yield Imported(WatchKind.PGP, str(obj["fingerprint"]), note)
        elif t == "user-account" and (obj.get("account_login") or obj.get("user_id")):
            yield Imported(WatchKind.HANDLE, str(obj.get("account_login") or obj.get("user_id")), note)
        elif t == "email-addr" and obj.get("value"):
            yield Imported(WatchKind.HANDLE, str(obj["value"]), note)


def _misp_attr(a: dict[str, Any], label: str, obj_name: str = "") -> Iterator[Imported]:
    value, atype = str(a.get("value") or ""), str(a.get("type") or "")
    comment = str(a.get("comment") or "")
    rel = str(a.get("object_relation") or "")
    hint = "pgp" if "pgp" in comment.lower() or atype.startswith("pgp") else \
        (atype if atype in _WALLET_TYPES else "wallet" if obj_name == "coin-address" and rel == "address" else
         "account" if obj_name.endswith("-account") and rel in ("username", "id") else
         atype if atype in ("email-src", "email-dst", "email") else "")
    if obj_name == "coin-address" and rel != "address":
        return
    if hint.startswith("email"):
        hint = "handle"
    kind = classify(value, hint) if hint or atype == "text" else None
    if kind:
        yield Imported(kind, value, f"{label} {atype} {comment}".strip()[:200])


def _misp(doc: dict[str, Any], label: str) -> Iterator[Imported]:
    ev = doc.get("Event", doc)
    for a in ev.get("Attribute") or []:
        if isinstance(a, dict):
            yield from _misp_attr(a, label)
    for o in ev.get("Object") or []:
        if isinstance(o, dict):
            for a in o.get("Attribute") or []:
                if isinstance(a, dict):
                    yield from _misp_attr(a, label, str(o.get("name") or ""))


def _plain(text: str, label: str) -> Iterator[Imported]:
    for lineno, raw in enumerate(text.splitlines(), 1):
        value, _, note = raw.partition("#")
        value = value.strip().strip(",;")
        kind = classify(value)
        if kind:
            yield Imported(kind, value, f"{label}:{lineno} {note.strip()}".strip())


def read_partner_file(path: str | Path) -> list[Imported]:
    """Everything importable in ``path``; raises ``ValueError`` for an unreadable file."""
    p = Path(path)
    if p.stat().st_size > _MAX_BYTES:
        raise ValueError(f"{p}: larger than {_MAX_BYTES} bytes")
    text = p.read_text(encoding="utf-8", errors="replace")
    label = p.name
    doc: Any = None
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{p}: not valid JSON: {exc}") from None
    if isinstance(doc, dict) and doc.get("type") == "bundle":
        found: Iterable[Imported] = _stix(doc, label)
    elif isinstance(doc, dict) and ("Event" in doc or "Attribute" in doc or "Object" in doc):
        found = _misp(doc, label)
    elif doc is not None:
        raise ValueError(f"{p}: JSON that is neither a STIX bundle nor a MISP event")
    else:
        found = _plain(text, label)
    seen: dict[tuple[WatchKind, str], Imported] = {}
    for imp in found:
        seen.setdefault((imp.kind, normalise(imp.value, imp.kind)), imp)
    return list(seen.values())


def write_watchlists(items: Iterable[Imported], directory: str | Path, prefix: str = "partner") -> dict[WatchKind, tuple[Path, int]]:
    """Merge ``items`` into ``<prefix>-<kind>.txt`` files; returns per kind (file, values added)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    by_kind: dict[WatchKind, list[Imported]] = {}
    for it in items:
        by_kind.setdefault(it.kind, []).append(it)
    out: dict[WatchKind, tuple[Path, int]] = {}
    for kind, rows in sorted(by_kind.items()):
        path = d / f"{prefix}-{kind.value.replace('_', '-')}.txt"
        existing = load_watchlist(path, kind).entries if path.exists() else {}
        new = [r for r in rows if normalise(r.value, kind) not in existing]
        with path.open("a", encoding="utf-8") as fh:
            if not existing and path.stat().st_size == 0:
                fh.write(f"# imported partner intelligence ({kind.value}); one value a line\n")
            for r in new:
                note = " ".join(r.note.replace("#", " ").split())
                fh.write(f"{r.value.strip()}  # {note}\n" if note else f"{r.value.strip()}\n")
        out[kind] = (path, len(new))
    return out
