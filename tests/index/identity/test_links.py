"""Identity resolution on hand-built accounts: strong links, look-alikes, phrasing, decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from narcwatch.index.identity import Account, DecisionStore, Sighting, resolve
from narcwatch.index.identity.handles import fold, similarity


def _acc(source: str, handle: str, ids: dict[str, str] | None = None, texts: list[str] | None = None,
         subs: list[str] | None = None, vendor: bool = True) -> Account:
    a = Account(source=source, handle=handle, first_seen="2026-11-02T10:00:00Z", last_seen="2026-11-09T10:00:00Z",
                capture_id="cap", capture_sha256="0" * 64, vendor_page=vendor, listings=1 if vendor else 0)
    for k, v in (ids or {}).items():
        a.identifiers[(k, v)] = [Sighting(k, v, f"{source}:1", a.first_seen, a.last_seen, "cap", "0" * 64)]
    a.texts = texts or []
    a.substances = {s: 1 for s in subs or []}
    return a


def _world(*accs: Account) -> dict[str, Account]:
    return {a.id: a for a in accs}


@pytest.mark.parametrize("a,b,same", [
    ("DarkPanda", "dark_panda", True),
    ("D4rkP4nda_official", "DarkPanda", True),
    ("alpine_tigerShop", "alpine_tiger", True),
    ("FrostyDragon2", "FrostyDragon", True),
    ("GreenPanda", "GreenShop", False),
    ("", "x", False),
])
def test_handle_folding(a: str, b: str, same: bool) -> None:
    assert (similarity(a, b) == 1.0) is same
    assert isinstance(fold("\x00" * 500), str)


def test_shared_pgp_links_migrated_account() -> None:
    w = _world(_acc("velvet-market", "GreenShop", {"pgp_fingerprint": "AB" * 20}),
               _acc("taiga-market", "wildbear61", {"pgp_fingerprint": "ab" * 20}),
               _acc("nebula-market", "other", {"pgp_fingerprint": "CD" * 20}))
    res = resolve(w)
    assert res.actor_of["velvet-market/greenshop"] == res.actor_of["taiga-market/wildbear61"]
    assert res.actor_of["nebula-market/other"] != res.actor_of["velvet-market/greenshop"]
    link = next(l for l in res.links if l.strength == "strong")
    assert link.evidence[0].kind == "pgp_fingerprint" and link.evidence[0].sightings


def test_posters_quoting_a_contact_are_not_linked() -> None:
    w = _world(_acc("dredge-forum", "newbie", {"telegram": "@x_shop_real"}, vendor=False),
               _acc("dredge-forum", "modteam", {"telegram": "@x_shop_real"}, vendor=False))
    assert len(resolve(w).actors) == 2


def test_identifier_on_many_accounts_is_not_personal() -> None:
    w = _world(*[_acc(f"m{i}", f"v{i}", {"wallet:BTC": "1Escrow"}) for i in range(6)])
    assert len(resolve(w).actors) == 6


def test_lookalike_handles_with_different_product_lines_stay_apart() -> None:
    w = _world(_acc("velvet-market", "GreenPanda", subs=["Cannabis", "Hashish"]),
               _acc("taiga-market", "green_panda", subs=["Fentanyl", "Heroin"]))
    assert len(resolve(w).actors) == 2


def test_same_storefront_product_line_and_prices_link_weakly() -> None:
    a, b = _acc("velvet-market", "LabsDark", subs=["Cannabis", "Hashish"]), _acc("nebula-market", "LabsDarkShop", subs=["Cannabis", "Hashish"])
    a.usd_per_gram, b.usd_per_gram = {"Cannabis": [9.0], "Hashish": [11.0]}, {"Cannabis": [9.5], "Hashish": [10.5]}
    res = resolve(_world(a, b))
    assert len(res.actors) == 1
    assert len(resolve(_world(a, b), weak=False).actors) == 2
    assert {e.kind for e in res.links[0].evidence} >= {"handle", "product_line", "price_level"}


def test_same_storefront_and_product_line_alone_is_a_lookalike_not_a_link() -> None:
    # The sandbox's look-alike traps: one edit apart, same category, nothing else in common.
    w = _world(_acc("velvet-market", "NordicPharm", subs=["Cannabis", "Hashish"]),
               _acc("nebula-market", "NordicPharma", subs=["Cannabis", "Hashish"]))
    assert len(resolve(w).actors) == 2


def test_shared_unusual_phrasing_links_different_handles() -> None:
    style = ("Packed by hand in our quiet moon room, every parcel gets the triple owl seal and a "
             "little paper crane so you know it is us, thank you for the kind words friends ")
    filler = [f"common words about shipping and stealth number {i} every day" for i in range(3)]
    w = _world(_acc("velvet-market", "alpha", texts=[style + "batch one"] + filler),
               _acc("taiga-market", "zeta", texts=[style + "batch two"] + filler),
               *[_acc("nebula-market", f"n{i}", texts=filler) for i in range(5)])
    res = resolve(w)
    assert res.actor_of["velvet-market/alpha"] == res.actor_of["taiga-market/zeta"]
    assert len(resolve(w, weak=False).actors) == 7


def test_analyst_decisions_persist_and_win(tmp_path: Path) -> None:
    w = _world(_acc("velvet-market", "a1", {"wallet:BTC": "1Shared"}), _acc("taiga-market", "b2", {"wallet:BTC": "1Shared"}),
               _acc("nebula-market", "c3"))
    with DecisionStore(tmp_path / "identity.sqlite") as ds:
        ds.decide("velvet-market/a1", "taiga-market/b2", "split", "analyst1", "shared escrow wallet")
        ds.decide("nebula-market/c3", "velvet-market/a1", "confirmed", "analyst1")
    with DecisionStore(tmp_path / "identity.sqlite") as ds:
        decisions = ds.all()
    res = resolve(w, decisions)
    assert res.actor_of["velvet-market/a1"] != res.actor_of["taiga-market/b2"]
    assert res.actor_of["velvet-market/a1"] == res.actor_of["nebula-market/c3"]
    with pytest.raises(ValueError):
        DecisionStore(tmp_path / "x.sqlite").decide("a", "b", "maybe")


def test_actor_ids_are_deterministic() -> None:
    w = _world(_acc("velvet-market", "a1", {"email": "a@x.invalid"}), _acc("taiga-market", "b2", {"email": "A@x.invalid"}))
    assert [a.id for a in resolve(w).actors] == [a.id for a in resolve(dict(reversed(list(w.items())))).actors]
