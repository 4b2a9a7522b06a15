"""A minimal whitespace tokenizer for the extraction pipeline, and ``raw_text(doc)``.

No narcwatch component reads tokens: every one matches on the raw string (wallets, PGP
blocks, prices) or on the normalised text with its offset map (substances). spaCy's
rule-based tokenizer (prefix/suffix/infix regexes per word) cost more than all the
components together, so the pipeline registers this one the spaCy way
(``@registry.tokenizers``) and keeps ``Doc``, the component architecture and the doc
extensions. It splits on the space character only and keeps ``doc.text`` identical to
the input (runs of spaces become whitespace tokens, as in spaCy), so a later component
that wants spaCy tokens can still swap the tokenizer back in ``build_pipeline``.

``raw_text(doc)`` is what components read instead of ``doc.text``: spaCy rebuilds
``doc.text`` by joining every token on each access, which cost ~0.1 ms per component
per listing; the tokenizer keeps the input string in ``doc.user_data`` for free.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spacy.tokens import Doc
from spacy.util import registry
from spacy.vocab import Vocab

__all__ = ["RAW_KEY", "WhitespaceTokenizer", "create_whitespace_tokenizer", "raw_text"]

RAW_KEY = "nw_raw"


class WhitespaceTokenizer:
    """Split on " " only; ``doc.text == text`` for every input (tested with hypothesis)."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        parts = text.split(" ")
        if parts[-1] == "":  # a trailing space belongs to the previous token (or "" is empty)
            parts.pop()
            spaces = [True] * len(parts)
        else:
            spaces = [True] * len(parts)
            spaces[-1] = False
        # An empty part is a second space in a run: a " " token with no trailing space.
        words = [p if p else " " for p in parts]
        for i, p in enumerate(parts):
            if not p:
                spaces[i] = False
        doc = Doc(self.vocab, words=words, spaces=spaces)
        doc.user_data[RAW_KEY] = text
        return doc

    def pipe(self, texts: Any, batch_size: int = 1000) -> Any:
        for text in texts:
            yield self(text)

    # spaCy serialises the tokenizer with the pipeline; this one has no state of its own.
    def to_bytes(self, **kwargs: Any) -> bytes:
        return b""

    def from_bytes(self, data: bytes, **kwargs: Any) -> WhitespaceTokenizer:
        return self

    def to_disk(self, path: Any, **kwargs: Any) -> None:
        return None

    def from_disk(self, path: Any, **kwargs: Any) -> WhitespaceTokenizer:
        return self


@registry.tokenizers("narcwatch.whitespace_tokenizer.v1")
def create_whitespace_tokenizer() -> Callable[[Any], WhitespaceTokenizer]:
    def make(nlp: Any) -> WhitespaceTokenizer:
        return WhitespaceTokenizer(nlp.vocab)

    return make


def raw_text(doc: Doc) -> str:
    """The input string of ``doc`` without spaCy's per-access rebuild when it is known."""
    raw = doc.user_data.get(RAW_KEY)
    if isinstance(raw, str):
        return raw
    ctx = doc._.nw_context if Doc.has_extension("nw_context") else None
    raw = ctx.get("text") if isinstance(ctx, dict) else None
    if isinstance(raw, str) and len(raw) == len(doc.text):
        return raw
    return doc.text
