"""Cryptocurrency address validators: BTC, LTC, ETH (EIP-55), XMR, TRX.

Each ``*_address(s)`` is a total function: an ``Address`` when ``s`` is exactly one
valid address of that chain (checksum, version byte/hrp, length and program rules all
hold), else ``None``. ``classify(s)`` picks one chain for strings several chains could
claim, by version byte: a base58 payload with version 0x05 ('3...') is BTC P2SH even
though old Litecoin wallets used it too, and 0x6f/0xc4 testnet bytes are BTC testnet.
``valid_for(s, chain)`` answers the per-chain question instead (is ``s`` a valid LTC
address?), which is what a validator library such as multicoin-address-validator does.

Networks are the address-encoding networks: Bitcoin's base58 testnet bytes are shared by
testnet3, testnet4, signet and regtest, and the ``tb`` hrp by testnet and signet, so those
report ``testnet``; only ``bcrt`` identifies ``regtest``.
"""

from __future__ import annotations

from dataclasses import dataclass

from narcwatch.extract.validators._b58 import b58check_decode, xmr_b58decode
from narcwatch.extract.validators._bech32 import segwit_decode
from narcwatch.extract.validators._hash import keccak256

__all__ = [
    "Address",
    "CHAINS",
    "btc_address",
    "classify",
    "eth_address",
    "eip55_checksum",
    "ltc_address",
    "trx_address",
    "valid_for",
    "xmr_address",
]


@dataclass(frozen=True, slots=True)
class Address:
    chain: str  # BTC, LTC, ETH, XMR, TRX
    network: str  # mainnet, testnet, regtest, stagenet
    kind: str  # p2pkh, p2sh, p2wpkh, p2wsh, p2tr, witness_vN, account, standard, integrated, subaddress
    address: str  # canonical form (bech32 lower-cased, ETH in EIP-55 case; others as written)
    confidence: float = 1.0
    program: bytes = b""  # hash160 (base58), witness program (segwit), spend+view keys (XMR)
    witness_version: int | None = None

    def script_pubkey(self) -> bytes | None:
        """The Bitcoin/Litecoin output script this address pays to (``None`` for others)."""
        if self.chain not in ("BTC", "LTC"):
            return None
        if self.witness_version is not None:
            op = 0 if self.witness_version == 0 else 0x50 + self.witness_version
            return bytes([op, len(self.program)]) + self.program
        if self.kind == "p2pkh":
            return b"\x76\xa9\x14" + self.program + b"\x88\xac"
        return b"\xa9\x14" + self.program + b"\x87"


# version byte -> (network, kind) for 20-byte-hash base58check addresses
_BTC_B58 = {0x00: ("mainnet", "p2pkh"), 0x05: ("mainnet", "p2sh"), 0x6F: ("testnet", "p2pkh"), 0xC4: ("testnet", "p2sh")}
_LTC_B58 = {
    0x30: ("mainnet", "p2pkh"),  # L...
    0x32: ("mainnet", "p2sh"),  # M...
    0x05: ("mainnet", "p2sh"),  # 3... (pre-2018 Litecoin P2SH, same byte as BTC)
    0x6F: ("testnet", "p2pkh"),  # m/n... (same byte as BTC testnet)
    0x3A: ("testnet", "p2sh"),  # Q...
    0xC4: ("testnet", "p2sh"),  # 2... (old testnet P2SH, same byte as BTC)
}
_LTC_OWN = frozenset({0x30, 0x32, 0x3A})  # bytes no Bitcoin network uses
_BTC_HRP = {"bc": "mainnet", "tb": "testnet", "bcrt": "regtest"}
_LTC_HRP = {"ltc": "mainnet", "tltc": "testnet", "rltc": "regtest"}
_MAX_ADDR = 120  # longer than any address we validate: skip work on garbage


def _b58_hash160(s: str, table: dict[int, tuple[str, str]], chain: str) -> Address | None:
    if not 25 <= len(s) <= 36:
        return None
    payload = b58check_decode(s)
    if payload is None or len(payload) != 21 or payload[0] not in table:
        return None
    network, kind = table[payload[0]]
    return Address(chain, network, kind, s, program=payload[1:])


def _segwit(s: str, hrps: dict[str, str], chain: str) -> Address | None:
    if len(s) > 90:
        return None
    sw = segwit_decode(s)
    if sw is None or sw.hrp not in hrps:
        return None
    return Address(chain, hrps[sw.hrp], sw.kind, s.lower(), program=sw.program, witness_version=sw.version)


