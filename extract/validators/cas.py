"""CAS Registry Numbers: ``NNNNNNN-NN-R``, 2-7 digits, 2 digits, one check digit.

The check digit is the sum of the other digits, each multiplied by its position counted
from the right (1, 2, 3, ...), modulo 10 (CAS, "CAS Registry Number check digit").
"""

from __future__ import annotations

__all__ = ["cas_check_digit", "cas_valid"]


def cas_check_digit(digits: str) -> int:
    """Check digit for the CAS digits without the check digit (``"5000"`` for 50-00-?)."""
    return sum(i * int(d) for i, d in enumerate(reversed(digits), start=1)) % 10


def cas_valid(s: str) -> bool:
    """True for a well-formed CAS number whose check digit holds (``"50-00-0"``)."""
    parts = s.split("-")
    if len(parts) != 3:
        return False
    a, b, r = parts
    if not (2 <= len(a) <= 7 and len(b) == 2 and len(r) == 1):
        return False
    if not (a.isascii() and a.isdigit() and b.isascii() and b.isdigit() and r.isascii() and r.isdigit()):
        return False
    if a[0] == "0":
        return False  # CAS numbers are not zero-padded
    return cas_check_digit(a + b) == int(r)
