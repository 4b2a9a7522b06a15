"""Identifier generators and the sandbox's private validators, checked against the
reference vectors in shared/data (read in place) and against each other."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from narcwatch.sandbox._rng import material
from narcwatch.sandbox.ids import cas, onion, pgp, wallets

# -- generated addresses: every kind validates, every decoy does not ----------------------------
KINDS = [(chain, kind) for chain, kinds in wallets.KINDS.items() for kind in kinds]


@pytest.mark.parametrize(("chain", "kind"), KINDS, ids=[f"{c}-{k}" for c, k in KINDS])
@pytest.mark.parametrize("salt", range(5))
def test_generated_addresses_validate_and_decoys_do_not(chain: str, kind: str, salt: int) -> None:
    w = wallets.make_address(chain, kind, material(7, chain, kind, salt))
    assert wallets.validate(w.address) == w
    d = wallets.decoy(w, salt)
    assert d != w.address and len(d) == len(w.address)
    assert wallets.validate(d) is None


# -- reference vectors ------------------------------------------------------------------------------
def test_bitcoin_core_mainnet_vectors(shared_data: Path) -> None:
    rows = json.loads((shared_data / "crypto" / "bitcoin_core_key_io_valid.json").read_text())
    checked = 0
    for addr, script, meta in rows:
        if meta.get("chain") != "main" or meta.get("isPrivkey"):
            continue
        got = wallets.validate(addr)
        kinds = {"76a9": "p2pkh", "a914": "p2sh", "0014": "p2wpkh", "5120": "p2tr"}
        expected = kinds.get(script[:4])
        if expected is None:  # other witness versions / lengths: not a kind the sandbox plants
            assert got is None, addr
            continue
        assert got is not None and got.kind == expected, addr
        checked += 1
    assert checked >= 8


def test_bitcoin_core_invalid_vectors_rejected(shared_data: Path) -> None:
    rows = json.loads((shared_data / "crypto" / "bitcoin_core_key_io_invalid.json").read_text())
    assert len(rows) > 50
    for (addr, *_rest) in rows:
        assert wallets.validate(addr) is None, addr


def test_eip55_vectors(shared_data: Path) -> None:
    data = json.loads((shared_data / "crypto" / "eip55_vectors.json").read_text())
    for v in data["vectors"]:
        assert (wallets.validate(v["address"]) is not None) == (v["address"] == v["eip55_checksum_form"]), v


def test_monero_vectors(shared_data: Path) -> None:
    data = json.loads((shared_data / "crypto" / "monero_address_vectors.json").read_text())
    seen = 0
    for v in data["vectors"]:
        if v.get("kind") in ("standard", "subaddress") and v.get("net") == "const.NET_MAIN":
            got = wallets.validate(v["address"])
            assert (got is not None) == bool(v["expected_valid"]), v["address"]
            if got is not None:
                assert got.kind == v["kind"]
            seen += 1
    assert seen >= 2


# -- onion v3, CAS, PGP ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", range(10))
def test_onion_v3_valid_and_decoy_invalid(n: int) -> None:
    name = onion.onion_v3(material(3, "onion", n, n=32))
    assert len(name) == 62 and onion.valid_onion_v3(name) and onion.valid_onion_v3(name.upper())
    assert not onion.valid_onion_v3(onion.onion_v3_decoy(name, n))


@pytest.mark.parametrize(("text", "ok"), [
    ("39742-60-4", True), ("21409-26-7", True), ("79099-07-3", True), ("67-64-1", True),
    ("39742-60-5", False), ("67-64-2", False), ("0067-64-1", False), ("39742604", False), ("", False),
])
def test_cas_check_digit(text: str, ok: bool) -> None:
    assert cas.valid_cas(text) is ok


@pytest.mark.parametrize("n", [0, 1, 12345, 9_999_999])
def test_generated_cas_valid_and_decoy_invalid(n: int) -> None:
    c = cas.make_cas(n)
    assert cas.valid_cas(c) and not cas.valid_cas(cas.cas_decoy(c))


def test_pgp_block_fingerprint_roundtrip() -> None:
    key = pgp.make_key(material(1, "k", n=32), "vendor <vendor@sandbox.invalid>", 1_600_000_000)
    assert pgp.fingerprint_of_block(key.public_block) == key.fingerprint
    assert len(key.fingerprint) == 40 and key.public_block.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert pgp.fingerprint_of_block("garbage") is None


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg not installed")
def test_gnupg_imports_key_and_verifies_clearsigned_message(tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    key = pgp.make_key(material(2, "k", n=32), "sandbox <s@sandbox.invalid>", 1_600_000_000)
    (tmp_path / "k.asc").write_text(key.public_block + "\n")
    (tmp_path / "m.asc").write_text(key.clearsign("hello\n-dash line\ntrailing   ", 1_600_000_100) + "\n")
    env = {"GNUPGHOME": str(home), "PATH": "/usr/bin:/bin"}
    imp = subprocess.run(["gpg", "--batch", "--import", str(tmp_path / "k.asc")], capture_output=True, text=True, env=env, timeout=60)
    assert imp.returncode == 0, imp.stderr
    ver = subprocess.run(["gpg", "--batch", "--verify", str(tmp_path / "m.asc")], capture_output=True, text=True, env=env, timeout=60)
    assert ver.returncode == 0 and "Good signature" in ver.stderr
    tampered = (tmp_path / "m.asc").read_text().replace("hello", "hellO")
    (tmp_path / "t.asc").write_text(tampered)
    bad = subprocess.run(["gpg", "--batch", "--verify", str(tmp_path / "t.asc")], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode != 0
