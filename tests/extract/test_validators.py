"""Validators against the reference vectors in ../shared/data/crypto (read in place).

Figures asserted here are facts about correctness: every valid Bitcoin Core address
accepted with its network and scriptPubKey, none of the invalid strings accepted, the
BIP-173/350 and EIP-55 vectors, Monero's foreign-network rejections, and agreement with
the community multicoin table apart from a documented list of data errors.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from narcwatch.extract.validators._b58 import b58check_decode, b58check_encode, xmr_b58decode, xmr_b58encode
from narcwatch.extract.validators._bech32 import Encoding, bech32_decode, segwit_decode, segwit_encode
from narcwatch.extract.validators.addresses import btc_address, classify, eip55_checksum, valid_for
from narcwatch.extract.validators.cas import cas_check_digit, cas_valid
from narcwatch.extract.validators.onion import onion_v3_address, onion_v3_valid
from narcwatch.extract.validators.pgp import crc24, dearmor, fingerprint, parse_armored_keys

DATA = Path(__file__).parent / "data"

# Bitcoin Core names the chain; the address encodes only the encoding network: base58
# testnet bytes are shared by testnet3/4, signet and regtest, the tb hrp by testnet/signet.
_B58_NET = {"main": "mainnet", "test": "testnet", "testnet4": "testnet", "signet": "testnet", "regtest": "testnet"}
_SEGWIT_NET = {"main": "mainnet", "test": "testnet", "testnet4": "testnet", "signet": "testnet", "regtest": "regtest"}


def _load(shared: Path, name: str):
    path = shared / "crypto" / name
    if not path.exists():
        pytest.skip(f"{path} absent")
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return json.loads(path.read_text())


# -- Bitcoin Core key_io ------------------------------------------------------------------


def test_bitcoin_core_valid_addresses_accepted_with_network_and_script(shared_data: Path) -> None:
    rows = _load(shared_data, "bitcoin_core_key_io_valid.json")
    addresses = [r for r in rows if not r[2].get("isPrivkey")]
    assert len(addresses) >= 50
    for s, spk, meta in addresses:
        got = classify(s)
        assert got is not None, s
        assert got.chain == "BTC", s
        nets = _SEGWIT_NET if got.witness_version is not None else _B58_NET
        assert got.network == nets[meta["chain"]], (s, meta)
        assert got.script_pubkey().hex() == spk, s


def test_bitcoin_core_private_keys_are_not_wallets(shared_data: Path) -> None:
    rows = _load(shared_data, "bitcoin_core_key_io_valid.json")
    keys = [r[0] for r in rows if r[2].get("isPrivkey")]
    assert keys and not [k for k in keys if classify(k) or any(valid_for(k, c) for c in ("BTC", "LTC", "TRX"))]


def test_bitcoin_core_invalid_strings_rejected_by_every_chain(shared_data: Path) -> None:
    rows = _load(shared_data, "bitcoin_core_key_io_invalid.json")
    strings = [r[0] for r in rows]
    accepted = [s for s in strings if classify(s) or any(valid_for(s, c) for c in ("BTC", "LTC", "ETH", "XMR", "TRX"))]
    assert accepted == []
    # the hard ones: checksum passes, version byte or length is wrong
    checksum_ok = [s for s in strings if b58check_decode(s) is not None]
    assert len(checksum_ok) == 21


# -- BIP-173 / BIP-350 --------------------------------------------------------------------


def test_bech32_reference_strings(shared_data: Path) -> None:
    d = _load(shared_data, "bech32_bech32m_vectors.json")
    for s in d["VALID_BECH32"]:
        assert (got := bech32_decode(s)) and got[2] is Encoding.BECH32, s
    for s in d["VALID_BECH32M"]:
        assert (got := bech32_decode(s)) and got[2] is Encoding.BECH32M, s
    for item in d["INVALID_BECH32"]:
        got = bech32_decode(item["string"])
        assert got is None or got[2] is not Encoding.BECH32, item
    for item in d["INVALID_BECH32M"]:
        got = bech32_decode(item["string"])
        assert got is None or got[2] is not Encoding.BECH32M, item


def test_bech32_reference_addresses(shared_data: Path) -> None:
    d = _load(shared_data, "bech32_bech32m_vectors.json")
    for item in d["VALID_ADDRESS"]:
        got = btc_address(item["address"])
        assert got is not None and got.script_pubkey().hex() == item["scriptpubkey_hex"], item
    for item in d["INVALID_ADDRESS"]:
        assert btc_address(item["string"]) is None, item
    for item in d["INVALID_ADDRESS_ENC"]:
        assert segwit_encode(item["hrp"], item["witver"], bytes(item["witprog_len"])) is None, item


def test_bip_texts_three_bip173_v1_addresses_invalid_under_bip350(shared_data: Path) -> None:
    d = _load(shared_data, "bip173_bip350_vectors.json")
    valid173 = next(s for s in d["bip-0173"] if s["heading"].startswith("The following list gives valid segwit"))
    valid350 = next(s for s in d["bip-0350"] if s["heading"].startswith("The following list gives valid segwit"))
    invalid350 = next(s for s in d["bip-0350"] if s["heading"].startswith("The following list gives invalid segwit"))
    for item in valid350["items"]:
        got = segwit_decode(item["string"])
        assert got is not None and btc_address(item["string"]) is not None, item
    superseded = [i["string"] for i in valid173["items"] if segwit_decode(i["string"]) is None]
    assert len(superseded) == 3
    assert all(segwit_decode(s) is None or s.lower().startswith("bc1q") for s in superseded)
    for item in invalid350["items"]:
        assert btc_address(item["string"]) is None, item


# -- EIP-55, Monero --------------------------------------------------------------------------


def test_eip55_vectors(shared_data: Path) -> None:
    d = _load(shared_data, "eip55_vectors.json")
    for v in d["vectors"]:
        got = classify(v["address"])
        assert got is not None and got.chain == "ETH"
        assert got.address == v["eip55_checksum_form"]
        assert got.confidence == (1.0 if v["group"] == "normal" else 0.8)
        assert "0x" + eip55_checksum(v["address"][2:]) == v["eip55_checksum_form"]


def test_eip55_one_flipped_case_is_not_an_address(shared_data: Path) -> None:
    d = _load(shared_data, "eip55_vectors.json")
    for v in (v for v in d["vectors"] if v["group"] == "normal"):
        addr = v["address"]
        i = next(i for i, c in enumerate(addr) if i > 1 and c.isalpha())
        flipped = addr[:i] + addr[i].swapcase() + addr[i + 1 :]
        assert classify(flipped) is None, flipped


_XMR_NET = {"const.NET_MAIN": "mainnet", "const.NET_TEST": "testnet", "const.NET_STAGE": "stagenet"}


def test_monero_vectors(shared_data: Path) -> None:
    d = _load(shared_data, "monero_address_vectors.json")
    for v in d["vectors"]:
        got = classify(v["address"])
        if v["expected_valid"]:
            assert got is not None and (got.chain, got.network, got.kind) == ("XMR", _XMR_NET[v["net"]], v["kind"]), v
            assert got.program.hex() == v.get("public_spend_key", got.program[:32].hex()) + v.get(
                "public_view_key", got.program[32:].hex()
            )
        else:
            assert got is None, v


def test_monero_base58_round_trip(shared_data: Path) -> None:
    d = _load(shared_data, "monero_address_vectors.json")
    for v in d["vectors"]:
        raw = xmr_b58decode(v["address"])
        if raw is not None:
            assert xmr_b58encode(raw) == v["address"]


# -- multicoin-address-validator (community data) ------------------------------------------

_CURRENCY = {"bitcoin": "BTC", "btc": "BTC", "litecoin": "LTC", "ltc": "LTC", "monero": "XMR", "xmr": "XMR",
             "trx": "TRX", "tron": "TRX", "ethereum": "ETH", "eth": "ETH"}  # fmt: skip
_TETHER_CHAIN = {"tron": "TRX", "trc20": "TRX", "erc20": "ETH", "ethereum": "ETH", "omni": "BTC", "": "BTC|ETH"}

# Rows of the community table we read and judged to be wrong (or a policy we do not share).
DATA_ERRORS = {
    # version byte 0x26 is Bitcoin Gold's P2PKH, not a Bitcoin testnet byte (0x6f/0xc4)
    ("BTC", "GSa5espVLNseXEfKt46zEdS6jrPkmFghBU"),
    # version 0x05: Litecoin's P2SH byte before the 2018 switch to 'M'; valid for LTC,
    # although classify() reports it as BTC P2SH (the byte both chains use)
    ("LTC", "3FLj1iFqS359KvBXeaStPgqX7hgyifVKbN"),
}


def _multicoin_rows(shared: Path):
    for r in _load(shared, "multicoin_address_vectors.jsonl"):
        cur = (r.get("currency") or "").lower()
        opts = r.get("opts") if isinstance(r.get("opts"), dict) else {}
        if cur in ("usdt", "tether"):
            chain = _TETHER_CHAIN.get((opts.get("chainType") or "").lower())
            if chain:
                yield "USDT", chain, r
        elif cur in _CURRENCY:
            yield _CURRENCY[cur], _CURRENCY[cur], r


def test_multicoin_agreement_per_currency(shared_data: Path) -> None:
    agree, total, disagreements = Counter(), Counter(), set()
    for currency, chains, r in _multicoin_rows(shared_data):
        got = any(valid_for(r["address"], c) for c in chains.split("|"))
        total[currency] += 1
        if got == r["expected_valid"]:
            agree[currency] += 1
        else:
            disagreements.add((chains, r["address"]))
    report = {c: f"{agree[c]}/{total[c]}" for c in sorted(total)}
    print("multicoin agreement:", report)
    assert set(total) == {"BTC", "ETH", "LTC", "TRX", "USDT", "XMR"}
    assert disagreements == DATA_ERRORS, report


# -- onion, CAS ------------------------------------------------------------------------------


def _fictional_onion(seed: str) -> str:
    return onion_v3_address(hashlib.sha256(seed.encode()).digest())


@pytest.mark.parametrize("seed", ["vendor-a", "vendor-b", "market-mirror"])
def test_onion_v3_checksum(seed: str) -> None:
    label = _fictional_onion(seed).removesuffix(".onion")
    assert onion_v3_valid(label) and onion_v3_valid(label.upper())
    i = 10
    corrupted = label[:i] + ("a" if label[i] != "a" else "b") + label[i + 1 :]
    assert not onion_v3_valid(corrupted)
    raw = bytearray(base64.b32decode(label.upper()))
    raw[34] = 2  # version byte other than 3
    assert not onion_v3_valid(base64.b32encode(bytes(raw)).decode().lower())


@dataclass(frozen=True)
class Cas:
    value: str
    valid: bool
    note: str = ""


_CAS_EXAMPLES = [
    Cas("50-00-0", True, "formaldehyde"),
    Cas("7732-18-5", True, "water"),
    Cas("1972-08-3", True, "dronabinol: looks like a date, is not"),
    Cas("437-38-7", True, "fentanyl"),
    Cas("59708-52-0", True, "carfentanil"),
    Cas("14188-81-9", True, "isotonitazene"),
    Cas("21409-26-7", True, "4-ANPP"),
    Cas("39742-60-4", True, "NPP"),
    Cas("50-00-1", False, "wrong check digit"),
    Cas("05-00-0", False, "zero-padded"),
    Cas("5-00-0", False, "first part too short"),
    Cas("12345678-00-0", False, "first part too long"),
    Cas("50-0-0", False, "middle part one digit"),
    Cas("50–00–0", False, "en dashes"),
    Cas("５０-００-０", False, "fullwidth digits"),
]


@pytest.mark.parametrize("ex", _CAS_EXAMPLES, ids=lambda e: f"{e.value}-{e.note or e.valid}")
def test_cas(ex: Cas) -> None:
    assert cas_valid(ex.value) is ex.valid


def test_cas_check_digit() -> None:
    assert cas_check_digit("773218") == 5


# -- OpenPGP ---------------------------------------------------------------------------------

_FPR = json.loads((DATA / "expected_fingerprints.json").read_text())
_ASC = sorted(p.name for p in DATA.glob("*.asc"))


def _inner(armored: str) -> str:
    return armored.split("-----\n", 1)[1].rsplit("-----END", 1)[0]


@pytest.mark.parametrize("name", _ASC)
def test_pgp_fixture_fingerprints(name: str) -> None:
    expected = _FPR[name]
    keys = parse_armored_keys(_inner((DATA / name).read_text()))
    assert [k.fingerprint for k in keys] == expected["primary"]
    if expected["subkeys"]:
        assert list(keys[0].subkeys) == expected["subkeys"]
    if expected["user_ids"]:
        assert list(keys[0].user_ids) == expected["user_ids"]


@pytest.mark.parametrize("item", _FPR["raw_packet_bodies"]["items"], ids=lambda i: f"v{i['version']}-{i['fingerprint'][:8]}")
def test_pgp_rfc9580_packet_fingerprints(item: dict) -> None:
    got = fingerprint(base64.b64decode(item["body_b64"]))
    assert got is not None and got[0] == item["fingerprint"] and got[1] == item["version"]


def _mangle(armored: str, how: str) -> str:
    inner = _inner(armored)
    if how == "one_line":  # HTML lost the line breaks
        return " ".join(inner.split())
    if how == "crlf_blank_lines":
        return inner.replace("\n", "\r\n\r\n")
    if how == "no_crc":
        return "\n".join(ln for ln in inner.splitlines() if not (ln.startswith("=") and len(ln) == 5))
    if how == "comment_header":
        return "Comment: fictional test key\nVersion: GnuPG v2\n" + inner.lstrip("\n")
    if how == "header_one_line":
        return " ".join(("Version: GnuPG v2\n\n" + inner.lstrip("\n")).split())
    raise ValueError(how)


@pytest.mark.parametrize("how", ["one_line", "crlf_blank_lines", "no_crc", "comment_header", "header_one_line"])
def test_pgp_survives_mangled_armor(how: str) -> None:
    armored = (DATA / "pgp_v4_rsa2048.asc").read_text()
    keys = parse_armored_keys(_mangle(armored, how))
    assert [k.fingerprint for k in keys] == _FPR["pgp_v4_rsa2048.asc"]["primary"]


def test_pgp_wrong_crc_or_corrupt_body_rejected() -> None:
    inner = _inner((DATA / "pgp_v4_ed25519.asc").read_text())
    lines = inner.splitlines()
    crc_i = next(i for i, ln in enumerate(lines) if ln.startswith("=") and len(ln) == 5)
    body_i = next(i for i, ln in enumerate(lines) if len(ln) == 64)
    flipped = lines[body_i][:20] + ("A" if lines[body_i][20] != "A" else "B") + lines[body_i][21:]
    assert parse_armored_keys("\n".join(lines[:body_i] + [flipped] + lines[body_i + 1 :])) == []
    bad_crc = "=" + ("AAAA" if lines[crc_i][1:] != "AAAA" else "BBBB")
    assert parse_armored_keys("\n".join(lines[:crc_i] + [bad_crc] + lines[crc_i + 1 :])) == []


def test_crc24_reference() -> None:
    assert crc24(b"") == 0xB704CE
    assert crc24(b"123456789") == 0x21CF02  # the CRC-24/OPENPGP check value


# -- properties: total functions -------------------------------------------------------------


@given(st.text(max_size=200))
def test_validators_are_total_on_text(s: str) -> None:
    classify(s)
    for c in ("BTC", "LTC", "ETH", "XMR", "TRX"):
        valid_for(s, c)
    bech32_decode(s)
    onion_v3_valid(s)
    cas_valid(s)
    dearmor(s)
    parse_armored_keys(s)


@given(st.binary(max_size=300))
def test_pgp_packet_parsing_is_total_on_bytes(b: bytes) -> None:
    parse_armored_keys(base64.b64encode(b).decode())
    fingerprint(b)


@given(st.binary(min_size=20, max_size=20), st.sampled_from([0x00, 0x05, 0x6F, 0xC4, 0x30, 0x32, 0x41]))
def test_base58check_round_trip_and_chain(h: bytes, version: int) -> None:
    s = b58check_encode(bytes([version]) + h)
    got = classify(s)
    assert got is not None
    assert got.chain == {0x30: "LTC", 0x32: "LTC", 0x41: "TRX"}.get(version, "BTC")


@given(st.binary(min_size=32, max_size=32), st.sampled_from(["bc", "tb", "bcrt", "ltc"]), st.integers(0, 1))
def test_segwit_round_trip(program: bytes, hrp: str, version: int) -> None:
    s = segwit_encode(hrp, version, program)
    assert s is not None
    got = classify(s)
    assert got is not None and got.program == program and got.witness_version == version
    assert got.kind == ("p2wsh" if version == 0 else "p2tr")


@pytest.mark.parametrize("inner", ["", "garbage", "====", "\nwsE=\n=AAAA\n", "iQ" * 500, "\n\n" + "A" * 64 + "\n=abcd"])
def test_signature_issuers_total_on_garbage(inner: str) -> None:
    from narcwatch.extract.validators.pgp import signature_issuers

    assert signature_issuers(inner) == []
