"""Highlight query terms in scraped text without ever producing HTML.

The template wraps the matched segments in ``<mark>`` and escapes every segment, so a
title holding markup stays text. Plain ``str.find`` over a case-folded copy: linear in
the text per term, no regex built from user input.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MAX_TERMS", "query_terms", "segments"]

MAX_TERMS = 16
_MAX_TEXT = 2000
_OPERATORS = {"and", "or", "not", "to"}


def query_terms(query: str) -> tuple[str, ...]:
    """The free-text words of a query-language string (not ``field:value``, not operators)."""
    terms: list[str] = []
    for raw in query.replace('"', " ").replace("(", " ").replace(")", " ").split():
        word = raw.strip("+-*?~^")
        if not word or ":" in raw or word.lower() in _OPERATORS or raw.startswith("-"):
            continue
        if len(word) >= 2 and word.lower() not in terms:
            terms.append(word.lower())
        if len(terms) >= MAX_TERMS:
            break
    return tuple(terms)


def segments(text: str, terms: Iterable[str]) -> list[tuple[str, bool]]:
    """Split ``text`` into (segment, is_match) pieces covering it exactly (capped length)."""
    text = text[:_MAX_TEXT]
    folded = text.lower()
    if len(folded) != len(text):  # a case fold that changes length would shift offsets
        return [(text, False)] if text else []
    marks = [False] * len(text)
    for term in terms:
        term = term.lower()
        if not term:
            continue
        start = folded.find(term)
        while start != -1:
            for i in range(start, start + len(term)):
                marks[i] = True
            start = folded.find(term, start + len(term))
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and marks[j] == marks[i]:
            j += 1
        out.append((text[i:j], marks[i]))
        i = j
    return out
