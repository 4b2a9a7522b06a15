"""The generated world: determinism, proportions, vocabulary, evasions, identities."""

from __future__ import annotations

import io
import json
import unicodedata
from collections import Counter

import pytest

from narcwatch.extract.models import SubstanceClass
from narcwatch.sandbox import World, write_truth
from narcwatch.sandbox import lexicon
from narcwatch.sandbox.ids.cas import valid_cas
from narcwatch.sandbox.ids.onion import valid_onion_v3
from narcwatch.sandbox.ids.pgp import fingerprint_of_block
from narcwatch.sandbox.ids.wallets import validate
from narcwatch.sandbox.world import parse_size


def _truth(seed: int, hours: float = 0.0, size: str = "demo") -> list[dict]:
    buf = io.StringIO()
    write_truth(buf, World(seed, size), hours)
    return [json.loads(line) for line in buf.getvalue().splitlines()]


@pytest.fixture(scope="module")
def truth() -> list[dict]:
    return _truth(1)


def test_same_seed_same_truth_bytes_and_different_seed_differs() -> None:
    a, b, c = io.StringIO(), io.StringIO(), io.StringIO()
    write_truth(a, World(5, "tiny"), 30)
    write_truth(b, World(5, "tiny"), 30)
    write_truth(c, World(6, "tiny"), 30)
    assert a.getvalue() == b.getvalue()
    assert a.getvalue() != c.getvalue()


def test_classes_are_the_extract_vocabulary() -> None:
    assert lexicon.CLASSES == {c.value for c in SubstanceClass}
    assert {s.cls for s in lexicon.SUBSTANCES} <= lexicon.CLASSES
    assert {c.cls for c in lexicon.PRECURSOR_CHEMICALS} <= lexicon.CLASSES


def test_demo_size_and_proportions(truth: list[dict]) -> None:
    listings = [r for r in truth if r["kind"] == "listing"]
    identities = [r for r in truth if r["kind"] == "identity"]
    assert 1500 <= len(listings) <= 2200
    assert len([r for r in identities if "case" not in r]) == 60
    assert Counter(r.get("case") for r in identities if "case" in r) == {"style-only": 4, "look-alike": 8}  # the identity cast
    classes = Counter(r["substances"][0]["class"] for r in listings)
    share = {k: v / len(listings) for k, v in classes.items()}
    assert share["cannabis"] > share["stimulant"] / 2 > 0.05
    assert 0.01 < share["nitazene"] < 0.06 and 0.01 < share["fentanyl_analogue"] < 0.08
    assert {"cannabis", "stimulant", "empathogen", "cathinone", "benzodiazepine", "other_opioid", "fentanyl_analogue",
            "nitazene", "precursor", "psychedelic", "dissociative"} <= set(classes)
    assert len({r["fields"]["currency"] for r in listings}) == 3


def test_evasions_in_a_controlled_share_and_recorded(truth: list[dict]) -> None:
    listings = [r for r in truth if r["kind"] == "listing"]
    evaded = [r for r in listings if r["substances"][0]["evasion"]]
    assert 0.05 < len(evaded) / len(listings) < 0.2
    assert {r["substances"][0]["evasion"] for r in evaded} == {"homoglyph", "leetspeak", "spaced", "zero_width", "misspelling"}
    for r in evaded:
        s = r["substances"][0]
        assert s["surface"] != s["plain"] and s["surface"] in r["fields"]["title"]
        if s["evasion"] == "zero_width":
            assert "\u200b" in s["surface"]
        if s["evasion"] == "homoglyph":
            assert any(unicodedata.name(ch, "").startswith("CYRILLIC") for ch in s["surface"])


def test_every_wallet_onion_cas_and_key_in_truth_is_valid_and_every_decoy_is_not(truth: list[dict]) -> None:
    n_wallets = n_decoys = 0
    for r in truth:
        for w in r.get("wallets", []):
            got = validate(w["address"])
            assert got is not None and got.chain == w["chain"] and got.kind == w["kind"], w
            n_wallets += 1
        for d in r.get("decoys", []):
            if d.get("kind") == "onion":
                assert not valid_onion_v3(d["value"])
            elif d.get("kind") == "cas":
                assert not valid_cas(d["value"])
            else:
                assert validate(d["address"]) is None, d
            n_decoys += 1
        for i in r.get("identifiers", []):
            if i["kind"] == "onion":
                assert valid_onion_v3(i["value"]), i
        for c in r.get("cas", []):
            assert valid_cas(c), c
        if r["kind"] == "vendor":
            assert fingerprint_of_block(r["fields"]["pgp_key"]) == next(
                i["value"] for i in r["identifiers"] if i["kind"] == "pgp_fingerprint")
        if r["kind"] == "source" and r["network"] == "tor":
            assert valid_onion_v3(r["base_url"].split("/")[2])
    assert n_wallets > 50 and n_decoys > 5
    chains = {w["chain"] for r in truth for w in r.get("wallets", [])}
    assert chains == {"BTC", "XMR", "LTC", "ETH", "TRX"} or chains >= {"BTC", "XMR", "LTC", "TRX"}


def test_identities_link_accounts_by_key_or_wallet(truth: list[dict]) -> None:
    ids = [r for r in truth if r["kind"] == "identity"]
    multi = [r for r in ids if len(r["accounts"]) > 1]
    assert multi, "some persons must hold more than one account"
    vias = {a["via"] for r in multi for a in r["accounts"]}
    assert {"cross-listed", "migrated-pgp"} <= vias | {"migrated-wallet"}
    for r in ids:
        fresh_key = [a for a in r["accounts"] if a["via"] in ("migrated-wallet", "style-alias")]
        assert len(r["pgp_fingerprints"]) == (2 if fresh_key else 1)


@pytest.mark.parametrize(("size", "n"), [("demo", 2000), ("1m", 1_000_000), ("250k", 250_000), (5000, 5000), ("tiny", 400)])
def test_parse_size(size: str | int, n: int) -> None:
    assert parse_size(size) == n


@pytest.mark.parametrize("bad", ["huge", "-5", "10", "0"])
def test_parse_size_rejects_with_the_valid_names(bad: str) -> None:
    with pytest.raises(ValueError, match="size|unknown"):
        parse_size(bad)


def test_a_million_listings_world_is_lazy() -> None:
    w = World(1, "1m")
    ls = w.listings
    d = ls.get("velvet-market", 999_999)
    assert d is not None and d.site_id == "1099999"
    rows, pages = ls.category_page("velvet-market", "nitazenes", 600, 20, 0.0)
    assert pages > 600 and all(r.category == "nitazenes" for r in rows)
    assert ls.get.cache_info().currsize < 5000  # nothing like the whole world was built
