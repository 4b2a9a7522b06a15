"""The extraction pipeline: ``spacy.blank`` plus narcwatch's registered components.

Contract between components (each lives in its own module and registers itself with
``@Language.factory``):

* ``doc._.nw_norm`` - the evasion-normalised text with a map back to raw offsets, set
  by ``narcwatch_normalize``; components that match words read it, components that
  match exact strings (wallets, PGP blocks) read ``doc.text``.
* ``doc._.nw_facts`` - the ``Extraction`` being built; each component appends its facts
  with offsets into ``doc.text``.
* ``raw_text(doc)`` (``narcwatch.extract.tokenizer``) - ``doc.text`` without spaCy's
  rebuild-from-tokens on every access; components read it instead of ``doc.text``.

The tokenizer is ``narcwatch.whitespace_tokenizer.v1``: no component reads tokens, and
spaCy's rule-based tokenizer cost more than all the components together.

``extract(text)`` and ``extract_many(texts)`` are the public entry points.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator
from datetime import date
from functools import lru_cache

import spacy
from spacy.language import Language
from spacy.tokens import Doc

import narcwatch.extract.docext
from narcwatch.extract.models import Extraction
from narcwatch.extract.tokenizer import RAW_KEY

__all__ = ["COMPONENTS", "PIPELINE_VERSION", "TOKENIZER", "build_pipeline", "extract", "extract_many"]

PIPELINE_VERSION = "0.1"
TOKENIZER = {"@tokenizers": "narcwatch.whitespace_tokenizer.v1"}

# (factory name, module that registers it). Order matters: normalisation first.
COMPONENTS: list[tuple[str, str]] = [
    ("narcwatch_normalize", "narcwatch.extract.normalize"),
    ("narcwatch_substances", "narcwatch.extract.substances"),
    ("narcwatch_offers", "narcwatch.extract.offers"),
    ("narcwatch_wallets", "narcwatch.extract.wallets"),
    ("narcwatch_identifiers", "narcwatch.extract.identifiers"),
    ("narcwatch_geo", "narcwatch.extract.geo"),
]


@Language.component("narcwatch_facts_init")
def _facts_init(doc: Doc) -> Doc:
    doc._.nw_facts = Extraction(pipeline_version=PIPELINE_VERSION)
    return doc


@lru_cache(maxsize=4)
def build_pipeline(lang: str = "xx") -> Language:
    """A blank multilingual pipeline with every available narcwatch component."""
    nlp = spacy.blank(lang, config={"nlp": {"tokenizer": TOKENIZER}})
    nlp.max_length = 5_000_000
    nlp.add_pipe("narcwatch_facts_init")
    for factory, module in COMPONENTS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue  # component not built yet
        nlp.add_pipe(factory)
    nlp.initialize()
    return nlp


# spaCy's tokenizer splits prefixes and suffixes one character at a time, re-scanning the
# rest of the token each time: a run of n affix characters ("$$$$...", "((((", "%%%%")
# costs O(n^2) (4,000 "$" took 13 s). Every 32nd character of such a run is tokenised as
# a space: same length, so every offset still points into the raw text; a punctuation run
# carries no facts. Lone surrogates (JSON "\udcff" escapes in a channel export) cannot be
# encoded by the tokenizer and become U+FFFD, also one character for one.
_AFFIX_RUN = re.compile(r"[^\w\s]{32,}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _break_run(m: re.Match[str]) -> str:
    run = m.group()
    return "".join(" " if i % 32 == 31 else c for i, c in enumerate(run))


def safe_text(text: str) -> str:
    """``text`` with the same length and offsets, safe for spaCy's tokenizer."""
    return _AFFIX_RUN.sub(_break_run, _SURROGATE.sub("\ufffd", text))


def _prepare(nlp: Language, text: str, context: dict | None) -> Doc:
    text = _SURROGATE.sub("\ufffd", text)
    doc = nlp.make_doc(safe_text(text))
    # The raw string rides along: ``doc.text`` is rebuilt from tokens on every access.
    doc.user_data[RAW_KEY] = text
    doc._.nw_context = {**(context or {}), "text": text}
    return doc


def extract(text: str, *, id: str | None = None, capture_date: date | None = None, **context: object) -> Extraction:
    nlp = build_pipeline()
    doc = _prepare(nlp, text, {"capture_date": capture_date, **context})
    for _, proc in nlp.pipeline:
        doc = proc(doc)
    facts: Extraction = doc._.nw_facts
    facts.id = id
    return facts


def extract_many(items: Iterable[tuple[str | None, str] | tuple[str | None, str, dict]], batch_size: int = 256,
                 context: dict | None = None) -> Iterator[Extraction]:
    """Extract from ``(id, text)`` pairs, streaming (one process: n_process=2 is slower here).

    ``context`` applies to every item (``{"source_kind": "telegram"}`` for a channel's messages);
    an ``(id, text, ctx)`` triple adds its own (``capture_date``: re-extraction converts each
    price at the rate of its own capture's day).
    """
    nlp = build_pipeline()
    pairs = list(items) if not isinstance(items, list) else items
    docs = (_prepare(nlp, it[1], {**(context or {}), **it[2]} if len(it) > 2 else context)  # type: ignore[misc]
            for it in pairs)
    for (item_id, *_), doc in zip(pairs, nlp.pipe(docs, batch_size=batch_size), strict=True):
        facts: Extraction = doc._.nw_facts
        facts.id = item_id
        yield facts
