"""Hash helpers: Keccak-256 (Ethereum/Monero use the pre-standard padding, not SHA3)."""

from __future__ import annotations

from Crypto.Hash import keccak

__all__ = ["keccak256"]


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()
