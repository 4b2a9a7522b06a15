"""Watch-lists: wallets, PGP fingerprints, handles or substances an investigator cares about.

A watch-list is a text file, one value a line (``#`` starts a comment, blank lines are
ignored, an optional ``value  # note`` keeps the note), or a CSV with a header whose
``value`` column (or first column) holds the value and an optional ``note`` column.
Values are normalised per kind so ``0xABC..`` and ``0xabc..``, or a fingerprint with
spaces, or ``@Handle`` and ``handle`` match each other.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = ["WatchKind", "Watchlist", "WatchlistError", "load_watchlist", "normalise"]

_MAX_VALUE = 512


class WatchKind(StrEnum):
    WALLET = "wallet"
    PGP = "pgp_fingerprint"
    HANDLE = "handle"
    SUBSTANCE = "substance"
    ANY = "any"


class WatchlistError(ValueError):
    pass


def normalise(value: Any, kind: WatchKind = WatchKind.ANY) -> str:
    """Canonical form for comparison; total (garbage gives a string that matches nothing)."""
    s = str(value).strip()[:_MAX_VALUE]
    if kind == WatchKind.PGP:
        s = "".join(s.split()).upper()
        return s.removeprefix("0X")
    if kind == WatchKind.WALLET:
        low = s.lower()
        # bech32 (bc1/ltc1/tb1) and hex (0x) addresses are case-insensitive; base58 and
        # Monero addresses are case-sensitive and stay as written.
        if low.startswith(("bc1", "tb1", "ltc1", "bcrt1", "0x")):
            return low
        return s
    if kind in (WatchKind.HANDLE, WatchKind.ANY):
        return s.lstrip("@").casefold()
    return " ".join(s.casefold().split())


@dataclass
class Watchlist:
    name: str
    kind: WatchKind
    entries: dict[str, str] = field(default_factory=dict)  # normalised value -> note

    def __contains__(self, value: object) -> bool:
        return normalise(value, self.kind) in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def hits(self, values: Iterable[Any]) -> list[str]:
        """Normalised values from ``values`` that are on the list, in first-seen order."""
        seen: dict[str, None] = {}
        for v in values:
            if v is None or isinstance(v, (dict, list)):
                continue
            n = normalise(v, self.kind)
            if n in self.entries:
                seen.setdefault(n)
        return list(seen)


def _parse_lines(text: str) -> Iterable[tuple[int, str, str]]:
    for lineno, raw in enumerate(text.splitlines(), 1):
        value, _, note = raw.partition("#")
        value = value.strip()
        if value:
            yield lineno, value, note.strip()


def _parse_csv(text: str) -> Iterable[tuple[int, str, str]]:
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None:
        return
    cols = [h.strip().lower() for h in header]
    vi = cols.index("value") if "value" in cols else 0
    ni = cols.index("note") if "note" in cols else None
    for lineno, row in enumerate(rows, 2):
        if vi >= len(row) or not row[vi].strip():
            continue
        note = row[ni].strip() if ni is not None and ni < len(row) else ""
        yield lineno, row[vi].strip(), note


def load_watchlist(path: str | Path, kind: WatchKind | str = WatchKind.ANY, name: str | None = None) -> Watchlist:
    """Read a watch-list file; raises ``WatchlistError`` naming the file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WatchlistError(f"{p}: cannot read watch-list: {exc}") from None
    k = WatchKind(kind)
    wl = Watchlist(name or p.name, k)
    rows = _parse_csv(text) if p.suffix.lower() == ".csv" else _parse_lines(text)
    for lineno, value, note in rows:
        if len(value) > _MAX_VALUE:
            raise WatchlistError(f"{p}:{lineno}: value longer than {_MAX_VALUE} characters")
        wl.entries.setdefault(normalise(value, k), note)
    return wl
