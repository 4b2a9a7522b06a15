"""Base58 (Bitcoin and Monero block variant) and bech32/bech32m (BIP-173, BIP-350)."""

from __future__ import annotations

import hashlib

__all__ = [
    "b58check_decode",
    "b58check_encode",
    "bech32_decode",
    "bech32_encode",
    "convertbits",
    "xmr_b58decode",
    "xmr_b58encode",
]

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(B58)}


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(B58[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes | None:
    n = 0
    for c in text:
        i = _B58_INDEX.get(c)
        if i is None:
            return None
        n = n * 58 + i
    pad = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


def b58check_encode(payload: bytes) -> str:
    return b58encode(payload + _sha256d(payload)[:4])


def b58check_decode(text: str) -> bytes | None:
    """The payload (version byte included) if the 4-byte checksum holds, else None."""
    raw = b58decode(text) if 0 < len(text) <= 128 else None
    if raw is None or len(raw) < 5:
        return None
    payload, check = raw[:-4], raw[-4:]
    return payload if _sha256d(payload)[:4] == check else None


# Monero: 8-byte blocks encoded as 11 characters each; a short last block by this table.
_XMR_BLOCK = [0, 2, 3, 5, 6, 7, 9, 10, 11]


def xmr_b58encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data), 8):
        block = data[i:i + 8]
        n = int.from_bytes(block, "big")
        chars = []
        for _ in range(_XMR_BLOCK[len(block)]):
            n, r = divmod(n, 58)
            chars.append(B58[r])
        out.append("".join(reversed(chars)))
    return "".join(out)


def xmr_b58decode(text: str) -> bytes | None:
    full, rest = divmod(len(text), 11)
    if rest not in _XMR_BLOCK:
        return None
    out = bytearray()
    for i in range(full + (1 if rest else 0)):
        chunk = text[i * 11:(i + 1) * 11]
        size = 8 if len(chunk) == 11 else _XMR_BLOCK.index(len(chunk))
        n = 0
        for c in chunk:
            j = _B58_INDEX.get(c)
            if j is None:
                return None
            n = n * 58 + j
        if n >= 1 << (8 * size):
            return None
        out += n.to_bytes(size, "big")
    return bytes(out)


# bech32 / bech32m
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (b >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def bech32_encode(hrp: str, data: list[int], m: bool) -> str:
    const = _BECH32M_CONST if m else 1
    values = _hrp_expand(hrp) + data
    mod = _polymod(values + [0] * 6) ^ const
    checksum = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


def bech32_decode(text: str) -> tuple[str, list[int], bool] | None:
    """(hrp, data without checksum, is_bech32m) or None when malformed."""
    if len(text) > 90 or text.lower() != text and text.upper() != text:
        return None
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        return None
    hrp, rest = text[:pos], text[pos + 1:]
    if any(c not in _CHARSET for c in rest):
        return None
    data = [_CHARSET.find(c) for c in rest]
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (1, _BECH32M_CONST):
        return None
    return hrp, data[:-6], const == _BECH32M_CONST


def convertbits(data: bytes | list[int], frombits: int, tobits: int, pad: bool = True) -> list[int] | None:
    acc = bits = 0
    ret: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        if value < 0 or value >> frombits:
            return None
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad:
        if bits:
            ret.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return ret
