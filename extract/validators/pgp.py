"""OpenPGP public keys: ASCII armor (RFC 9580 §6), packets (§4), fingerprints (§5.5.4).

``parse_armored_keys(block)`` reads one armored ``PUBLIC KEY BLOCK`` as markets show it
(header lines, blank line, base64, optional ``=CRC24``; often with line breaks lost or
doubled by HTML) and returns every primary key in it with its fingerprint:

* v4: SHA-1 over 0x99, a two-octet length and the public-key packet body;
* v5 (LibrePGP) / v6 (RFC 9580): SHA-256 over 0x9A / 0x9B, a four-octet length, body;
* v2/v3: MD5 over the RSA modulus and exponent (legacy, still seen in 2014 archives).

A block whose CRC24 is present and wrong is rejected: its bytes are not what the vendor
published, so a fingerprint computed from them would point at the wrong key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

__all__ = ["PgpKey", "crc24", "dearmor", "fingerprint", "parse_armored_keys", "parse_packets"]

_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_MAX_ARMOR = 1_000_000  # a key block is a few kB; refuse to decode megabytes of garbage
TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY, TAG_USER_ID = 6, 14, 13


@dataclass(frozen=True, slots=True)
class PgpKey:
    fingerprint: str  # upper-case hex: 40 digits (v4), 64 (v5, v6), 32 (v3)
    version: int
    algorithm: int
    created: int  # Unix time
    user_ids: tuple[str, ...] = ()
    subkeys: tuple[str, ...] = field(default=())


def crc24(data: bytes) -> int:
    crc = 0xB704CE
    for b in data:
        crc ^= b << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def _is_header(line: str) -> bool:
    key, sep, _ = line.partition(": ")
    return bool(sep) and 0 < len(key) <= 40 and key.replace("-", "").isalnum()


def dearmor(inner: str) -> bytes | None:
    """The binary data between armor BEGIN/END lines, CRC-checked; ``None`` if unusable."""
    if len(inner) > _MAX_ARMOR:
        return None
    lines = [ln.strip() for ln in inner.replace("\r", "\n").split("\n")]
    # header lines go; a "header" that runs on into the base64 (lost line breaks) stays
    while lines and (not lines[0] or (_is_header(lines[0]) and not any(_looks_b64(t, 16) for t in lines[0].split()))):
        lines.pop(0)
    tokens: list[str] = []
    for ln in lines:
        tokens += ln.split()
    # Line breaks lost: "Version: GnuPG v2 mQINBF..." - skip to the first long base64 token.
    if tokens and not _looks_b64(tokens[0], 16):
        start = next((i for i, t in enumerate(tokens) if _looks_b64(t, 16)), None)
        if start is None:
            return None
        tokens = tokens[start:]
    if not all(_looks_b64(t, 1) for t in tokens):
        return None
    joined = "".join(tokens)
    crc: bytes | None = None
    if len(joined) >= 5 and joined[-5] == "=" and "=" not in joined[-4:] and (len(joined) - 5) % 4 == 0:
        try:
            crc = base64.b64decode(joined[-4:], validate=True)
        except binascii.Error:
            return None
        joined = joined[:-5]
    try:
        data = base64.b64decode(joined, validate=True)
    except binascii.Error:
        return None
    if crc is not None and crc24(data).to_bytes(3, "big") != crc:
        return None
    return data or None


def _looks_b64(token: str, min_len: int) -> bool:
    return len(token) >= min_len and all(c in _B64 for c in token)


def parse_packets(data: bytes) -> list[tuple[int, bytes]] | None:
    """``[(tag, body), ...]`` for an OpenPGP packet sequence; ``None`` if malformed."""
    out: list[tuple[int, bytes]] = []
    i, n = 0, len(data)
    while i < n:
        head = data[i]
        i += 1
        if not head & 0x80:
            return None
        if head & 0x40:  # new format
            tag = head & 0x3F
            body = bytearray()
            while True:
                if i >= n:
                    return None
                o = data[i]
                if o < 192:
                    length, i = o, i + 1
                elif o < 224:
                    if i + 1 >= n:
                        return None
                    length, i = ((o - 192) << 8) + data[i + 1] + 192, i + 2
                elif o == 255:
                    if i + 5 > n:
                        return None
                    length, i = int.from_bytes(data[i + 1 : i + 5], "big"), i + 5
                else:  # partial body length: a chunk, then another length
                    chunk = 1 << (o & 0x1F)
                    i += 1
                    if i + chunk > n:
                        return None
                    body += data[i : i + chunk]
                    i += chunk
                    continue
                if i + length > n:
                    return None
                body += data[i : i + length]
                i += length
                break
            out.append((tag, bytes(body)))
        else:  # old format
            tag, ltype = (head >> 2) & 0x0F, head & 0x03
            if ltype == 3:
                length = n - i
            else:
                size = (1, 2, 4)[ltype]
                if i + size > n:
                    return None
                length, i = int.from_bytes(data[i : i + size], "big"), i + size
            if i + length > n:
                return None
            out.append((tag, data[i : i + length]))
            i += length
    return out


def fingerprint(body: bytes) -> tuple[str, int, int, int] | None:
    """``(fingerprint, version, algorithm, created)`` of a public-key packet body."""
    if len(body) < 6:
        return None
    version = body[0]
    created = int.from_bytes(body[1:5], "big")
    if version == 4:
        digest = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest()
        return digest.upper(), 4, body[5], created
    if version in (5, 6):
        prefix = b"\x9a" if version == 5 else b"\x9b"
        digest = hashlib.sha256(prefix + len(body).to_bytes(4, "big") + body).hexdigest()
        return digest.upper(), version, body[5], created
    if version in (2, 3):
        if len(body) < 8:
            return None
        algo = body[7]
        mpis, i = [], 8
        for _ in range(2):  # RSA n, e
            if i + 2 > len(body):
                return None
            nbytes = (int.from_bytes(body[i : i + 2], "big") + 7) // 8
            i += 2
            if i + nbytes > len(body):
                return None
            mpis.append(body[i : i + nbytes])
            i += nbytes
        return hashlib.md5(mpis[0] + mpis[1], usedforsecurity=False).hexdigest().upper(), version, algo, created
    return None


def parse_armored_keys(inner: str) -> list[PgpKey]:
    """Primary keys (with user IDs and subkey fingerprints) in an armored block's body."""
    data = dearmor(inner)
    if data is None:
        return []
    packets = parse_packets(data)
    if not packets:
        return []
    keys: list[PgpKey] = []
    current: dict | None = None

    def flush() -> None:
        if current is not None:
            keys.append(PgpKey(current["fp"], current["v"], current["algo"], current["created"],
                               tuple(current["uids"]), tuple(current["subs"])))  # fmt: skip

    for tag, body in packets:
        if tag == TAG_PUBLIC_KEY:
            flush()
            fp = fingerprint(body)
            current = None if fp is None else {"fp": fp[0], "v": fp[1], "algo": fp[2], "created": fp[3], "uids": [], "subs": []}
        elif current is not None and tag == TAG_USER_ID:
            current["uids"].append(body.decode("utf-8", "replace"))
        elif current is not None and tag == TAG_PUBLIC_SUBKEY:
            sub = fingerprint(body)
            if sub:
                current["subs"].append(sub[0])
    flush()
    return keys


