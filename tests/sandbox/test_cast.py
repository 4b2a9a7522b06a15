"""The identity cast: labelled style-only actors and look-alike traps, added without
perturbing the generated world, and reachable the way a crawler reaches any listing."""

from __future__ import annotations

import json
from collections import defaultdict
from difflib import SequenceMatcher
from urllib.parse import quote

import pytest

from narcwatch.sandbox.cast import ALIAS_VIA, LOOKALIKE, STYLE_ONLY, cast_size
from narcwatch.sandbox.http import Request
from narcwatch.sandbox.sites._base import Site
from narcwatch.sandbox.truth import build_sites, iter_truth
from narcwatch.sandbox.world import World

SEED, SIZE = 7, 400


def _truth(world: World, hours: float) -> list[dict]:
    return [json.loads(json.dumps(r, sort_keys=True)) for r in iter_truth(world, hours)]


@pytest.fixture(scope="module")
def world() -> World:
    return World(SEED, SIZE)


@pytest.fixture(scope="module")
def truth(world: World) -> list[dict]:
    return _truth(world, 0.0)


def _cast_records(world: World, truth: list[dict]) -> tuple[list[dict], list[dict]]:
    """(records about the cast, the others) of a truth."""
    cast_ids = {p.id for p in world.cast.persons}
    mine = [r for r in truth if r.get("person") in cast_ids]
    return mine, [r for r in truth if r.get("person") not in cast_ids]


@pytest.mark.parametrize("hours", [0.0, 150.0])
def test_the_generated_world_is_byte_identical_with_the_cast(world: World, hours: float) -> None:
    with_cast = _truth(world, hours)
    without = _truth(World(SEED, SIZE, cast=False), hours)
    mine, rest = _cast_records(world, with_cast)
    assert rest == without
    assert len(mine) > 2 * cast_size(SIZE) * 4  # identities, vendor pages and listings


def test_cast_is_labelled_in_the_truth(world: World, truth: list[dict]) -> None:
    ids = {r["person"]: r for r in truth if r["kind"] == "identity" and "case" in r}
    style = [r for r in ids.values() if r["case"] == STYLE_ONLY]
    traps = [r for r in ids.values() if r["case"] == LOOKALIKE]
    assert len(style) == cast_size(SIZE) and len(traps) == 2 * cast_size(SIZE)
    for r in style:
        assert len(r["accounts"]) == 2 and {a["via"] for a in r["accounts"]} == {"home", ALIAS_VIA}
        assert len({a["source"] for a in r["accounts"]}) == 2
    for r in traps:
        other = ids[r["lookalike_of"]]
        assert other["lookalike_of"] == r["person"] and other["case"] == LOOKALIKE
        assert r["accounts"][0]["source"] != other["accounts"][0]["source"]


