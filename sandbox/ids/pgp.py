"""Real OpenPGP v4 Ed25519 keys and clear-signed messages, derived from a seed (RFC 4880,
EdDSA as in RFC 4880bis "legacy" algorithm 22).

A vendor's public key block is a public-key packet, a User ID packet and a positive
self-certification, ASCII-armoured with CRC-24: GnuPG imports it, and the fingerprint the
ground truth records (SHA-1 over ``0x99 || len || body``) is the one ``gpg`` prints.
Forum announcements are clear-signed with the same key, so "same key, new handle" is
provable from the pages alone.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache

from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

__all__ = ["PgpKey", "armor", "clearsign", "crc24", "fingerprint_of_block", "make_key"]

_ED25519_OID = bytes.fromhex("2B06010401DA470F01")
_ALGO_EDDSA, _HASH_SHA512 = 22, 10


def crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor(kind: str, data: bytes, headers: dict[str, str] | None = None) -> str:
    b64 = base64.b64encode(data).decode()
    lines = [f"-----BEGIN PGP {kind}-----"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append("")
    lines += [b64[i:i + 64] for i in range(0, len(b64), 64)]
    lines.append("=" + base64.b64encode(crc24(data).to_bytes(3, "big")).decode())
    lines.append(f"-----END PGP {kind}-----")
    return "\n".join(lines)


def _packet(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 192:
        head = bytes([n])
    elif n < 8384:
        head = bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])
    else:
        head = b"\xff" + struct.pack(">I", n)
    return bytes([0xC0 | tag]) + head + body


def _mpi(data: bytes) -> bytes:
    n = int.from_bytes(data, "big")
    return struct.pack(">H", n.bit_length()) + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")


def _sub(kind: int, data: bytes) -> bytes:
    return bytes([len(data) + 1, kind]) + data


@dataclass(frozen=True)
class PgpKey:
    user_id: str
    created: int
    key_body: bytes
    seed: bytes

    @property
    def fingerprint(self) -> str:
        return hashlib.sha1(b"\x99" + struct.pack(">H", len(self.key_body)) + self.key_body).hexdigest().upper()

    @property
    def key_id(self) -> str:
        return self.fingerprint[-16:]

    def _sign(self, sig_type: int, prefix_data: bytes, created: int) -> bytes:
        fpr = bytes.fromhex(self.fingerprint)
        hashed = _sub(2, struct.pack(">I", created)) + _sub(33, b"\x04" + fpr)
        if sig_type == 0x13:
            hashed += _sub(27, b"\x03")
        head = bytes([4, sig_type, _ALGO_EDDSA, _HASH_SHA512]) + struct.pack(">H", len(hashed)) + hashed
        digest = hashlib.sha512(prefix_data + head + b"\x04\xff" + struct.pack(">I", len(head))).digest()
        key = ECC.construct(curve="Ed25519", seed=self.seed)
        sig = eddsa.new(key, "rfc8032").sign(digest)
        unhashed = _sub(16, fpr[-8:])
        body = head + struct.pack(">H", len(unhashed)) + unhashed + digest[:2] + _mpi(sig[:32]) + _mpi(sig[32:])
        return _packet(2, body)

    @property
    def public_block(self) -> str:
        return _public_block(self)

    def clearsign(self, text: str, created: int) -> str:
        return clearsign(self, text, created)


@lru_cache(maxsize=4096)
def _public_block(key: PgpKey) -> str:
    uid = key.user_id.encode()
    prefix = b"\x99" + struct.pack(">H", len(key.key_body)) + key.key_body + b"\xb4" + struct.pack(">I", len(uid)) + uid
    data = _packet(6, key.key_body) + _packet(13, uid) + key._sign(0x13, prefix, key.created)
    return armor("PUBLIC KEY BLOCK", data)


def make_key(seed32: bytes, user_id: str, created: int) -> PgpKey:
    """The Ed25519 key of ``seed32`` with ``user_id``, created at unix time ``created``."""
    pub = ECC.construct(curve="Ed25519", seed=seed32).public_key().export_key(format="raw")
    body = bytes([4]) + struct.pack(">I", created) + bytes([_ALGO_EDDSA, len(_ED25519_OID)]) + _ED25519_OID
    body += _mpi(b"\x40" + pub)
    return PgpKey(user_id, created, body, seed32)


def clearsign(key: PgpKey, text: str, created: int) -> str:
    """An RFC 4880 §7 cleartext signature (canonical-text signature, SHA-512)."""
    lines = [line.rstrip(" \t\r") for line in text.split("\n")]
    signed = "\r\n".join(lines).encode()
    sig = key._sign(0x01, signed, created)
    escaped = "\n".join("- " + line if line.startswith("-") else line for line in lines)
    return ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + escaped + "\n"
            + armor("SIGNATURE", sig))


def fingerprint_of_block(block: str) -> str | None:
    """The v4 fingerprint of the first public-key packet in an armoured block. Total."""
    try:
        body_lines = block.strip().split("\n")
        start = body_lines.index("") + 1
        b64 = "".join(line for line in body_lines[start:] if line and not line.startswith(("=", "-----")))
        data = base64.b64decode(b64)
        if not data or data[0] != 0xC6:
            return None
        n = data[1]
        if n < 192:
            body = data[2:2 + n]
        elif n < 224:
            n = ((n - 192) << 8) + data[2] + 192
            body = data[3:3 + n]
        else:
            return None
        return hashlib.sha1(b"\x99" + struct.pack(">H", len(body)) + body).hexdigest().upper()
    except (ValueError, IndexError):
        return None
