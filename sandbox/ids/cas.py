"""CAS Registry Numbers: ``NNNNNNN-NN-N`` whose last digit is a weighted check digit.

Check digit = (sum of the other digits, right to left, each times its position 1, 2, ...)
mod 10. The shop's real chemical names carry their published numbers; invented trade
names get generated numbers, and decoys break the check digit.
"""

from __future__ import annotations

import re

__all__ = ["cas_check_digit", "cas_decoy", "make_cas", "valid_cas"]

_CAS = re.compile(r"(\d{2,7})-(\d{2})-(\d)")


def cas_check_digit(digits: str) -> int:
    return sum(int(d) * i for i, d in enumerate(reversed(digits), start=1)) % 10


def valid_cas(text: str) -> bool:
    m = _CAS.fullmatch(text) if isinstance(text, str) else None
    if m is None or (len(m.group(1)) > 2 and m.group(1)[0] == "0"):
        return False
    return cas_check_digit(m.group(1) + m.group(2)) == int(m.group(3))


def make_cas(n: int) -> str:
    """A valid CAS number derived from ``n`` (5- to 7-digit first part)."""
    first = str(10_000 + n % 9_989_999)
    second = f"{(n // 7) % 100:02d}"
    return f"{first}-{second}-{cas_check_digit(first + second)}"


def cas_decoy(valid: str) -> str:
    head, check = valid.rsplit("-", 1)
    return f"{head}-{(int(check) + 1 + len(head) % 8) % 10}"
