"""Tor onion service addresses: v3 checksum (rend-spec-v3 §6) and the obsolete v2 shape.

v3: base32(PUBKEY[32] | CHECKSUM[2] | VERSION[1]) in 56 lower-case characters, where
CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2] and VERSION = 3.
v2 (16 characters, an RSA key hash) has no checksum and was retired by Tor in 2021.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["onion_v3_address", "onion_v3_valid", "is_onion_v2_shape"]

_B32 = frozenset("abcdefghijklmnopqrstuvwxyz234567")


def onion_v3_valid(label: str) -> bool:
    """True when ``label`` (56 chars, no ``.onion``; any case) has a valid v3 checksum."""
    if len(label) != 56:
        return False
    low = label.lower()
    if not all(c in _B32 for c in low):
        return False
    try:
        raw = base64.b32decode(low.upper())
    except ValueError:  # binascii.Error subclasses ValueError
        return False
    pubkey, check, version = raw[:32], raw[32:34], raw[34:]
    if version != b"\x03":
        return False
    return hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2] == check


def onion_v3_address(pubkey: bytes) -> str:
    """The ``.onion`` address of a 32-byte ed25519 public key (used to make fixtures)."""
    version = b"\x03"
    check = hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2]
    return base64.b32encode(pubkey + check + version).decode().lower() + ".onion"


def is_onion_v2_shape(label: str) -> bool:
    """16 base32 characters: the shape of a retired v2 address (nothing to verify)."""
    return len(label) == 16 and all(c in _B32 for c in label.lower())
