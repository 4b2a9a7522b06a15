"""Partner intelligence -> watch-list files that the alert rules load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from narcwatch.index.alerts.watchlists import WatchKind, load_watchlist
from narcwatch.index.exports import facts_for, to_misp, to_stix
from narcwatch.index.exports.partner import classify, read_partner_file, write_watchlists
from narcwatch.index.identity import Account, Sighting, resolve

FPR = "AB12" * 10
BTC = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"


def _facts():  # type: ignore[no-untyped-def]
    a = Account(source="velvet-market", handle="GreenShop", first_seen="2026-11-02T10:00:00Z",
                last_seen="2026-11-09T10:00:00Z", capture_id="c", capture_sha256="f" * 64, vendor_page=True, listings=1)
    for k, v in {"pgp_fingerprint": FPR, "wallet:BTC": BTC, "telegram": "@green_shop"}.items():
        a.identifiers[(k, v)] = [Sighting(k, v, "velvet-market:1", a.first_seen, a.last_seen, "c", "f" * 64)]
    return facts_for(resolve({a.id: a}))


@pytest.mark.parametrize("value,hint,kind", [
    (FPR, "", WatchKind.PGP),
    ("0x" + FPR, "", WatchKind.PGP),
    (BTC, "", WatchKind.WALLET),
    ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "", WatchKind.WALLET),
    ("@green_shop", "", WatchKind.HANDLE),
    ("not a value at all", "", None),
    ("x" * 600, "", None),
    ("short", "pgp", None),
])
def test_classify(value: str, hint: str, kind: WatchKind | None) -> None:
    assert classify(value, hint) == kind


@pytest.mark.parametrize("fmt", ["stix", "misp", "plain"])
def test_import_round_trip_into_watchlists(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / f"partner.{'txt' if fmt == 'plain' else 'json'}"
    if fmt == "stix":
        src.write_text(to_stix(_facts()).serialize(), encoding="utf-8")
    elif fmt == "misp":
        src.write_text(to_misp(_facts()).to_json(), encoding="utf-8")
    else:
        src.write_text(f"# from partner\n{FPR}  # key\n{BTC}\n@green_shop\n\n", encoding="utf-8")
    items = read_partner_file(src)
    out = write_watchlists(items, tmp_path / "wl", "acme")
    assert BTC in load_watchlist(out[WatchKind.WALLET][0], WatchKind.WALLET)
    assert FPR in load_watchlist(out[WatchKind.PGP][0], WatchKind.PGP)
    assert "green_shop" in load_watchlist(out[WatchKind.HANDLE][0], WatchKind.HANDLE)
    again = write_watchlists(read_partner_file(src), tmp_path / "wl", "acme")
    assert all(added == 0 for _, added in again.values())


def test_stix_indicator_pattern(tmp_path: Path) -> None:
    bundle = {"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "indicator", "id": "indicator--1", "name": "case 41", "pattern_type": "stix",
         "pattern": f"[x-narcwatch-wallet:address = '{BTC}'] OR [user-account:account_login = 'evil\\'s_shop']"}]}
    src = tmp_path / "b.json"
    src.write_text(json.dumps(bundle), encoding="utf-8")
    got = {(i.kind, i.value) for i in read_partner_file(src)}
    assert got == {(WatchKind.WALLET, BTC), (WatchKind.HANDLE, "evil's_shop")}


def test_garbage_json_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "x.json"
    src.write_text('{"type": "not-a-bundle"}', encoding="utf-8")
    with pytest.raises(ValueError, match="neither"):
        read_partner_file(src)
