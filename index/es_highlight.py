"""Highlights computed from the verbatim title/text and the query's text nodes.

The search-engine index holds pre-tokenised text (so matching equals SQLite FTS5), which
means the engine's highlighter would return normalised text. Marking the original here
keeps what the investigator reads exactly what was captured, with the same HL markers
and the same token semantics (``tokenize``) as matching.
"""

from __future__ import annotations

import re
from typing import Any

from narcwatch.index.query import Text, tokenize
from narcwatch.index.results import HL_END, HL_START

__all__ = ["highlight"]

_WORD = re.compile(r"[^\W_]+")
MAX_SCAN = 100_000  # characters of one field examined (hostile text can be huge)
SNIPPET_WORDS = 16


def _words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, token) per token, with the span of the original word it came from."""
    out = []
    for m in _WORD.finditer(text, 0, min(len(text), MAX_SCAN)):
        for tok in tokenize(m.group()):
            out.append((m.start(), m.end(), tok))
    return out


def _regions(words: list[tuple[int, int, str]], nodes: list[Text]) -> list[tuple[int, int, int, int]]:
    """(char start, char end, first word, last word) of every phrase match."""
    toks = [w[2] for w in words]
    found = []
    for node in nodes:
        want = node.tokens
        n = len(want)
        for i in range(len(toks) - n + 1):
            if toks[i:i + n - 1] != list(want[:-1]):
                continue
            last = toks[i + n - 1]
            if last == want[-1] or (node.prefix and last.startswith(want[-1])):
                found.append((words[i][0], words[i + n - 1][1], i, i + n - 1))
    found.sort()
    merged: list[tuple[int, int, int, int]] = []
    for r in found:
        if merged and r[0] <= merged[-1][1]:
            p = merged[-1]
            merged[-1] = (p[0], max(p[1], r[1]), p[2], max(p[3], r[3]))
        else:
            merged.append(r)
    return merged


def _mark(text: str, regions: list[tuple[int, int, int, int]], start: int, end: int) -> str:
    out, pos = [], start
    for a, b, _, _ in regions:
        if b <= start or a >= end:
            continue
        out.append(text[pos:a])
        out.append(HL_START + text[a:b] + HL_END)
        pos = b
    out.append(text[pos:end])
    return "".join(out)


def highlight(doc: dict[str, Any], texts: list[Text]) -> dict[str, str]:
    """``{"title": whole title marked, "text": a snippet of ~16 words around the first hit}``."""
    out: dict[str, str] = {}
    for field in ("title", "text"):
        nodes = [t for t in texts if field in t.fields]
        value = doc.get(field)
        if not nodes or not isinstance(value, str) or not value:
            continue
        words = _words(value)
        regions = _regions(words, nodes)
        if not regions:
            continue
        if field == "title":
            out[field] = _mark(value, regions, 0, len(value))
            continue
        first = regions[0][2]
        lo = max(0, first - SNIPPET_WORDS // 4)
        hi = min(len(words) - 1, lo + SNIPPET_WORDS - 1)
        start = 0 if lo == 0 else words[lo][0]
        end = len(value) if hi == len(words) - 1 and words[hi][1] >= min(len(value), MAX_SCAN) else words[hi][1]
        out[field] = ("…" if start else "") + _mark(value, regions, start, end) + ("…" if end < len(value) else "")
    return out
