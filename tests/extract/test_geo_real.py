"""find_shipping on real market data against the datasets' own ships_from/ships_to labels.

Dream Market (July 2017): the dataset's ``ships_from``/``ships_to`` columns were derived by
its author's script from the market's ``ships_from_to`` field (``NL  → WW, EU``); we parse
that same field and must agree with every row. Titles also name places, and there "from
Colombia" is usually where the product comes from, not where the parcel ships from: those
disagreements are counted apart, openly, not hidden.

Agora (January 2014): ``from``/``to`` are the market's free-text fields. Values that name no
place (``Torland``, ``Internet``, ``undeclared``, ``NA`` = not stated) are counted as
non-place labels, separately from our misses.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from narcwatch.extract.geo import find_shipping, place_code

_PRODUCT_ORIGINS = {"CO", "PE", "BO", "EC"}  # coca producers: "from Peru" names the product's origin
_NOT_PLACES = {"torland", "internet", "undeclared", "na", "", "worldwide except", "none"}


def _rows(shared_data: Path, name: str) -> list[dict[str, str]]:
    path = shared_data / "markets" / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _codes(value: str) -> list[str]:
    return [c for c in (place_code(part) for part in value.split(",")) if c]


def test_dream_ships_field_matches_labels(shared_data: Path) -> None:
    rows = _rows(shared_data, "dream_market_cocaine_listings.csv")
    agree = 0
    wrong: list[tuple[str, str, str, tuple[list[str], list[str]]]] = []
    for r in rows:
        got = find_shipping(r["ships_from_to"])
        want = (_codes(r["ships_from"]), _codes(r["ships_to"]))
        if (sorted(got[0]), sorted(got[1])) == (sorted(want[0]), sorted(want[1])):
            agree += 1
        else:
            wrong.append((r["ships_from_to"], r["ships_from"], r["ships_to"], got))
    print(f"\nDream ships_from_to field: {agree}/{len(rows)} agree with ships_from/ships_to", *wrong[:20], sep="\n  ")
    assert agree == len(rows)


def test_dream_titles_against_labels(shared_data: Path) -> None:
    rows = _rows(shared_data, "dream_market_cocaine_listings.csv")
    stated = agree = origin = 0
    other: Counter[str] = Counter()
    for r in rows:
        got_from, got_to = find_shipping(r["product_title"])
        if not (got_from or got_to):
            continue
        stated += 1
        want_from, want_to = set(_codes(r["ships_from"])), set(_codes(r["ships_to"]))
        ok_from = not got_from or set(got_from) == want_from
        ok_to = not got_to or set(got_to) <= want_to | {"WW"}
        if ok_from and ok_to:
            agree += 1
        elif not got_to and set(got_from) <= _PRODUCT_ORIGINS:
            origin += 1  # "Cocaine from PERU": the product's origin, a known limit of a bare "from"
        else:
            other[f"{r['product_title']!r} labels {r['ships_from']}->{r['ships_to']} got {got_from}->{got_to}"] += 1
    print(
        f"\nDream titles stating a place: {stated}; agree {agree}; product origin read as ships-from {origin}; "
        f"other disagreements {sum(other.values())}",
        *other,
        sep="\n  ",
    )
    # Read by hand: all 13 others are titles that contradict the listing's own market field
    # ("FROM UK" x8 where the field says DE; "UK2EU" x5 where it says GB -> GB). The text is
    # read right; which of the vendor's two statements is true cannot be shown from here.
    assert agree >= 39 and origin <= 19 and sum(other.values()) <= 13


def test_agora_fields_and_text(shared_data: Path) -> None:
    rows = _rows(shared_data, "agora_vendor_listings_2014-01.csv")
    labelled = mapped = not_place = 0
    unmapped: Counter[str] = Counter()
    text_stated = text_agree = 0
    disagree: Counter[str] = Counter()
    for r in rows:
        for value in (r["from"], r["to"]):
            v = value.strip()
            if v.casefold() in _NOT_PLACES:
                not_place += 1
                continue
            labelled += 1
            if find_shipping("", {"ships_from": v})[0]:
                mapped += 1
            else:
                unmapped[v] += 1
        frm = find_shipping("", {"ships_from": r["from"]})[0] if r["from"].casefold() not in _NOT_PLACES else []
        got_from, _ = find_shipping(f"{r['product']} {r['description']}")
        if got_from and frm:
            text_stated += 1
            if set(got_from) & set(frm) or (set(got_from) & {"EU"} and frm):
                text_agree += 1
            else:
                disagree[f"{r['product'][:60]!r} from={r['from']} got {got_from}"] += 1
    print(
        f"\nAgora from/to values: {labelled} place labels, {mapped} mapped to a code ({mapped / labelled:.3f}); "
        f"{not_place} non-place labels (NA, Torland, Internet, undeclared)",
        "  most common unmapped: " + ", ".join(f"{k} ({n})" for k, n in unmapped.most_common(15)),
        f"  text states ships-from and the field has a place: {text_stated}; agree {text_agree}",
        *list(disagree)[:15],
        sep="\n",
    )
    # Unmapped labels read by hand: the dataset's parser cut place names into words ("Hong",
    # "Kong", "United", "South", "Africa", "Czech", "Republic": demonstrably broken labels),
    # plus non-places ("Agora", "Beta", "Please", "Ships"). Text disagreements are mostly
    # product origins ("IMPORTED DUTCH MDMA", "Black Tar" read as MX) - a limit of free text.
    assert mapped / labelled >= 0.92 and text_agree >= 86
