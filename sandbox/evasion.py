"""Spellings vendors use to slip a name past keyword filters, applied deterministically.

Each function maps a plain name to a disguised surface form; the ground truth records
the kind and the exact surface text so extractors can be scored per evasion kind.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["EVASIONS", "evade"]

_HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і", "y": "у",
               "A": "А", "E": "Е", "O": "О", "P": "Р", "C": "С", "M": "М", "T": "Т", "H": "Н", "K": "К"}
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
ZWSP = "\u200b"


def _positions(text: str, table: dict[str, str]) -> list[int]:
    return [i for i, c in enumerate(text) if c in table]


def homoglyph(text: str, r: random.Random) -> str:
    pos = _positions(text, _HOMOGLYPHS)
    if not pos:
        return text
    chosen = set(r.sample(pos, min(len(pos), r.randint(1, 2))))
    return "".join(_HOMOGLYPHS[c] if i in chosen else c for i, c in enumerate(text))


def leetspeak(text: str, r: random.Random) -> str:
    pos = _positions(text.lower(), _LEET)
    if not pos:
        return text
    chosen = set(r.sample(pos, min(len(pos), r.randint(1, 3))))
    return "".join(_LEET[c.lower()] if i in chosen else c for i, c in enumerate(text))


def spaced(text: str, r: random.Random) -> str:
    sep = r.choice([" ", ".", "-", " "])
    return sep.join(text)


def zero_width(text: str, r: random.Random) -> str:
    if len(text) < 2:
        return text
    cuts = sorted(r.sample(range(1, len(text)), min(len(text) - 1, r.randint(1, 3))))
    out, last = [], 0
    for c in cuts:
        out += [text[last:c], ZWSP]
        last = c
    return "".join(out) + text[last:]


def misspelling(text: str, r: random.Random) -> str:
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(letters) < 4:
        return text + text[-1]
    i = r.choice(letters[1:-1])
    how = r.choice(["drop", "double", "swap"])
    if how == "drop":
        return text[:i] + text[i + 1:]
    if how == "double":
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1] + text[i] + text[i + 2:] if text[i + 1] != text[i] else text[:i] + text[i + 1:]


EVASIONS: dict[str, Callable[[str, random.Random], str]] = {
    "homoglyph": homoglyph, "leetspeak": leetspeak, "spaced": spaced,
    "zero_width": zero_width, "misspelling": misspelling,
}


def evade(text: str, kind: str, r: random.Random) -> str:
    """``text`` disguised with ``kind``; always differs from ``text``."""
    out = EVASIONS[kind](text, r)
    return out if out != text else text + ZWSP
