"""Watch-list files: text with comments, CSV, per-kind normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from narcwatch.index.alerts.watchlists import WatchKind, WatchlistError, load_watchlist


def test_text_watchlist_with_comments(tmp_path: Path) -> None:
    p = tmp_path / "wallets.txt"
    p.write_text("# wallets of case 41\n\nbc1QEXAMPLE0000watched  # seized phone\n0xAbCdEf0000000000000000000000000000000001\n"
                 "1BoatSLRHtKNngkdXEeobR76b53LETtpyT\n")
    wl = load_watchlist(p, WatchKind.WALLET)
    assert len(wl) == 3
    assert "bc1qexample0000watched" in wl  # bech32 is case-insensitive
    assert "0xabcdef0000000000000000000000000000000001" in wl
    assert "1BoatSLRHtKNngkdXEeobR76b53LETtpyT" in wl
    assert "1boatslrhtknngkdxeeobr76b53lettpyt" not in wl  # base58 is case-sensitive
    assert wl.entries["bc1qexample0000watched"] == "seized phone"


def test_csv_watchlist_value_and_note_columns(tmp_path: Path) -> None:
    p = tmp_path / "pgp.csv"
    p.write_text("note,value\ncase 7,AAAA BBBB CCCC DDDD EEEE  FFFF 0000 1111 2222 3333\n,\nshort,\n")
    wl = load_watchlist(p, WatchKind.PGP)
    assert list(wl.entries) == ["AAAABBBBCCCCDDDDEEEEFFFF0000111122223333"]
    assert "aaaabbbbccccddddeeeeffff0000111122223333" in wl


@pytest.mark.parametrize(("kind", "listed", "seen", "hit"), [
    (WatchKind.HANDLE, "@NordicLab_Fict", "nordiclab_fict", True),
    (WatchKind.SUBSTANCE, "Metonitazene", "metonitazene", True),
    (WatchKind.SUBSTANCE, "N-pyrrolidino  etonitazene", "n-pyrrolidino etonitazene", True),
    (WatchKind.ANY, "Vendor", "vendor", True),
    (WatchKind.HANDLE, "alpha", "alphabet", False),
])
def test_normalised_membership(tmp_path: Path, kind: WatchKind, listed: str, seen: str, hit: bool) -> None:
    p = tmp_path / "w.txt"
    p.write_text(listed + "\n")
    assert (seen in load_watchlist(p, kind)) is hit


def test_hits_ignore_garbage(tmp_path: Path) -> None:
    p = tmp_path / "w.txt"
    p.write_text("abc\n")
    wl = load_watchlist(p)
    assert wl.hits([None, {"x": 1}, ["abc"], 12, "ABC", "abc"]) == ["abc"]


def test_unreadable_watchlist_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match="missing.txt"):
        load_watchlist(tmp_path / "missing.txt")
    p = tmp_path / "long.txt"
    p.write_text("ok\n" + "x" * 600 + "\n")
    with pytest.raises(WatchlistError, match=r"long.txt:2"):
        load_watchlist(p)