def _identifiers_by_account(truth: list[dict]) -> dict[tuple[str, str], set[str]]:
    """Every identifier value shown on an account's vendor page or listings."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in truth:
        if r["kind"] not in ("vendor", "listing"):
            continue
        handle = r["fields"].get("handle") or r["fields"].get("vendor")
        acc = out[(r["source"], handle)]
        acc.update(i["value"].lower() for i in r["identifiers"])
        acc.update(w["address"].lower() for w in r["wallets"])
    return out


def _levels(truth: list[dict], source: str, handle: str) -> dict[str, float]:
    """USD per unit of the smallest tier, per substance, from the offers (one currency per market)."""
    out: dict[str, float] = {}
    for r in truth:
        if r["kind"] == "listing" and r["source"] == source and r["fields"]["vendor"] == handle:
            o = r["offers"][0]
            out[r["substances"][0]["canonical"] + o["unit"]] = float(o["price"]) / float(o["quantity"])
    return out


def test_style_only_pairs_share_style_and_prices_but_no_identifier(world: World, truth: list[dict]) -> None:
    idents = _identifiers_by_account(truth)
    fx = {"velvet-market": 1.0, "nebula-market": world.rate("EUR", 0.0)}
    for p in world.cast.persons:
        if world.cast.case[p.index] != STYLE_ONLY:
            continue
        a, b = p.accounts
        assert idents[(a.market, a.handle)] and idents[(b.market, b.handle)]
        assert not idents[(a.market, a.handle)] & idents[(b.market, b.handle)], "a style-only pair shares an identifier"
        assert world.pgp_of(a).fingerprint != world.pgp_of(b).fingerprint
        texts = {acc.id: [r["fields"]["description"] for r in truth if r["kind"] == "listing"
                          and r["fields"]["vendor"] == acc.handle and r["source"] == acc.market] for acc in (a, b)}
        signoff = world.cast.styles[a.id].signoff
        assert all(signoff in t for ts in texts.values() for t in ts) and all(texts.values())
        la, lb = _levels(truth, a.market, a.handle), _levels(truth, b.market, b.handle)
        common = set(la) & set(lb)
        assert common
        for s in common:  # the same price levels (small tier rounding and a few per cent apart)
            ua, ub = la[s] / fx[a.market], lb[s] / fx[b.market]
            assert 0.75 <= ua / ub <= 1.33, (s, ua, ub)


def test_lookalike_traps_are_different_people_with_nothing_shared(world: World, truth: list[dict]) -> None:
    idents = _identifiers_by_account(truth)
    seen = set()
    for p in world.cast.persons:
        if world.cast.case[p.index] != LOOKALIKE or p.index in seen:
            continue
        q = world.cast.person(world.cast.lookalike_of[p.index])
        seen |= {p.index, q.index}
        (a,), (b,) = p.accounts, q.accounts
        assert a.handle != b.handle and SequenceMatcher(None, a.handle.lower(), b.handle.lower()).ratio() >= 0.8
        assert world.pgp_of(a).fingerprint != world.pgp_of(b).fingerprint
        assert not idents[(a.market, a.handle)] & idents[(b.market, b.handle)]
        assert world.cast.styles[a.id] != world.cast.styles[b.id]
    assert len(seen) == 2 * cast_size(SIZE)


def _get(site: Site, path: str, **headers: str) -> tuple[int, str]:
    path_only, _, qs = path.partition("?")
    query = dict(p.split("=", 1) for p in qs.split("&") if "=" in p)
    resp = site(Request("GET", path, path_only, query, {k.replace("_", "-"): v for k, v in headers.items()}, b"",
                        ("127.0.0.1", 1), site.host, 1))
    return resp.status, resp.body.decode("utf-8")


def test_cast_listings_are_reachable_like_any_listing(world: World) -> None:
    sites = {s.id: s for s in build_sites(world)}
    for p in world.cast.persons:
        for acc in p.accounts:
            js = world.cast.by_account[acc.id]
            assert js and all(j < 0 for j in js)
            ls = world.listings
            for j in js:
                d = ls.get(acc.market, j)
                assert d is not None and d.account == acc and ls.visible(d, 0.0)
                assert ls.index_from_site_id(acc.market, d.site_id) == j
            d = ls.get(acc.market, js[0])
            if acc.market == "velvet-market":
                site = sites[acc.market]
                pages = ls.category_page(acc.market, d.category, 0, 10**6, 0.0)[0]
                assert d in pages  # on the category pages a crawler walks
                status, body = _get(site, f"/vendor/{quote(acc.handle)}")
                assert status == 200 and f"/listing/{d.site_id}" in body
                status, body = _get(site, f"/listing/{d.site_id}")
                assert status == 200 and world.cast.styles[acc.id].signoff in body.replace("<br>", "\n")
            else:  # the SPA's infinite-scroll stream ends with the cast
                bound = ls.stream_bound(acc.market, "", 0.0)
                assert j in {ls.stream_index(acc.market, "", pos, 0.0) for pos in range(bound)}
    assert World(SEED, SIZE).listings.index_from_site_id("velvet-market", "99000") is None  # below the cast range