def btc_address(s: str) -> Address | None:
    """A Bitcoin address (base58check P2PKH/P2SH or segwit bech32/bech32m)."""
    if not s or len(s) > _MAX_ADDR:
        return None
    return _b58_hash160(s, _BTC_B58, "BTC") or _segwit(s, _BTC_HRP, "BTC")


def ltc_address(s: str) -> Address | None:
    """A Litecoin address; includes the byte values Litecoin shares with Bitcoin."""
    if not s or len(s) > _MAX_ADDR:
        return None
    return _b58_hash160(s, _LTC_B58, "LTC") or _segwit(s, _LTC_HRP, "LTC")


def trx_address(s: str) -> Address | None:
    """A Tron address (USDT-TRC20 uses the same): base58check of 0x41 + 20 bytes."""
    if not s or len(s) != 34 or s[0] != "T":
        return None
    payload = b58check_decode(s)
    if payload is None or len(payload) != 21 or payload[0] != 0x41:
        return None
    return Address("TRX", "mainnet", "account", s, program=payload[1:])


_HEX = frozenset("0123456789abcdefABCDEF")


def eip55_checksum(hex40: str) -> str:
    """The EIP-55 mixed-case form of 40 hex digits (without ``0x``)."""
    low = hex40.lower()
    digest = keccak256(low.encode("ascii")).hex()
    return "".join(c.upper() if c.isalpha() and int(h, 16) >= 8 else c for c, h in zip(low, digest[:40], strict=True))


def eth_address(s: str) -> Address | None:
    """An Ethereum (and ERC-20) address: ``0x`` + 40 hex digits.

    Mixed case must be the EIP-55 checksum form; all-lower or all-upper hex carries no
    checksum and is accepted with lower confidence.
    """
    if len(s) != 42 or s[:2] != "0x":
        return None
    body = s[2:]
    if not all(c in _HEX for c in body):
        return None
    if body == body.lower() or body == body.upper():
        return Address("ETH", "mainnet", "account", "0x" + eip55_checksum(body), confidence=0.8)
    if eip55_checksum(body) != body:
        return None
    return Address("ETH", "mainnet", "account", s)


# Monero network bytes (cryptonote_config.h): standard, integrated, subaddress.
_XMR_NET = {
    18: ("mainnet", "standard"), 19: ("mainnet", "integrated"), 42: ("mainnet", "subaddress"),
    53: ("testnet", "standard"), 54: ("testnet", "integrated"), 63: ("testnet", "subaddress"),
    24: ("stagenet", "standard"), 25: ("stagenet", "integrated"), 36: ("stagenet", "subaddress"),
}  # fmt: skip


def xmr_address(s: str) -> Address | None:
    """A Monero address: 95 chars (standard, subaddress) or 106 (integrated).

    The checksum is Keccak-256 of the payload; a checksum-valid string whose network byte
    is not Monero's (Aeon, other CryptoNote coins) is rejected.
    """
    if len(s) not in (95, 106):
        return None
    raw = xmr_b58decode(s)
    if raw is None or len(raw) not in (69, 77):
        return None
    body, check = raw[:-4], raw[-4:]
    if keccak256(body)[:4] != check:
        return None
    net = _XMR_NET.get(body[0])  # all Monero bytes are < 0x80, i.e. one-byte varints
    if net is None:
        return None
    network, kind = net
    if (kind == "integrated") != (len(raw) == 77):
        return None
    return Address("XMR", network, kind, s, program=body[1:65])


CHAINS = {"BTC": btc_address, "LTC": ltc_address, "ETH": eth_address, "XMR": xmr_address, "TRX": trx_address}


def valid_for(s: str, chain: str) -> Address | None:
    """``s`` read as an address of ``chain`` (BTC, LTC, ETH, XMR, TRX), or ``None``."""
    fn = CHAINS.get(chain.upper())
    return fn(s) if fn else None


def classify(s: str) -> Address | None:
    """The one chain ``s`` belongs to, deciding overlaps by version byte (see module doc)."""
    if not s or len(s) > _MAX_ADDR:
        return None
    first = s[0]
    if first == "0":
        return eth_address(s)
    if len(s) in (95, 106):
        return xmr_address(s)
    if first == "T" and len(s) == 34:
        found = trx_address(s)
        if found:
            return found
    found = btc_address(s)
    if found:
        return found
    found = ltc_address(s)
    if found and (found.kind.startswith(("p2w", "p2tr", "witness")) or _ltc_own_byte(s)):
        return found
    return None


def _ltc_own_byte(s: str) -> bool:
    payload = b58check_decode(s)
    return payload is not None and payload[0] in _LTC_OWN