def _subpackets(data: bytes) -> list[tuple[int, bytes]] | None:
    """``[(type, body), ...]`` of a signature subpacket area (RFC 4880 5.2.3.1)."""
    out: list[tuple[int, bytes]] = []
    i, n = 0, len(data)
    while i < n:
        o = data[i]
        if o < 192:
            length, i = o, i + 1
        elif o < 255:
            if i + 1 >= n:
                return None
            length, i = ((o - 192) << 8) + data[i + 1] + 192, i + 2
        else:
            if i + 4 >= n:
                return None
            length, i = int.from_bytes(data[i + 1:i + 5], "big"), i + 5
        if length < 1 or i + length > n:
            return None
        out.append((data[i] & 0x7F, data[i + 1:i + length]))
        i += length
    return out


def signature_issuers(inner: str) -> list[str]:
    """Issuer fingerprints (subpacket 33, hex upper-case) of the v4/v5 signatures in an
    armored ``PGP SIGNATURE`` block: the key the signer names, not a verified signature."""
    data = dearmor(inner)
    packets = parse_packets(data) if data else None
    out: list[str] = []
    for tag, body in packets or ():
        if tag != 2 or len(body) < 6 or body[0] not in (4, 5):
            continue
        hashed_len = int.from_bytes(body[4:6], "big")
        hashed = body[6:6 + hashed_len]
        rest = body[6 + hashed_len:]
        unhashed = rest[2:2 + int.from_bytes(rest[:2], "big")] if len(rest) >= 2 else b""
        for area in (hashed, unhashed):
            for sub_type, sub in _subpackets(area) or ():
                if sub_type == 33 and len(sub) in (21, 33) and sub[0] in (4, 5):
                    fpr = sub[1:].hex().upper()
                    if fpr not in out:
                        out.append(fpr)
    return out
