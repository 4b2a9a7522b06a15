"""``narcwatch vendor links`` and ``vendor link confirm|split`` on a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from narcwatch.cli import app
from narcwatch.index.sqlite import SqliteStore

from ..conftest import corpus, extraction, listing, week

PGP = "ABCD1234ABCD1234ABCD1234ABCD1234ABCD1234"


@pytest.fixture
def filled(data_dir: Path) -> Path:
    store = SqliteStore(data_dir / "store.sqlite")
    store.ingest([*corpus(), (listing("gamma", "8", "Etonitazene 5g", vendor="GreenDoc", at=week(1), crawl="c2"),
                              extraction("etonitazene", "nitazene", grams="5", usd="210", pgp=PGP))])
    store.close()
    return data_dir


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def _links(name: str) -> dict:
    code, out, err = run("vendor", "links", name, "--json")
    assert code == 0, err
    return json.loads(out)


def test_links_show_evidence_with_provenance(filled: Path) -> None:
    got = _links("GreenDoc")
    assert "beta/drgreen" in got["accounts"] and "gamma/greendoc" in got["accounts"]
    link = next(l for l in got["links"] if {l["a"], l["b"]} == {"beta/drgreen", "gamma/greendoc"})
    assert link["strength"] == "strong" and link["joins"] and link["decision"] == ""
    ev = link["evidence"][0]
    assert ev["kind"] == "pgp_fingerprint" and ev["value"] == PGP
    assert {p["capture_id"] for p in ev["provenance"]} >= {"cap-beta-9-c1", "cap-gamma-8-c2"}


def test_split_then_confirm_persist_and_win(filled: Path) -> None:
    code, out, _ = run("vendor", "link", "split", "beta/DrGreen", "gamma/GreenDoc", "--analyst", "a.k", "-m", "shared key sold")
    assert code == 0 and "split: beta/drgreen <-> gamma/greendoc by a.k" in out
    got = _links("gamma/greendoc")
    assert got["accounts"] == ["gamma/greendoc"]  # the split wins over the shared PGP fingerprint
    link = next(l for l in got["links"] if {l["a"], l["b"]} == {"beta/drgreen", "gamma/greendoc"})
    assert (link["decision"], link["analyst"], link["note"], link["joins"]) == ("split", "a.k", "shared key sold", False)
    assert link["at"].startswith("20")
    code, _, _ = run("vendor", "link", "confirm", "gamma/greendoc", "gamma/benzobarn", "--analyst", "b.m")
    assert code == 0
    got = _links("BenzoBarn")
    assert set(got["accounts"]) == {"gamma/benzobarn", "gamma/greendoc"}
    assert any(l["decision"] == "confirmed" and l["analyst"] == "b.m" for l in got["links"])
    code, out, _ = run("vendor", "links", "BenzoBarn")  # the table form
    assert code == 0 and "confirmed" in out and "b.m" in out


@pytest.mark.parametrize("args,message", [
    (("vendor", "link", "split", "nobody/x", "gamma/greendoc"), "no account 'nobody/x'"),
    (("vendor", "link", "split", "DrGreen", "gamma/greendoc"), "ambiguous account 'DrGreen'"),
    (("vendor", "link", "confirm", "gamma/greendoc", "gamma/greendoc"), "two different accounts"),
    (("vendor", "links", "nobody"), "no account or actor 'nobody'"),
])
def test_bad_references_are_explained(filled: Path, args: tuple[str, ...], message: str) -> None:
    code, _, err = run(*args)
    assert code == 1 and message in err


def test_vendor_name_still_shows_the_vendor(filled: Path) -> None:
    code, out, _ = run("vendor", "GreenDoc")
    assert code == 0 and "GreenDoc" in out and "pgp_fingerprint" in out
