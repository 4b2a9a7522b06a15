"""Pure validators: wallet checksums, onion v3, CAS check digits, OpenPGP fingerprints.

Every function here is total (``None``/``False`` on garbage, never an exception) and
does no I/O; the spaCy components in ``extract/wallets.py`` and ``extract/identifiers.py``
find candidates and ask these functions whether they are real.
"""

from narcwatch.extract.validators.addresses import Address, classify, valid_for

__all__ = ["Address", "classify", "valid_for"]
