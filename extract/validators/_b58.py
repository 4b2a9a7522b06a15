"""Base58 as Bitcoin writes it, base58check, and Monero's block-wise base58.

Pure functions that return ``None`` on anything that is not well-formed: scraped text is
hostile, and "not decodable" is an answer, not an error.
"""

from __future__ import annotations

import hashlib

__all__ = ["ALPHABET", "b58decode", "b58encode", "b58check_decode", "b58check_encode", "xmr_b58decode", "xmr_b58encode"]

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_MAX_LEN = 256  # no address is longer; bounds the big-integer work on garbage


def b58decode(s: str) -> bytes | None:
    """Decode Bitcoin base58 (leading '1's are zero bytes); ``None`` if not base58."""
    if not s or len(s) > _MAX_LEN:
        return None
    n = 0
    for c in s:
        v = _INDEX.get(c)
        if v is None:
            return None
        n = n * 58 + v
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(s) - len(s.lstrip("1"))
    return b"\x00" * pad + body


def b58encode(b: bytes) -> str:
    n = int.from_bytes(b, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(ALPHABET[r])
    pad = len(b) - len(b.lstrip(b"\x00"))
    return "1" * pad + "".join(reversed(out))


def _dsha256(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def b58check_decode(s: str) -> bytes | None:
    """Payload (version byte included) of a base58check string whose checksum holds."""
    raw = b58decode(s)
    if raw is None or len(raw) < 5:
        return None
    payload, check = raw[:-4], raw[-4:]
    return payload if _dsha256(payload)[:4] == check else None


def b58check_encode(payload: bytes) -> str:
    return b58encode(payload + _dsha256(payload)[:4])


# Monero: 8-byte blocks become 11 characters; a final partial block of k bytes becomes
# _XMR_ENC[k] characters (cryptonote base58.cpp, encoded_block_sizes).
_XMR_ENC = [0, 2, 3, 5, 6, 7, 9, 10, 11]
_XMR_DEC = {n: k for k, n in enumerate(_XMR_ENC)}


def xmr_b58decode(s: str) -> bytes | None:
    """Decode Monero's block base58; ``None`` on bad characters, lengths or overflows."""
    if not s or len(s) > _MAX_LEN:
        return None
    full, rest = divmod(len(s), 11)
    if rest not in _XMR_DEC or (rest and _XMR_DEC[rest] == 0):
        return None
    out = bytearray()
    for i in range(full + (1 if rest else 0)):
        chunk = s[i * 11 : i * 11 + 11]
        size = _XMR_DEC[len(chunk)]
        n = 0
        for c in chunk:
            v = _INDEX.get(c)
            if v is None:
                return None
            n = n * 58 + v
        if n >> (8 * size):
            return None  # block overflows its byte size: not produced by an encoder
        out += n.to_bytes(size, "big")
    return bytes(out)


def xmr_b58encode(b: bytes) -> str:
    out = []
    for i in range(0, len(b), 8):
        chunk = b[i : i + 8]
        n = int.from_bytes(chunk, "big")
        chars = []
        for _ in range(_XMR_ENC[len(chunk)]):
            n, r = divmod(n, 58)
            chars.append(ALPHABET[r])
        out.append("".join(reversed(chars)))
    return "".join(out)
