"""Bech32 (BIP-173) and bech32m (BIP-350) decoding, and segwit address rules.

Witness version 0 must use bech32, versions 1-16 bech32m (BIP-350); a v1+ string with a
bech32 checksum is therefore invalid, even where BIP-173 listed it as valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["Encoding", "Segwit", "bech32_decode", "bech32_encode", "convertbits", "segwit_decode", "segwit_encode"]

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CINDEX = {c: i for i, c in enumerate(CHARSET)}
_BECH32M_CONST = 0x2BC830A3


class Encoding(Enum):
    BECH32 = 1
    BECH32M = 2


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def bech32_decode(s: str, max_len: int = 90) -> tuple[str, list[int], Encoding] | None:
    """``(hrp, data without checksum, encoding)`` or ``None`` (case mixing, bad chars...)."""
    if not s or len(s) > max_len:
        return None
    if any(ord(c) < 33 or ord(c) > 126 for c in s):
        return None
    if s.lower() != s and s.upper() != s:
        return None
    s = s.lower()
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s):
        return None
    hrp, tail = s[:pos], s[pos + 1 :]
    data = []
    for c in tail:
        v = _CINDEX.get(c)
        if v is None:
            return None
        data.append(v)
    const = _polymod(_hrp_expand(hrp) + data)
    if const == 1:
        enc = Encoding.BECH32
    elif const == _BECH32M_CONST:
        enc = Encoding.BECH32M
    else:
        return None
    return hrp, data[:-6], enc


def bech32_encode(hrp: str, data: list[int], enc: Encoding) -> str:
    const = 1 if enc is Encoding.BECH32 else _BECH32M_CONST
    pm = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ const
    check = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in data + check)


def convertbits(data: list[int] | bytes, frombits: int, tobits: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for v in data:
        if v < 0 or v >> frombits:
            return None
        acc = (acc << frombits) | v
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return out


@dataclass(frozen=True, slots=True)
class Segwit:
    hrp: str
    version: int
    program: bytes

    @property
    def kind(self) -> str:
        if self.version == 0:
            return "p2wpkh" if len(self.program) == 20 else "p2wsh"
        if self.version == 1 and len(self.program) == 32:
            return "p2tr"
        return f"witness_v{self.version}"


def segwit_decode(s: str) -> Segwit | None:
    """A segwit address under BIP-173/350 program rules, any hrp; ``None`` if invalid."""
    dec = bech32_decode(s)
    if dec is None:
        return None
    hrp, data, enc = dec
    if not data or data[0] > 16:
        return None
    prog = convertbits(data[1:], 5, 8, False)
    if prog is None or not 2 <= len(prog) <= 40:
        return None
    version = data[0]
    if version == 0 and len(prog) not in (20, 32):
        return None
    if (version == 0) != (enc is Encoding.BECH32):
        return None
    return Segwit(hrp, version, bytes(prog))


def segwit_encode(hrp: str, version: int, program: bytes) -> str | None:
    """The address for a witness program; ``None`` where BIP-173/350 forbid one."""
    if not hrp or hrp != hrp.lower() or not 0 <= version <= 16 or not 2 <= len(program) <= 40:
        return None
    if version == 0 and len(program) not in (20, 32):
        return None
    enc = Encoding.BECH32 if version == 0 else Encoding.BECH32M
    five = convertbits(program, 8, 5, True)
    if five is None:
        return None
    return bech32_encode(hrp, [version] + five, enc)
