"""Checksum-valid wallet addresses from seeded bytes, look-alike decoys, and a validator.

Formats (main net only; the sandbox never needs test nets):

=====  ============  ==========================================================
chain  kind          form
=====  ============  ==========================================================
BTC    p2pkh         base58check, version 0x00 + HASH160            ("1...")
BTC    p2sh          base58check, version 0x05 + HASH160            ("3...")
BTC    p2wpkh        bech32 (BIP-173), hrp bc, witness v0, 20 bytes ("bc1q...")
BTC    p2tr          bech32m (BIP-350), hrp bc, witness v1, 32 bytes ("bc1p...")
LTC    p2pkh/p2sh    base58check, version 0x30 ("L...") / 0x32 ("M...")
LTC    p2wpkh        bech32, hrp ltc, witness v0                    ("ltc1q...")
XMR    standard      Monero base58 of 0x12 + spend + view + keccak[:4] ("4...", 95 chars)
XMR    subaddress    the same with network byte 0x2a                ("8...")
ETH    eoa           0x + 40 hex, EIP-55 mixed-case checksum (keccak of lower-case hex)
TRX    eoa           base58check, 0x41 + 20 bytes                   ("T...", also USDT-TRC20)
=====  ============  ==========================================================

A decoy is a valid address with one character substituted so the checksum fails
(ETH: one letter's case flipped), the look-alike a careless regex would accept.
"""

from __future__ import annotations

from dataclasses import dataclass

from Crypto.Hash import keccak

from narcwatch.sandbox.ids._encoding import (
    B58,
    b58check_decode,
    b58check_encode,
    bech32_decode,
    bech32_encode,
    convertbits,
    xmr_b58decode,
    xmr_b58encode,
)

__all__ = ["KINDS", "WalletAddress", "decoy", "make_address", "validate"]

KINDS: dict[str, tuple[str, ...]] = {
    "BTC": ("p2pkh", "p2sh", "p2wpkh", "p2tr"),
    "XMR": ("standard", "subaddress"),
    "ETH": ("eoa",),
    "TRX": ("eoa",),
    "LTC": ("p2pkh", "p2sh", "p2wpkh"),
}
_B58_VERSION = {("BTC", "p2pkh"): 0x00, ("BTC", "p2sh"): 0x05, ("LTC", "p2pkh"): 0x30,
                ("LTC", "p2sh"): 0x32, ("TRX", "eoa"): 0x41}
_HRP = {"BTC": "bc", "LTC": "ltc"}
_XMR_NET = {"standard": 18, "subaddress": 42}


@dataclass(frozen=True)
class WalletAddress:
    chain: str
    kind: str
    address: str
    network: str = "mainnet"


def _keccak(data: bytes) -> bytes:
    return keccak.new(data=data, digest_bits=256).digest()


def _eip55(hex40: str) -> str:
    digest = _keccak(hex40.lower().encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c
                          for i, c in enumerate(hex40.lower()))


def make_address(chain: str, kind: str, material: bytes) -> WalletAddress:
    """A valid address of ``chain``/``kind`` built from ``material`` (>= 64 seeded bytes)."""
    if len(material) < 64:
        raise ValueError("need at least 64 bytes of key material")
    if (chain, kind) in _B58_VERSION:
        addr = b58check_encode(bytes([_B58_VERSION[chain, kind]]) + material[:20])
    elif kind in ("p2wpkh", "p2tr"):
        version, program = (0, material[:20]) if kind == "p2wpkh" else (1, material[:32])
        data = convertbits(program, 8, 5)
        assert data is not None
        addr = bech32_encode(_HRP[chain], [version] + data, m=version > 0)
    elif chain == "XMR":
        raw = bytes([_XMR_NET[kind]]) + material[:64]
        addr = xmr_b58encode(raw + _keccak(raw)[:4])
    elif chain == "ETH":
        addr = _eip55(material[:20].hex())
    else:
        raise ValueError(f"unknown wallet {chain}/{kind}; known: {KINDS}")
    return WalletAddress(chain, kind, addr)


def validate(address: str) -> WalletAddress | None:
    """The chain and kind of a checksum-valid main-net address, or None. Total."""
    if not isinstance(address, str) or not 20 <= len(address) <= 110:
        return None
    if address.startswith("0x"):
        body = address[2:]
        if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
            return None
        return WalletAddress("ETH", "eoa", address) if _eip55(body) == address else None
    low = address.lower()
    for chain, hrp in _HRP.items():
        if low.startswith(hrp + "1"):
            dec = bech32_decode(address)
            if dec is None or dec[0] != hrp or not dec[1]:
                return None
            version, prog = dec[1][0], convertbits(dec[1][1:], 5, 8, pad=False)
            if prog is None:
                return None
            if version == 0 and not dec[2] and len(prog) == 20:
                return WalletAddress(chain, "p2wpkh", address)
            if version == 1 and dec[2] and len(prog) == 32 and chain == "BTC":
                return WalletAddress(chain, "p2tr", address)
            return None
    if len(address) == 95 and address[0] in "48":
        raw = xmr_b58decode(address)
        if raw is None or len(raw) != 69 or _keccak(raw[:65])[:4] != raw[65:]:
            return None
        for kind, net in _XMR_NET.items():
            if raw[0] == net:
                return WalletAddress("XMR", kind, address)
        return None
    payload = b58check_decode(address)
    if payload is None or len(payload) != 21:
        return None
    for (chain, kind), version in _B58_VERSION.items():
        if payload[0] == version:
            return WalletAddress(chain, kind, address)
    return None


def decoy(valid: WalletAddress, salt: int) -> str:
    """A look-alike of ``valid`` that fails its checksum (``salt`` picks the position)."""
    addr = valid.address
    if valid.chain == "ETH":
        letters = [i for i, c in enumerate(addr) if i > 1 and c.isalpha()]
        i = letters[salt % len(letters)] if letters else 2
        out = addr[:i] + (addr[i].swapcase() if addr[i].isalpha() else "a") + addr[i + 1:]
    else:
        alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l" if valid.kind in ("p2wpkh", "p2tr") else B58
        start = addr.index("1") + 1 if valid.kind in ("p2wpkh", "p2tr") else 2
        out = addr
        for step in range(len(alphabet)):
            i = start + (salt + step) % (len(addr) - start)
            c = alphabet[(alphabet.index(addr[i]) + 1 + step) % len(alphabet)]
            out = addr[:i] + c + addr[i + 1:]
            if validate(out) is None:
                break
    if validate(out) is not None:  # pragma: no cover - one substitution always breaks these checksums
        raise AssertionError(f"decoy of {addr} still validates")
    return out
