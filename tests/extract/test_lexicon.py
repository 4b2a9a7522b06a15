"""The substance lexicon: coverage of what the field watches, curation, and integrity."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from narcwatch.extract.lexicon import LEXICON_PATH, NameKind, load_lexicon
from narcwatch.extract.lexicon.build import build, render
from narcwatch.extract.models import SubstanceClass

C = SubstanceClass
LEX = load_lexicon()

_MUST_HAVE: list[tuple[str, SubstanceClass]] = [
    # nitazenes
    *[(n, C.NITAZENE) for n in [
        "Isotonitazene", "Metonitazene", "Protonitazene", "Etonitazene", "Butonitazene", "Clonitazene",
        "Flunitazene", "Metodesnitazene", "Etodesnitazene", "N-Pyrrolidino etonitazene",
        "N-Pyrrolidino protonitazene", "N-Pyrrolidino metonitazene", "N-Desethyl isotonitazene",
        "N-Piperidinyl etonitazene", "N-Pyrrolidino isotonitazene", "Ethyleneoxynitazene"]],
    # fentanyls
    *[(n, C.FENTANYL_ANALOGUE) for n in [
        "Fentanyl", "Carfentanil", "Acetylfentanyl", "Furanylfentanyl", "Acrylfentanyl", "Ocfentanil",
        "Cyclopropylfentanyl", "Valerylfentanyl", "Butyrfentanyl", "Parafluorofentanyl", "Sufentanil",
        "Remifentanil", "Alfentanil", "3-Methylfentanyl"]],
    # fentanyl precursors and pre-precursors
    ("NPP", C.PRECURSOR), ("4-ANPP", C.PRECURSOR), ("Norfentanyl", C.PRECURSOR),
    ("4-AP", C.PRE_PRECURSOR), ("1-boc-4-AP", C.PRE_PRECURSOR), ("1-boc-4-piperidone", C.PRE_PRECURSOR),
    ("4-Piperidone", C.PRE_PRECURSOR), ("Propionyl chloride", C.PRE_PRECURSOR),
    # common drugs
    ("Cannabis", C.CANNABIS), ("Cocaine", C.STIMULANT), ("Crack cocaine", C.STIMULANT), ("MDMA", C.EMPATHOGEN),
    ("Amphetamine", C.STIMULANT), ("Methamphetamine", C.STIMULANT), ("Heroin", C.OTHER_OPIOID),
    ("Oxycodone", C.OTHER_OPIOID), ("Hydrocodone", C.OTHER_OPIOID), ("Morphine", C.OTHER_OPIOID),
    ("Codeine", C.OTHER_OPIOID), ("Tramadol", C.OTHER_OPIOID), ("Methadone", C.OTHER_OPIOID),
    ("Buprenorphine", C.OTHER_OPIOID), ("Alprazolam", C.BENZODIAZEPINE), ("Clonazepam", C.BENZODIAZEPINE),
    ("Diazepam", C.BENZODIAZEPINE), ("Etizolam", C.BENZODIAZEPINE), ("Bromazolam", C.BENZODIAZEPINE),
    ("Flualprazolam", C.BENZODIAZEPINE),
    ("3-MMC", C.CATHINONE), ("Mephedrone", C.CATHINONE), ("α-PVP", C.CATHINONE), ("α-PHP", C.CATHINONE),
    ("Eutylone", C.CATHINONE), ("N-Ethylpentylone", C.CATHINONE), ("3-CMC", C.CATHINONE),
    ("MDMB-4en-PINACA", C.SYNTHETIC_CANNABINOID), ("ADB-BUTINACA", C.SYNTHETIC_CANNABINOID),
    ("5F-MDMB-PICA", C.SYNTHETIC_CANNABINOID), ("JWH-018", C.SYNTHETIC_CANNABINOID),
    ("LSD", C.PSYCHEDELIC), ("Psilocybin mushrooms", C.PSYCHEDELIC), ("DMT", C.PSYCHEDELIC),
    ("Ketamine", C.DISSOCIATIVE), ("PCP", C.DISSOCIATIVE), ("2-FDCK", C.DISSOCIATIVE),
    ("GHB", C.DEPRESSANT), ("GBL", C.DEPRESSANT),
    ("Ephedrine", C.PRECURSOR), ("Pseudoephedrine", C.PRECURSOR), ("P2P", C.PRECURSOR),
    ("BMK glycidate", C.PRE_PRECURSOR), ("PMK glycidate", C.PRE_PRECURSOR), ("Safrole", C.PRECURSOR),
    ("Xylazine", C.ADULTERANT), ("Medetomidine", C.ADULTERANT), ("Levamisole", C.ADULTERANT),
]


@pytest.mark.parametrize(("canonical", "cls"), _MUST_HAVE, ids=[c for c, _ in _MUST_HAVE])
def test_covers_what_the_field_watches(canonical: str, cls: SubstanceClass) -> None:
    entry = LEX.get(canonical)
    assert entry is not None, f"{canonical} missing from the lexicon"
    assert entry.cls is cls


@pytest.mark.parametrize(("canonical", "cas"), [
    ("Fentanyl", "437-38-7"), ("Carfentanil", "59708-52-0"), ("Isotonitazene", "14188-81-9"),
    ("4-ANPP", "21409-26-7"), ("NPP", "39742-60-4"), ("Xylazine", "7361-61-7"), ("Cocaine", "50-36-2"),
])
def test_cas_numbers(canonical: str, cas: str) -> None:
    assert LEX.get(canonical).cas == cas  # type: ignore[union-attr]


def _cas_ok(cas: str) -> bool:
    m = re.fullmatch(r"(\d{2,7})-(\d{2})-(\d)", cas)
    if not m:
        return False
    digits = (m.group(1) + m.group(2))[::-1]
    return sum((i + 1) * int(d) for i, d in enumerate(digits)) % 10 == int(m.group(3))


def test_every_cas_number_has_a_valid_check_digit() -> None:
    bad = [(e.canonical, e.cas) for e in LEX if e.cas and not _cas_ok(e.cas)]
    assert not bad


def test_control_status_uses_the_documented_vocabulary() -> None:
    pattern = re.compile(r"UN (?:1961 Schedules? [IV]+(?: and [IV]+)?|1971 Schedule [IV]+|1988 Table I{1,2})"
                         r"(?: \(\d{4}\))?|not internationally controlled")
    bad = [(e.canonical, e.control) for e in LEX if e.control and not pattern.fullmatch(e.control)]
    assert not bad
    assert LEX.get("Carfentanil").control.startswith("UN 1961 Schedule I")  # type: ignore[union-attr]
    assert LEX.get("4-ANPP").control == "UN 1988 Table I (2017)"  # type: ignore[union-attr]


@pytest.mark.parametrize(("canonical", "lang", "name"), [
    ("Cocaine", "de", "Koks"), ("Cocaine", "ru", "кокаин"), ("Cocaine", "es", "farlopa"),
    ("Mephedrone", "ru", "мефедрон"), ("Fentanyl", "es", "fentanilo"), ("Fentanyl", "ru", "фентанил"),
    ("Heroin", "ru", "героин"), ("Cannabis", "es", "marihuana"), ("Methamphetamine", "de", "Pervitin"),
    ("Isotonitazene", "ru", "изотонитазен"), ("Xylazine", "en", "tranq dope"),
])
def test_street_names_by_language(canonical: str, lang: str, name: str) -> None:
    assert name in LEX.get(canonical).street.get(lang, ())  # type: ignore[union-attr]


@pytest.mark.parametrize("word", ["ice", "snow", "crystal", "speed", "tina", "glass", "x", "e", "h", "k",
                                  "white", "girl", "green", "pills", "tabs", "base", "gift", "vitamin k"])
def test_ordinary_words_are_never_plain_names(word: str) -> None:
    """Dropped outright, or kept only as ambiguous (matched next to a quantity)."""
    for entry in LEX:
        for name, kind in entry.names():
            if name.casefold() == word:
                assert kind == NameKind.AMBIGUOUS, (entry.canonical, name, kind)


def test_a_name_belongs_to_one_entry() -> None:
    owners: dict[str, str] = {}
    clashes = []
    for entry in LEX:
        for name, _ in entry.names():
            key = name.casefold()
            if owners.setdefault(key, entry.canonical) != entry.canonical:
                clashes.append((name, owners[key], entry.canonical))
    assert not clashes


def test_known_source_errors_are_fixed() -> None:
    buspirone = LEX.get("Buspirone")
    assert buspirone is not None and "DMT" not in buspirone.abbreviations + buspirone.synonyms
    assert LEX.get("Pseudoephrine") is None and LEX.get("Pseudoephedrine") is not None
    assert LEX.get("Alcohol") is None


def test_without_holds_entries_out() -> None:
    smaller = LEX.without(["Isotonitazene", "carfentanil"])
    assert len(smaller) == len(LEX) - 2 and smaller.get("Isotonitazene") is None


def test_generated_file_is_up_to_date(shared_data: Path) -> None:
    source = shared_data / "substances" / "nps_synonyms_merged_tripsit_psychonautwiki.json"
    if not source.is_file():
        pytest.skip(f"{source} absent")
    assert render(build(source)) == LEXICON_PATH.read_text(encoding="utf-8"), \
        "substances.json is stale: run python -m narcwatch.extract.lexicon.build"
