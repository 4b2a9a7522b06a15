"""Advancing the simulated clock produces each kind of change, checked against truth."""

from __future__ import annotations

import pytest

from narcwatch.sandbox import SandboxServer, World
from narcwatch.sandbox.clock import Clock
from narcwatch.sandbox.testing import SocksError, fetch

WORLD = World(1, "demo")


def _truth(hours: float) -> list[dict]:
    return list(SandboxServer(WORLD).truth(hours))


def _listings(truth: list[dict]) -> dict[str, dict]:
    return {f"{r['source']}:{r['site_id']}": r for r in truth if r["kind"] == "listing"}


@pytest.fixture(scope="module")
def t0() -> dict[str, dict]:
    return _listings(_truth(0.0))


def test_clock_moves_forward_only() -> None:
    c = Clock()
    assert c.advance(hours=2, days=1) == 26
    with pytest.raises(ValueError):
        c.advance(hours=-1)


def test_new_listings_appear_including_nitazenes_and_fentanyl_analogues(t0: dict[str, dict]) -> None:
    later = _listings(_truth(240.0))
    new = [r for k, r in later.items() if k not in t0]
    assert len(new) > 100
    assert all(r["created_hours"] > 0 or r["vendor_account"].endswith("m") for r in new)
    classes = {r["substances"][0]["class"] for r in new}
    assert {"nitazene", "fentanyl_analogue"} <= classes


def test_prices_change(t0: dict[str, dict]) -> None:
    later = _listings(_truth(400.0))
    same = [k for k in t0 if k in later]
    changed = [k for k in same if later[k]["fields"]["tiers"] != t0[k]["fields"]["tiers"]]
    assert len(changed) > len(same) // 4


def test_listings_sell_out_then_disappear_and_pages_follow() -> None:
    ls = WORLD.listings
    d = next(d for j in range(900) if (d := ls.get("velvet-market", j)) and 50 < d.sold_out_at < 400
             and d.removed_at == d.sold_out_at + 24)
    key = f"velvet-market:{d.site_id}"
    assert _listings(_truth(d.sold_out_at - 1))[key]["fields"]["available"] is True
    assert _listings(_truth(d.sold_out_at + 1))[key]["fields"]["available"] is False
    assert key not in _listings(_truth(d.removed_at + 1))
    clock = Clock(d.sold_out_at + 1)
    with SandboxServer(WORLD, clock=clock) as server:
        url = server.source("velvet-market").base_url + f"listing/{d.site_id}"
        assert "SOLD OUT" in fetch(server, url).text
        clock.set(d.removed_at + 1)
        assert fetch(server, url).status == 404


def test_vendors_migrate_under_a_new_handle_with_the_same_key_or_wallet() -> None:
    person = next(p for p in WORLD.persons if any(a.via == "migrated-pgp" for a in p.accounts))
    old, new = person.accounts
    before, after = _truth(new.active_from - 1), _truth(new.active_from + 1)
    vend_before = {r["site_id"]: r for r in before if r["kind"] == "vendor" and r["source"] == old.market}
    vend_after = {r["site_id"]: r for r in after if r["kind"] == "vendor" and r["source"] == new.market}
    assert old.handle in vend_before and new.handle not in {r["site_id"] for r in before if r["kind"] == "vendor" and r["source"] == new.market}
    assert new.handle in vend_after and new.handle != old.handle
    fpr = lambda r: next(i["value"] for i in r["identifiers"] if i["kind"] == "pgp_fingerprint")  # noqa: E731
    assert fpr(vend_after[new.handle]) == fpr(vend_before[old.handle])
    assert old.handle not in {r["site_id"] for r in after if r["kind"] == "vendor" and r["source"] == old.market}
    wallet_mover = next((p for p in WORLD.persons if any(a.via == "migrated-wallet" for a in p.accounts)), None)
    if wallet_mover is not None:
        acc = wallet_mover.accounts[1]
        rec = next(r for r in _truth(acc.active_from + 1) if r["kind"] == "vendor" and r["site_id"] == acc.handle and r["source"] == acc.market)
        assert {w["address"] for w in rec["wallets"]} & {w.address for w in wallet_mover.wallets.values()}


def test_market_goes_down_for_hours_and_one_exits_for_good() -> None:
    m = WORLD.markets["velvet-market"]
    start, end = m.outages[0]
    down = {r["source"]: r for r in _truth((start + end) / 2) if r["kind"] == "source"}
    assert down["velvet-market"]["up"] is False and down["velvet-market"]["exited"] is False
    assert not any(r.get("source") == "velvet-market" and r["kind"] == "listing" for r in _truth((start + end) / 2))
    clock = Clock((start + end) / 2)
    with SandboxServer(WORLD, clock=clock) as server:
        with pytest.raises(SocksError) as err:
            fetch(server, server.source("velvet-market").base_url)
        assert err.value.code == 4  # host unreachable, as Tor reports an unreachable onion
        clock.set(end + 0.1)
        assert fetch(server, server.source("velvet-market").base_url).status == 200
    gone = WORLD.markets["nebula-market"]
    after = {r["source"]: r for r in _truth(gone.exit_at + 1) if r["kind"] == "source"}
    assert after["nebula-market"]["exited"] is True and after["nebula-market"]["up"] is False


def test_telegram_channel_posts_new_offers() -> None:
    def msgs(h: float) -> list[dict]:
        return [r for r in _truth(h) if r["kind"] == "message"]
    a, b = msgs(0), msgs(100)
    new = [r for r in b if r["site_id"] not in {x["site_id"] for x in a}]
    assert len(new) >= 20 and any(r["offers"] for r in new)
    clock = Clock(0)
    with SandboxServer(WORLD, clock=clock) as server:
        url = server.source("telegram").start_urls[0]
        channel = url.rsplit("/", 1)[1]
        newest = [r["site_id"] for r in new if r["fields"]["channel"] == channel][-1]
        assert f'data-post="{newest}"' not in fetch(server, url).text
        clock.advance(hours=100)
        assert f'data-post="{newest}"' in fetch(server, url).text


def test_forum_grows() -> None:
    a = {r["site_id"] for r in _truth(0) if r["kind"] == "post"}
    b = {r["site_id"] for r in _truth(48) if r["kind"] == "post"}
    assert a < b
