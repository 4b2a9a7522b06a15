"""Every extractor, and the whole pipeline, on the hostile corpus and on generated text: total
(no exception), offsets inside the text and pointing at what they claim. Speed is measured
by ``python -m ops.bench reliability`` (time per character as inputs grow), never asserted;
each case here is bounded by pytest-timeout so a quadratic scan fails as a hang.

The per-extractor property tests in tests/extract cover random text for each finder; what
this file adds is the hostile corpus for every finder, the whole spaCy pipeline under
hypothesis, and the regressions found with it (quadratic tokenisation of punctuation runs,
lone surrogates crashing the tokenizer).
"""

from __future__ import annotations

from collections.abc import Callable
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from narcwatch.extract.geo import find_shipping
from narcwatch.extract.identifiers import find_cas, find_identifiers
from narcwatch.extract.money import find_prices, parse_price
from narcwatch.extract.normalize import normalize
from narcwatch.extract.offers import find_offers
from narcwatch.extract.pipeline import extract, safe_text
from narcwatch.extract.quantity import find_purity, find_quantities
from narcwatch.extract.substances import find_substances
from narcwatch.extract.wallets import find_wallets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import load_corpus  # noqa: E402  (tests/reliability/conftest.py)

CORPUS = load_corpus()

pytestmark = pytest.mark.timeout(120)


def _spans(obj: Any) -> list[tuple[int, int]]:
    """(start, end) of every fact that carries offsets, at any depth of a model or list."""
    out: list[tuple[int, int]] = []
    if isinstance(obj, (list, tuple)):
        for x in obj:
            out.extend(_spans(x))
    elif isinstance(obj, BaseModel):
        d = {name: getattr(obj, name) for name in type(obj).model_fields}
        if isinstance(d.get("start"), int) and isinstance(d.get("end"), int):
            out.append((d["start"], d["end"]))
        for v in d.values():
            if isinstance(v, (list, tuple, BaseModel)):
                out.extend(_spans(v))
    return out


def _check_offsets(text: str, found: Any) -> None:
    for start, end in _spans(found):
        assert 0 <= start <= end <= len(text), (start, end, len(text))


FINDERS: dict[str, Callable[[str], Any]] = {
    "find_wallets": find_wallets,
    "find_identifiers": find_identifiers,
    "find_cas": find_cas,
    "find_offers": find_offers,
    "find_prices": find_prices,
    "parse_price": parse_price,
    "find_quantities": find_quantities,
    "find_purity": find_purity,
    "find_shipping": find_shipping,
    "find_substances": find_substances,
    "normalize": normalize,
    "extract": extract,
}


@pytest.mark.parametrize("name", list(CORPUS.STRINGS))
@pytest.mark.parametrize("finder", list(FINDERS))
def test_every_extractor_is_total_on_the_hostile_corpus(finder: str, name: str) -> None:
    text = CORPUS.STRINGS[name]
    found = FINDERS[finder](text)
    _check_offsets(text, found)


@pytest.mark.parametrize("name", list(CORPUS.STRINGS))
def test_normalize_maps_back_into_the_raw_text(name: str) -> None:
    text = CORPUS.STRINGS[name]
    norm = normalize(text)
    assert norm.raw == text
    step = max(1, len(norm.text) // 50)
    for i in range(0, len(norm.text), step):
        start, end = norm.to_raw(i, i + step)
        assert 0 <= start <= end <= len(text)


@pytest.mark.parametrize("text, expected", [
    ("$" * 40, "$" * 31 + " " + "$" * 8),
    ("((((", "(((("),
    ("price \udcff 10 USD", "price \ufffd 10 USD"),
    ("a" * 100, "a" * 100),  # words are never touched
    ("-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----"),
])
def test_safe_text_keeps_length_and_breaks_only_punctuation_runs(text: str, expected: str) -> None:
    assert safe_text(text) == expected and len(safe_text(text)) == len(text)


@pytest.mark.parametrize("text", [
    "$" * 20_000 + "5",  # regression: 251 s in spaCy's tokenizer before safe_text
    "(" * 20_000, "%" * 20_000, "€" * 20_000, "!" * 20_000,
    "price \udcff\udcfe 10 USD",  # regression: UnicodeEncodeError in the tokenizer
])
def test_pipeline_regressions(text: str) -> None:
    _check_offsets(text, extract(text))


def test_facts_next_to_a_punctuation_run_are_still_found() -> None:
    text = "=" * 80 + "\nMetonitazene 1g 120 USD, ships from DE\n" + "$" * 80
    facts = extract(text)
    assert [s.canonical.lower() for s in facts.substances] == ["metonitazene"]
    (s,) = facts.substances
    assert text[s.start:s.end].lower() == "metonitazene"


# Alphabet weighted towards what the regexes key on, plus the unicode that attacks them.
_ALPHABET = st.sampled_from(list("0123456789.,$€£₿-+@:/ xgmlkKGBTCUSDEURbc1qQ") +
                            ["\u200b", "\u202e", "\u0301", "\n", "\t", "µ", "мг", "нитазен", "ONION", ".onion",
                             "fentanyl", "nitazene", " ships from ", "BTC", "XMR", "%", "\ufeff", "\udcff"])
_TEXT = st.lists(_ALPHABET, max_size=400).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_pipeline_is_total_with_valid_offsets(text: str) -> None:
    facts = extract(text)
    _check_offsets(text, facts)
    for s in facts.substances:
        assert s.end > s.start


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_pipeline_is_total_on_any_unicode(text: str) -> None:
    _check_offsets(text, extract(text))
