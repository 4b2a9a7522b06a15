"""The whole pipeline on hostile input: total, offsets valid, tokenizer lossless.

Per-component adversarial tests live next to each component; these run every component
together, in pipeline order, the way ingest does. Linearity in input size is measured by
the ``extract.linearity`` benchmark (ops/bench/bench_extract.py), not asserted here: a
test holds no timing assertion. A super-linear regex would show up here as a hang that
pytest-timeout ends.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from narcwatch.extract.models import Extraction
from narcwatch.extract.pipeline import build_pipeline, extract, extract_many
from narcwatch.extract.tokenizer import raw_text

# Characters the extractors care about, so generated text hits their code paths.
_ALPHABET = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list(" \n\t.,:;|/-+%$€£₿@#*x×()[]<>=→_'\"")
    + ["\u200b", "\u00a0", "е", "о", "ф", "ß", "ﬁ", "µ", "İ", "g", "mg", "BTC", "XMR", "0x", "bc1", "ships from ",
       "nitazene", "f3nt4nyl", "n i t a z e n e", "1g 40$ | 5g 180$", "t.me/", ".onion", "-----BEGIN PGP"]
)
_TEXT = st.lists(_ALPHABET, max_size=120).map("".join)


def _check(text: str, ext: Extraction) -> None:
    n = len(text)
    facts = [*ext.substances, *ext.offers, *ext.wallets, *ext.identifiers, *ext.cas]
    for f in facts:
        assert 0 <= f.start <= f.end <= n, (f, n)
    for m in ext.substances:
        assert text[m.start:m.end] == m.text
    for w in ext.wallets:
        assert text[w.start:w.end] == w.address
    for c in ext.cas:
        assert 0 <= c.start < c.end


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_pipeline_is_total_with_valid_offsets(text: str) -> None:
    _check(text, extract(text))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_pipeline_is_total_on_any_unicode(text: str) -> None:
    _check(text, extract(text))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([" ", "a", "\n", "\t", "\u00a0", "bc"]), max_size=40).map("".join))
def test_whitespace_tokenizer_is_lossless(text: str) -> None:
    doc = build_pipeline().make_doc(text)
    assert doc.text == text
    assert raw_text(doc) == text


def test_extract_many_matches_extract() -> None:
    texts = ["MDMA 1g 40$ | 5g 180$ ships from NL", "", "  ", "f3nt4nyl patches 10x 25ug", "no facts here"]
    one = [extract(t).model_dump() for t in texts]
    many = [e.model_dump() for e in extract_many([(None, t) for t in texts])]
    assert one == many


_N = 20_000
ADVERSARIAL = {
    "digits": "1" * _N,
    "digit-dots": "1." * (_N // 2),
    "count-x": "1x " * (_N // 3),
    "prices": "1$ " * (_N // 3),
    "tiers": "1g 40$ | " * (_N // 9),
    "percent": "9%" * (_N // 2),
    "spaced-letters": "n i " * (_N // 4),
    "dotted-letters": "m.d." * (_N // 4),
    "leet": "f3" * (_N // 2),
    "zero-width": "a\u200b" * (_N // 2),
    "at-signs": "@" * _N,
    "handles": "@a_" * (_N // 3),
    "emails": "a@b." * (_N // 4),
    "base58": "1" + "A" * (_N - 1),
    "bech32": "bc1" + "q" * _N,
    "hex": "0x" + "a" * _N,
    "onion-ish": "a" * _N + ".onion",
    "pgp-header": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n" + "A" * _N,
    "arrows": "uk -> " * (_N // 6),
    "ships-from": "ships from " * (_N // 11),
    "cas-ish": "1-1-1 " * (_N // 6),
    "phone-ish": "+1 " * (_N // 3),
    "dashes": "-" * _N,
    "spaces": " " * _N,
    "newlines": "\n" * _N,
    "letters": "a" * _N,
    "long-word-typos": "nitazenenitazene " * (_N // 17),
    "mixed": "5g 40$ MDMA 84% @h t.me/x bc1q " * (_N // 31),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_strings_complete(name: str) -> None:
    text = ADVERSARIAL[name]
    _check(text, extract(text))
