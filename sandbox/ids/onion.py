"""Tor onion service v3 names (rend-spec-v3 §6): base32(pubkey || checksum || 0x03).

``checksum = SHA3-256(".onion checksum" || pubkey || version)[:2]``. The sandbox derives
the Ed25519 public key from its seed, so every name is well-formed and none is a real
service (finding a real one would need its private key).
"""

from __future__ import annotations

import base64
import hashlib

from Crypto.PublicKey import ECC

__all__ = ["ed25519_public", "onion_from_pubkey", "onion_v3", "onion_v3_decoy", "valid_onion_v3"]


def ed25519_public(seed32: bytes) -> bytes:
    """The Ed25519 public key of a 32-byte seed (RFC 8032 encoding)."""
    key = ECC.construct(curve="Ed25519", seed=seed32)
    return key.public_key().export_key(format="raw")


def _checksum(pubkey: bytes) -> bytes:
    return hashlib.sha3_256(b".onion checksum" + pubkey + b"\x03").digest()[:2]


def onion_from_pubkey(pubkey: bytes) -> str:
    return base64.b32encode(pubkey + _checksum(pubkey) + b"\x03").decode().lower() + ".onion"


def onion_v3(seed32: bytes) -> str:
    return onion_from_pubkey(ed25519_public(seed32))


def valid_onion_v3(name: str) -> bool:
    """True for a well-formed v3 name (with or without ``.onion``, any case). Total."""
    if not isinstance(name, str):
        return False
    label = name.lower().removesuffix(".onion").rsplit(".", 1)[-1]
    if len(label) != 56:
        return False
    try:
        raw = base64.b32decode(label.upper())
    except (ValueError, TypeError):
        return False
    pubkey, check, version = raw[:32], raw[32:34], raw[34:]
    return version == b"\x03" and check == _checksum(pubkey)


def onion_v3_decoy(name: str, salt: int) -> str:
    """A phishing-style look-alike: same length and alphabet, broken checksum."""
    label = name.removesuffix(".onion")
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    for step in range(64):
        i = 40 + (salt + step) % 12
        c = alphabet[(alphabet.index(label[i]) + 1 + step) % 32]
        out = label[:i] + c + label[i + 1:] + ".onion"
        if not valid_onion_v3(out):
            return out
    raise AssertionError("no decoy found")  # pragma: no cover
