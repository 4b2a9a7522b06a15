"""Deterministic randomness keyed by (seed, name, index): the whole world is a pure
function of the seed, so any listing can be derived on demand without materialising
the others, and the same seed gives the same bytes on every machine."""

from __future__ import annotations

import hashlib
import random

__all__ = ["h64", "rng", "material", "unit"]


def _key(seed: int, parts: tuple[object, ...]) -> bytes:
    return ("\x1f".join([str(seed), *map(str, parts)])).encode()


def h64(seed: int, *parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(_key(seed, parts), digest_size=8).digest(), "big")


def unit(seed: int, *parts: object) -> float:
    """A float in [0, 1)."""
    return h64(seed, *parts) / 2**64


def rng(seed: int, *parts: object) -> random.Random:
    """A ``random.Random`` for one named thing (integer seeding is stable across versions)."""
    return random.Random(h64(seed, *parts))


def material(seed: int, *parts: object, n: int = 64) -> bytes:
    """``n`` bytes of key material for one named thing."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.blake2b(_key(seed, (*parts, i)), digest_size=64).digest()
        i += 1
    return out[:n]
