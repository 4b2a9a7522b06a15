"""Evasion normalisation: what folds, what must not, and offsets back to the raw text."""

from __future__ import annotations

from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narcwatch.extract.normalize import normalize


class Example(NamedTuple):
    raw: str
    norm: str  # the full expected normalised text

    def __str__(self) -> str:  # readable ids
        return self.raw[:40]


_NFKC = [
    Example("ｆｅｎｔａｎｙｌ", "fentanyl"),           # full-width
    Example("ﬁne coke", "fine coke"),                 # ligature
    Example("ＭＤＭＡ 1g", "mdma 1g"),
    Example("𝐟𝐞𝐧𝐭𝐚𝐧𝐲𝐥", "fentanyl"),              # mathematical bold
    Example("Ⓜ️ⒹⓂ️Ⓐ", "mdma"),                     # enclosed letters + variation selector
]
_ZERO_WIDTH = [
    Example("co\u200bca\u200cine", "cocaine"),
    Example("nita\u2060zene", "nitazene"),
    Example("her\u00adoin", "heroin"),                # soft hyphen
    Example("\ufefffentanyl", "fentanyl"),
]
_HOMOGLYPHS = [
    Example("fеntаnyl", "fentanyl"),                  # Cyrillic е, а in a Latin word
    Example("сосаinе", "cocaine"),                    # mostly Cyrillic look-alikes, some Latin
    Example("КЕТАМINЕ", "ketamine"),                  # Cyrillic К Е Т А М Е around Latin I N
    Example("αlprazolam", "alprazolam"),              # Greek alpha
    Example("кокс", "kokc"),                          # all look-alikes: skeleton (lexicon folds the same)
]
_LEET = [
    Example("f3nt4nyl", "fentanyl"),
    Example("n1t4z3n3", "nitazene"),
    Example("c0ca1ne", "cocaine"),
    Example("h3r0in", "heroin"),
    Example("m3th", "meth"),
    Example("co$aine", "cosaine"),
]
_SPACED = [
    Example("n i t a z e n e", "nitazene"),
    Example("n.i.t.a.z.e.n.e", "nitazene"),
    Example("M-D-M-A 1g", "mdma 1g"),
    Example("f_e_n_t", "fent"),
    Example("n 1 t 4 z 3 n 3", "nitazene"),           # spaced and leet
    Example("L.S.D", "lsd"),
]
_KEEP = [  # must not change (other than lower-casing)
    Example("1g 40$ | 5g 180$", "1g 40$ | 5g 180$"),
    Example("3-MMC 4-ANPP 2C-B 25I-NBOMe", "3-mmc 4-anpp 2c-b 25i-nbome"),
    Example("JWH-018 am2201 u47700", "jwh-018 am2201 u47700"),
    Example("мефедрон и фентанил", "мефедрон и фентанил"),   # real Russian stays Cyrillic
    Example("vendor@mail.com", "vendor@mail.com"),
    Example("a b c", "a b c"),                       # three spaced letters: not a word
    Example("1 2 3 4 5", "1 2 3 4 5"),
    Example("L.S.D 1 x 5 g", "lsd 1 x 5 g"),         # the join stops where the separator changes
    Example("$40 or 40$ or 4.0", "$40 or 40$ or 4.0"),
]


@pytest.mark.parametrize("ex", _NFKC + _ZERO_WIDTH + _HOMOGLYPHS + _LEET + _SPACED + _KEEP, ids=str)
def test_normalize(ex: Example) -> None:
    assert normalize(ex.raw).text == ex.norm


@pytest.mark.parametrize("ex", _NFKC + _ZERO_WIDTH + _HOMOGLYPHS + _LEET + _SPACED, ids=str)
def test_whole_text_maps_back_to_the_whole_raw_span(ex: Example) -> None:
    n = normalize(ex.raw)
    rs, re_ = n.to_raw(0, len(n.text))
    assert ex.raw[rs:re_].strip("\ufeff\u200b\u200c\u2060\u00ad") == ex.raw.strip("\ufeff\u200b\u200c\u2060\u00ad")


@pytest.mark.parametrize(("raw", "word", "surface"), [
    ("buy n.i.t.a.z.e.n.e now", "nitazene", "n.i.t.a.z.e.n.e"),
    ("ｐｕｒｅ ｆｅｎｔａｎｙｌ", "fentanyl", "ｆｅｎｔａｎｙｌ"),
    ("1g co\u200bcaine 90%", "cocaine", "co\u200bcaine"),
    ("Ich verkaufe fеntаnyl", "fentanyl", "fеntаnyl"),
    ("ﬁne M D M A here", "mdma", "M D M A"),
])
def test_span_maps_to_raw_surface(raw: str, word: str, surface: str) -> None:
    n = normalize(raw)
    i = n.text.index(word)
    assert n.raw_span(i, i + len(word)) == surface


def test_identity_map_is_free_for_plain_ascii() -> None:
    n = normalize("Plain ASCII listing 5g 40$")
    assert n.starts is None and n.to_raw(3, 8) == (3, 8)


@pytest.mark.parametrize("garbage", [None, "", 42, b"bytes"])
def test_total_on_garbage(garbage: object) -> None:
    n = normalize(garbage)  # type: ignore[arg-type]
    assert isinstance(n.text, str)
    assert n.to_raw(-5, 10**9) == (0, len(n.raw)) or n.to_raw(-5, 10**9)[1] <= len(n.raw)


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_offsets_valid(raw: str) -> None:
    n = normalize(raw)
    size = len(n.text)
    if n.starts is not None:
        assert n.ends is not None and len(n.starts) == len(n.ends) == size
        assert all(0 <= s < e <= len(raw) for s, e in zip(n.starts, n.ends))
        assert n.starts == sorted(n.starts)
    for a in range(0, size + 1, max(1, size // 7)):
        for b in range(a, size + 1, max(1, size // 5)):
            rs, re_ = n.to_raw(a, b)
            assert 0 <= rs <= re_ <= len(raw)


@given(st.lists(st.sampled_from(["n", "i", "t", "a", "z", "e", " ", ".", "-", "1", "3", "4", "$", "@",
                                 "е", "а", "\u200b", "ｆ", "ф", "40", "g"]), max_size=200))
@settings(max_examples=300, deadline=None)
def test_evasion_alphabet_is_total(parts: list[str]) -> None:
    raw = "".join(parts)
    n = normalize(raw)
    rs, re_ = n.to_raw(0, len(n.text))
    assert 0 <= rs <= re_ <= len(raw)


@pytest.mark.parametrize("raw", [
    "a " * 50_000,
    "a." * 50_000,
    "a.b-" * 25_000,
    "\u200b" * 100_000,
    "f3" * 50_000,
    "е" * 100_000,
    "n i t a " * 12_500,
])
def test_adversarial_inputs_complete(raw: str) -> None:
    n = normalize(raw)
    assert len(n.text) <= len(raw) * 3
    rs, re_ = n.to_raw(0, len(n.text))
    assert 0 <= rs <= re_ <= len(raw)


def test_spacy_component_sets_nw_norm() -> None:
    from narcwatch.extract.normalize import Normalized
    from narcwatch.extract.pipeline import build_pipeline

    nlp = build_pipeline()
    doc = nlp.make_doc("ｆ3nt4nyl 1g")
    doc._.nw_context = {}
    for _, proc in nlp.pipeline:
        doc = proc(doc)
    norm = doc._.nw_norm
    assert isinstance(norm, Normalized) and norm.raw == doc.text and norm.text == "fentanyl 1g"
    assert norm.raw_span(0, 8) == "ｆ3nt4nyl"
