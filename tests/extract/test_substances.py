"""Substance matching: plain names, evasions, street names, ambiguous slang, real listings."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from narcwatch.extract.substances import find_substances, matcher_for


class Example(NamedTuple):
    text: str
    expected: list[tuple[str, str]]  # (canonical, raw surface), in order

    def __str__(self) -> str:
        return self.text[:50]


def _found(text: str) -> list[tuple[str, str]]:
    return [(m.canonical, m.text) for m in find_substances(text) if not m.novel]


_PLAIN = [
    Example("!!!!!INTRO OFFER!!!!! 1GR COCAINE 90%", [("Cocaine", "COCAINE")]),
    Example("Isotonitazene 1g 250$", [("Isotonitazene", "Isotonitazene")]),
    Example("carfentanil 10mg", [("Carfentanil", "carfentanil")]),
    Example("4-ANPP and NPP in stock, also 1-boc-4-piperidone", [
        ("4-ANPP", "4-ANPP"), ("NPP", "NPP"), ("1-boc-4-piperidone", "1-boc-4-piperidone")]),
    Example("N-pyrrolidino etonitazene (etonitazepyne) 5g", [
        ("N-Pyrrolidino etonitazene", "N-pyrrolidino etonitazene"), ("N-Pyrrolidino etonitazene", "etonitazepyne")]),
    Example("3-MMC, 3mmc and 3 MMC", [("3-MMC", "3-MMC"), ("3-MMC", "3mmc"), ("3-MMC", "3 MMC")]),
    Example("MDMB-4en-PINACA / MDMB4enPINACA", [("MDMB-4en-PINACA", "MDMB-4en-PINACA"),
                                               ("MDMB-4en-PINACA", "MDMB4enPINACA")]),
    Example("alpha-PVP, a-PVP, α-PVP", [("α-PVP", "alpha-PVP"), ("α-PVP", "a-PVP"), ("α-PVP", "α-PVP")]),
    Example("heroin cut with xylazine and medetomidine", [
        ("Heroin", "heroin"), ("Xylazine", "xylazine"), ("Medetomidine", "medetomidine")]),
    Example("Xanax 2mg bars", [("Alprazolam", "Xanax")]),
    Example("COCAINE90% uncut", [("Cocaine", "COCAINE")]),
    Example("100gCocaine Bolivien", [("Cocaine", "Cocaine")]),
    Example("crystal meth 3.5g", [("Methamphetamine", "crystal meth")]),
    Example("BMK glycidate and PMK glycidate 1kg", [("BMK glycidate", "BMK glycidate"),
                                                  ("PMK glycidate", "PMK glycidate")]),
]
_EVASIONS = [
    Example("f3nt4nyl 5g 40$", [("Fentanyl", "f3nt4nyl")]),
    Example("n1t4z3n3 powder", [("Nitazene (unspecified)", "n1t4z3n3")]),
    Example("buy n i t a z e n e", [("Nitazene (unspecified)", "n i t a z e n e")]),
    Example("i.s.o.t.o.n.i.t.a.z.e.n.e", [("Isotonitazene", "i.s.o.t.o.n.i.t.a.z.e.n.e")]),
    Example("fеntаnyl (Cyrillic е, а)", [("Fentanyl", "fеntаnyl")]),
    Example("ｃａｒｆｅｎｔａｎｉｌ", [("Carfentanil", "ｃａｒｆｅｎｔａｎｉｌ")]),
    Example("co\u200bca\u200bine 1g", [("Cocaine", "co\u200bca\u200bine")]),
    Example("isotonitazine (typo)", [("Isotonitazene", "isotonitazine")]),
    Example("carfentanyl 1g", [("Carfentanil", "carfentanyl")]),
    Example("metonitazine 1g", [("Metonitazene", "metonitazine")]),
    Example("protonitazen 1g", [("Protonitazene", "protonitazen")]),
    Example("methamphetamin 1g", [("Methamphetamine", "methamphetamin")]),
    Example("ketamin 1g", [("Ketamine", "ketamin")]),
    Example("M.D.M.A crystals 1g", [("MDMA", "M.D.M.A")]),
    Example("L S D 1 tab", [("LSD", "L S D")]),             # short names also have a spelt-out key
    Example("k e t 1g", [("Ketamine", "k e t")]),
    Example("c h i n a   w h i t e 1g", [("Fentanyl", "c h i n a   w h i t e")]),
    Example("W-h-i-t-e- -W-i-d-o-w 1g", [("Cannabis", "W-h-i-t-e- -W-i-d-o-w")]),
    Example("mdm4 cry5t4l 1g", [("MDMA", "mdm4")]),            # trailing leet; slang beside it dropped
    Example("cocaína 1g", [("Cocaine", "cocaína")]),          # accents folded both sides
    Example("aceytlfentanyl 1g", [("Acetylfentanyl", "aceytlfentanyl")]),   # swapped letters: a typo
    Example("acetyylfentanyl 1g", [("Acetylfentanyl", "acetyylfentanyl")]), # doubled letter: a typo
    Example("cocine 1g", [("Cocaine", "cocine")]),            # dropped letter
    Example("cokke 1g", [("Cocaine", "cokke")]),              # doubled consonant
    Example("3mmcc 1g", [("3-MMC", "3mmcc")]),
    Example("h3r0in #4", [("Heroin", "h3r0in")]),
    Example("C O L O M B I A N C O C A I N E - 89%", [("Cocaine", "C O C A I N E")]),
]
_STREET = [
    Example("Koks 1g 60€", [("Cocaine", "Koks")]),
    Example("мефедрон 1г", [("Mephedrone", "мефедрон")]),
    Example("МЕФЕДРОН кристаллы", [("Mephedrone", "МЕФЕДРОН")]),
    Example("кокаин 1 грамм", [("Cocaine", "кокаин")]),
    Example("fentanilo 1g", [("Fentanyl", "fentanilo")]),
    Example("farlopa 1g", [("Cocaine", "farlopa")]),
    Example("tranq dope 1g", [("Xylazine", "tranq dope")]),
    Example("molly 1g", [("MDMA", "molly")]),
    Example("мет 1г 90%", [("Methamphetamine", "мет")]),       # folds like the code MET: both kept
    Example("лёд 0.5г", [("Methamphetamine", "лёд")]),
    Example("3-ммк 1г", [("3-MMC", "3-ммк")]),
    Example("xtc pills", [("MDMA", "xtc")]),                   # longer slang rejected, the name stays
]
_AMBIGUOUS = [
    Example("ice 3.5g 120$", [("Methamphetamine", "ice")]),
    Example("speed paste 10g", [("Amphetamine", "speed")]),
    Example("ice cold water for 5$", []),
    Example("high speed internet 100 Mbps for $20", []),
    Example("snow in the mountains", []),
    Example("MDMA crystal 10g", [("MDMA", "MDMA")]),       # slang beside a name describes it
    Example("crystal glass 500 ml vase", []),
]
_NO_SUBSTANCE = [
    Example("Brand new phone case, free shipping worldwide", []),
    Example("The morphing power rangers are back", []),
    Example("Tina and Charlie went to the bar", []),
    Example("Mr. Dom said x e k h", []),
    Example("vitamin K2 supplement 100 tabs", []),
    Example("9mm brass reloads 124 gr", []),
    Example("meetha paan 2 pcs for 40$", []),                  # doubled vowels are English/Hindi, not typos
]
# Misspelt multi-word names: same token count, numbers and short words exact, a 5-6
# letter word only with a slip (doubled letter, swapped neighbours), longer words one
# edit (two from ten letters), at least one token exact.
_PHRASE_HITS = [
    Example("M30 bluees 60% ** BULK DISCOUNT **", [("Fentanyl", "M30 bluees")]),
    Example("M30 bleus x100", [("Fentanyl", "M30 bleus")]),                      # swapped neighbours
    Example("M30  bluees", [("Fentanyl", "M30  bluees")]),                        # wider gap, same line
    Example("acetyl fentanil 1g", [("Acetylfentanyl", "acetyl fentanil")]),
    Example("psilocybin mushroms 3.5g", [("Psilocybin mushrooms", "psilocybin mushroms")]),
    Example("Magic Mushroom 10g", [("Psilocybin mushrooms", "Magic Mushroom")]),  # real Agora wording
    Example("white widdow 5g", [("Cannabis", "white widdow")]),
    Example("sour deisel 7g", [("Cannabis", "sour deisel")]),
    Example("25I-NBMOe blotters", [("25I-NBOMe", "25I-NBMOe")]),                  # real Agora typo
    Example("crack cocain", [("Crack cocaine", "crack cocain")]),                 # longer name wins
]
_PHRASE_TRAPS = [
    Example("white window cleaning", []),          # one edit from "white widow", not a slip
    Example("white windows", []),
    Example("m31 blues", []),                      # numbers exact
    Example("m30 bluuees", []),                    # two edits in a 5-letter word
    Example("M30\nbluees", []),                    # a name never spans lines
    Example("blue cream 5g", []),                  # "blue dream": short word changed
    Example("blue drem", []),                      # 4-letter word: exact only
    Example("liquid extasy", []),                  # two edits in a 7-letter word
    Example("peruvian flakes", []),                # a plural is not a slip of a 5-letter word
    Example("cocaine bass", [("Cocaine", "cocaine")]),
    Example("the 4-hydroxyl analogue of psilocin", [("Psilocin", "psilocin")]),  # real Agora text;
    # "4-hydroxy-n" (4-HO-DPT) is a lexicon alias, its glued key "4hydroxyn" is not a phrase
]
_XFAIL = [
    pytest.param(Example("cocainecolombian 1g", [("Cocaine", "cocaine")]),
                 marks=pytest.mark.xfail(strict=True, reason="only a name at the END of a glued token is found")),
]


@pytest.mark.parametrize("ex", _PLAIN + _EVASIONS + _STREET + _AMBIGUOUS + _NO_SUBSTANCE + _PHRASE_HITS
                         + _PHRASE_TRAPS + _XFAIL, ids=str)
def test_substances(ex: Example) -> None:
    assert _found(ex.text) == ex.expected


@pytest.mark.parametrize("ex", _PLAIN + _EVASIONS + _STREET + _PHRASE_HITS, ids=str)
def test_offsets_point_at_the_raw_surface(ex: Example) -> None:
    for m in find_substances(ex.text):
        assert ex.text[m.start:m.end] == m.text


def test_mention_fields() -> None:
    (m,) = find_substances("Carfentanil 1g")
    assert (m.cls.value, m.cas, m.novel, m.start, m.end) == ("fentanyl_analogue", "59708-52-0", False, 0, 11)
    assert 0.9 < m.confidence <= 1.0
    (fuzzy,) = find_substances("carfentanyl 1g")
    (amb,) = find_substances("ice 1g")
    assert amb.confidence < fuzzy.confidence <= m.confidence


def test_upper_only_codes() -> None:
    assert _found("DOM 10mg") == [("DOM", "DOM")]
    assert _found("dom 10mg") == []


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_total_and_offsets_valid(text: str) -> None:
    for m in find_substances(text):
        assert 0 <= m.start <= m.end <= len(text)
        assert text[m.start:m.end] == m.text


@given(st.lists(st.sampled_from(["cocaine", "f3nt", "4nyl", " ", "-", "n i t", "a z e n e", "ice", "1g",
                                 "ме", "фед", "рон", "\u200b", "ｆ", "4-", "anpp", "isotonitazine"]), max_size=60))
@settings(max_examples=300, deadline=None)
def test_total_on_lexicon_alphabet(parts: list[str]) -> None:
    text = "".join(parts)
    for m in find_substances(text):
        assert text[m.start:m.end] == m.text


@pytest.mark.parametrize(("text", "count"), [
    ("cocaine " * 20_000, 20_000),
    ("fentanyl" * 10_000, 0),              # one 80k-letter token: not a name
    ("a" * 100_000, 0),
    ("isotonitazinexyz " * 5_000, 0),     # fuzzy misses, each checked once (cached)
    ("n i t a z e n e " * 5_000, 0),       # one endless spelled-out word: not a name
    ("m30 bluees " * 10_000, 10_000),       # misspelt phrase, each occurrence checked in bounded work
    ("4 4 4 4 fluroamphetamin " * 5_000, 5_000),  # many numbers around a 2-edit phrase
])
def test_adversarial_inputs_complete(text: str, count: int) -> None:
    found = [m for m in find_substances(text) if not m.novel]
    if count:
        assert len(found) >= 1 and all(text[m.start:m.end] == m.text for m in found)
        if count > 1:
            assert len(found) == count
    else:
        assert found == []


def test_spacy_component_fills_facts() -> None:
    from narcwatch.extract.pipeline import build_pipeline, extract

    assert "narcwatch_substances" in build_pipeline().pipe_names
    facts = extract("f3nt4nyl and isotonitazene, 1g 40$")
    assert [(s.canonical, s.text) for s in facts.substances] == [("Fentanyl", "f3nt4nyl"),
                                                                  ("Isotonitazene", "isotonitazene")]


# --- real listings -------------------------------------------------------------------

_QTY = re.compile(r"\d\s?(?:mg|g|gr|grams?|kg|oz|ug|mcg|µg|ml)\b|\d\s?x?\s?(?:tabs?|pills?|blotters?|hits?|caps?)\b",
                  re.IGNORECASE)


def _half(vendor: str, product: str) -> int:
    """Deterministic dev/held-out split: development used half 0, figures report half 1."""
    return int(hashlib.sha1(f"{vendor}|{product}".encode()).hexdigest(), 16) % 2


def test_dream_market_titles(shared_data: Path) -> None:
    path = shared_data / "markets" / "dream_market_cocaine_listings.csv"
    with path.open(encoding="utf-8") as fh:
        titles = [r["product_title"] for r in csv.DictReader(fh)]
    matcher = matcher_for()
    hit = sum(1 for t in titles if matcher.find(t))
    share = hit / len(titles)
    print(f"dream market: substance in {hit}/{len(titles)} titles = {share:.4f}")
    assert len(titles) == 1504 and share >= 0.98


def test_agora_drug_listings_held_out_half(shared_data: Path) -> None:
    """Share of drug listings (title states a dose or weight) that get a substance."""
    path = shared_data / "markets" / "agora_vendor_listings_2014-01.csv"
    with path.open(encoding="utf-8", errors="replace") as fh:
        rows = [r for r in csv.DictReader(fh) if _half(r["vendor"], r["product"]) == 1 and _QTY.search(r["product"])]
    matcher = matcher_for()
    hit = sum(1 for r in rows if matcher.find(r["product"] + " \n " + r["description"]))
    share = hit / len(rows)
    print(f"agora held-out half: substance in {hit}/{len(rows)} drug listings = {share:.4f}")
    # Regression floor, below the measured 0.954 (README). Misses are mostly blotter and
    # pill brand names ("Salvador Dalis", "Superman") and non-drug items sold by weight.
    assert share >= 0.94


def test_retail_channel_has_almost_no_substances(shared_data: Path) -> None:
    """A Telegram retail-deals channel: every match there is a false positive."""
    doc = json.loads((shared_data / "telegram" / "trfactsdeals_channel_export_messages.json").read_text(encoding="utf-8"))
    msgs = doc["messages"] if isinstance(doc, dict) else doc

    def text(m: dict) -> str:
        t = m.get("text", "")
        return "".join(x if isinstance(x, str) else x.get("text", "") for x in t) if isinstance(t, list) else t

    texts = [t for t in map(text, msgs) if t]
    matcher = matcher_for()
    false = [(m.canonical, m.text) for t in texts for m in matcher.find(t)]
    print(f"retail channel: {len(false)} substance matches in {len(texts)} messages: {false}")
    assert len(false) <= len(texts) / 1000
