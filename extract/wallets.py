"""Wallet addresses in text, checksum-validated: BTC, LTC, ETH/ERC-20, XMR, TRX/TRC-20.

``find_wallets(text)`` scans maximal runs of address characters (ASCII letters and
digits; zero-width characters and soft hyphens inside a run are tolerated, since
vendors insert them to break naive scrapers) and keeps only the runs that
``validators.addresses.classify`` accepts. A run is the whole candidate: an address
glued to other letters (``xbc1q...``) is not an address, and a string that fails its
checksum is never reported. Runs are delimited by any other character, so addresses in
URLs (``bitcoin:bc1q...?amount=``, ``/address/0x...``) and punctuation are found.

The component ``narcwatch_wallets`` appends the result to ``doc._.nw_facts.wallets``.
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc

from narcwatch.extract.docext import facts as doc_facts
from narcwatch.extract.models import Wallet
from narcwatch.extract.tokenizer import raw_text
from narcwatch.extract.validators.addresses import CHAINS, classify

__all__ = ["WalletFinder", "find_wallets", "make_wallets"]

# Zero-width space/non-joiner/joiner, word joiner, BOM, soft hyphen.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_STRIP = str.maketrans("", "", _INVISIBLE)
# One character class, one quantifier: linear whatever the input. The upper bound is
# applied after matching (a long run is one cheap rejection, not a rescan).
_RUN = re.compile(r"[0-9A-Za-z\u200b-\u200d\u2060\ufeff\u00ad]{14,}")
_MIN_LEN, _MAX_LEN = 14, 120


def find_wallets(text: str, chains: frozenset[str] | None = None) -> list[Wallet]:
    """Every valid address in ``text`` (each occurrence), offsets into ``text``."""
    if not isinstance(text, str):
        return []
    out: list[Wallet] = []
    for m in _RUN.finditer(text):
        start, end = m.span()
        # invisible characters at the edges belong to the surroundings, not the address
        while start < end and text[start] in _INVISIBLE:
            start += 1
        while end > start and text[end - 1] in _INVISIBLE:
            end -= 1
        surface = text[start:end]
        candidate = surface.translate(_STRIP)
        if not _MIN_LEN <= len(candidate) <= _MAX_LEN:
            continue
        found = classify(candidate)
        if found is None or (chains is not None and found.chain not in chains):
            continue
        confidence = found.confidence if candidate == surface else min(found.confidence, 0.9)
        out.append(Wallet(text=surface, start=start, end=end, confidence=confidence,
                          chain=found.chain, network=found.network, address=found.address, kind=found.kind))  # fmt: skip
    return out


class WalletFinder:
    """spaCy component: reads ``doc.text`` (addresses are exact strings, not words)."""

    def __init__(self, name: str = "narcwatch_wallets", chains: list[str] | None = None) -> None:
        unknown = sorted(set(chains or []) - set(CHAINS))
        if unknown:
            raise ValueError(f"unknown chain(s) {unknown}; available: {sorted(CHAINS)}")
        self.name = name
        self.chains = frozenset(chains) if chains else None

    def __call__(self, doc: Doc) -> Doc:
        facts = doc_facts(doc)
        facts.wallets.extend(find_wallets(raw_text(doc), self.chains))
        return doc


@Language.factory("narcwatch_wallets", default_config={"chains": list(CHAINS)})
def make_wallets(nlp: Language, name: str, chains: list[str]) -> WalletFinder:
    return WalletFinder(name, chains)
