"""Handle similarity: the same seller writes ``DarkPanda``, ``dark_panda`` and ``D4rkP4nda_official``.

``fold`` maps a handle to a comparison key: case, separators, leetspeak digits and common
storefront suffixes (``shop``, ``official``, a trailing number) are folded away.
``similarity`` is Jaro-Winkler on the folded keys. Both are total and linear-ish in the
handle length (handles are capped at 64 characters before comparison).
"""

from __future__ import annotations

import unicodedata

__all__ = ["fold", "jaro_winkler", "similarity"]

_MAX = 64
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"})
_SUFFIXES = ("official", "store", "shop", "team", "eu", "us", "uk", "real", "bot", "support")


def fold(handle: str) -> str:
    """Comparison key for a handle; ``""`` for garbage."""
    s = unicodedata.normalize("NFKC", str(handle))[:_MAX].casefold().strip().lstrip("@")
    s = s.rstrip("0123456789")  # a trailing counter is what sites add to a taken handle
    s = s.translate(_LEET)
    s = "".join(ch for ch in s if ch.isalnum())
    changed = True
    while changed and s:
        changed = False
        for suf in _SUFFIXES:
            if s.endswith(suf) and len(s) > len(suf) + 2:
                s, changed = s[: -len(suf)], True
    return s


def jaro_winkler(a: str, b: str, prefix_scale: float = 0.1) -> float:
    """Jaro-Winkler similarity in [0, 1] (quadratic in a 64-char bound: at most 4,096 steps)."""
    a, b = a[:_MAX], b[:_MAX]
    if a == b:
        return 1.0 if a else 0.0
    la, lb = len(a), len(b)
    if not la or not lb:
        return 0.0
    window = max(0, max(la, lb) // 2 - 1)
    used_b = [False] * lb
    match_a: list[str] = []
    for i, ch in enumerate(a):
        for j in range(max(0, i - window), min(lb, i + window + 1)):
            if not used_b[j] and b[j] == ch:
                used_b[j] = True
                match_a.append(ch)
                break
    m = len(match_a)
    if not m:
        return 0.0
    match_b = [b[j] for j in range(lb) if used_b[j]]
    transpositions = sum(x != y for x, y in zip(match_a, match_b)) / 2
    jaro = (m / la + m / lb + (m - transpositions) / m) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4]):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * prefix_scale * (1 - jaro)


def similarity(a: str, b: str) -> float:
    """Similarity of two handles after folding (1.0: the same storefront name)."""
    fa, fb = fold(a), fold(b)
    if not fa or not fb:
        return 0.0
    return jaro_winkler(fa, fb)
