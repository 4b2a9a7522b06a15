"""``ignore_substances``: the shipped precursor rule does not alert on bulk solvents,
while the lexicon (and so ``class:precursor`` search) keeps classing them as precursors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from narcwatch.extract.lexicon import load_lexicon
from narcwatch.index.alerts.engine import AlertEngine
from narcwatch.index.alerts.masking import SubstanceMask
from narcwatch.index.alerts.outbox import AlertDB
from narcwatch.index.alerts.rules import DEFAULT_RULES, RulesError, load_rules
from narcwatch.index.alerts.watchlists import WatchKind, load_watchlist
from narcwatch.index.query import matches

from .conftest import World, event_for, listing_doc

SOLVENTS = DEFAULT_RULES.parent / "watchlists" / "bulk_solvents.txt"


def _doc(substances: list[str], classes: list[str], cas: list[str] | None = None) -> dict[str, Any]:
    doc = listing_doc(1)
    doc.update(substances=substances, classes=classes, cas=cas or [])
    return doc


def test_lexicon_keeps_the_solvents_as_precursors() -> None:
    """The lead's decision: the lexicon stays factual; only the alert rule ignores them."""
    lex = load_lexicon()
    assert {lex.get(n).cls.value for n in ("Acetone", "Toluene")} == {"precursor"}  # type: ignore[union-attr]
    assert lex.get("Isopropanol").cls.value == "pre_precursor"  # type: ignore[union-attr]
    assert matches("class:precursor", _doc(["Acetone"], ["precursor"]))


def test_shipped_list_names_every_bulk_solvent_the_lexicon_classes_as_a_precursor() -> None:
    wl = load_watchlist(SOLVENTS, WatchKind.SUBSTANCE)
    mask = SubstanceMask.from_watchlist(wl)
    assert {"acetone", "toluene", "isopropanol"} <= mask.names
    assert load_rules(DEFAULT_RULES).by_id("precursor-offer").mask is not None


# (substances, classes, does the shipped precursor rule's filter match the masked view)
_PRECURSOR_RULE = [
    pytest.param(["Acetone"], ["precursor"], False, id="acetone-alone"),
    pytest.param(["Toluene", "Acetone"], ["precursor"], False, id="two-solvents"),
    pytest.param(["Isopropanol"], ["pre_precursor"], False, id="isopropanol"),
    pytest.param(["Acetone", "P2P"], ["precursor"], True, id="acetone-and-P2P"),
    pytest.param(["Isopropanol", "NPP"], ["pre_precursor", "precursor"], True, id="ipa-and-NPP"),
    pytest.param(["Acetone", "4-AP"], ["pre_precursor", "precursor"], True, id="acetone-and-4-AP"),
    pytest.param(["NPP"], ["precursor"], True, id="NPP"),
    # a substance the lexicon does not know (novel candidate): no class is removed
    pytest.param(["Acetone", "fictoprecursorine"], ["precursor"], True, id="unknown-kept"),
    pytest.param([], ["precursor"], True, id="no-substances-unchanged"),
]


@pytest.mark.parametrize("substances, classes, expected", _PRECURSOR_RULE)
def test_precursor_rule_view(substances: list[str], classes: list[str], expected: bool) -> None:
    rule = load_rules(DEFAULT_RULES).by_id("precursor-offer")
    assert rule.mask is not None
    assert rule.filter.matches(rule.mask.apply(_doc(substances, classes))) is expected


@pytest.mark.parametrize("listed", ["acetone", "ACETONE", "  Acetone "])
def test_names_resolve_to_the_canonical_name(listed: str) -> None:
    mask = SubstanceMask.of([listed])
    view = mask.apply(_doc(["Acetone", "Cocaine"], ["precursor", "stimulant"]))
    assert view["substances"] == ["Cocaine"] and view["classes"] == ["stimulant"]


def test_a_synonym_in_the_list_masks_the_canonical_name() -> None:
    mask = SubstanceMask.of(["isopropyl alcohol"])
    assert "Isopropanol" in mask
    assert mask.apply(_doc(["Isopropanol"], ["pre_precursor"]))["classes"] == []


def test_cas_of_an_ignored_substance_leaves_the_view_too() -> None:
    acetone_cas = load_lexicon().get("Acetone").cas  # type: ignore[union-attr]
    assert acetone_cas
    view = SubstanceMask.of(["Acetone"]).apply(_doc(["Acetone"], ["precursor"], [acetone_cas, "50-00-0"]))
    assert view["cas"] == ["50-00-0"]


@pytest.mark.parametrize("doc", [{}, {"substances": None}, {"substances": 7}, {"substances": [None, 3]},
                                 {"substances": ["Acetone"], "classes": "precursor"}, {"substances": "Acetone"}])
def test_total_on_garbage_documents(doc: dict[str, Any]) -> None:
    view = SubstanceMask.of(["Acetone"]).apply(doc)
    assert isinstance(view, dict)


def test_the_original_document_is_not_changed() -> None:
    doc = _doc(["Acetone", "P2P"], ["precursor"])
    SubstanceMask.of(["Acetone"]).apply(doc)
    assert doc["substances"] == ["Acetone", "P2P"]


def test_engine_alerts_on_p2p_not_on_acetone_and_the_alert_lists_both(tmp_path: Path, world: World) -> None:
    engine = AlertEngine(load_rules(DEFAULT_RULES), AlertDB(tmp_path / "o.sqlite"), lookup=world.docs,
                         notifiers=["hook"], clock=lambda: world.clock)
    solvent = listing_doc(1, substance="Acetone", cls="precursor", vendor="fict_lab_a")
    mixed = listing_doc(2, substance="P2P", cls="precursor", vendor="fict_lab_b")
    mixed["substances"] = ["Acetone", "P2P"]
    world.docs.docs.update({solvent["key"]: solvent, mixed["key"]: mixed})
    alerts = engine.on_events([event_for(solvent), event_for(mixed)])
    assert [a.rule_id for a in alerts] == ["precursor-offer"]
    assert alerts[0].payload["items"][0]["url"].endswith("/listing/2")


def test_inline_list_and_unreadable_file(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("rules:\n  - id: a\n    name: A\n    events: [NEW]\n    filter: 'class:precursor'\n"
                 "    ignore_substances: [acetone, IPA]\n")
    mask = load_rules(p).by_id("a").mask
    assert mask is not None and "Acetone" in mask
    p.write_text("rules:\n  - id: a\n    name: A\n    events: [NEW]\n    ignore_substances: nowhere.txt\n")
    with pytest.raises(RulesError) as exc:
        load_rules(p)
    assert exc.value.problems[0].line == 5 and "cannot read watch-list" in exc.value.problems[0].message


def test_a_copied_defaults_file_finds_the_shipped_lists_until_they_are_copied(tmp_path: Path) -> None:
    copy = tmp_path / "rules.yaml"
    copy.write_text(DEFAULT_RULES.read_text())
    assert "Acetone" in load_rules(copy).by_id("precursor-offer").mask  # type: ignore[operator]
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "bulk_solvents.txt").write_text("Toluene\n")  # the analyst's own list wins
    mask = load_rules(copy).by_id("precursor-offer").mask
    assert mask is not None and "Toluene" in mask and "Acetone" not in mask
