"""Novel-substance candidates: names not in the lexicon but built like a watched family.

New psychoactive substances arrive faster than any list: a vendor selling
``fluetonitazepyne`` or ``ADB-5Br-INACA`` the week it appears should still reach an
analyst. A candidate is a name-like chunk of the normalised text (letters, digits and
inner hyphens) that no lexicon name covers and that matches one family's naming
pattern, or a lexicon name with a chemical modifier in front that makes it another
substance (``N-pyrrolidino protonitazene`` when only protonitazene is known). Each is
reported as a ``SubstanceMention`` with ``novel=True``, the family's class and a
confidence that reflects how specific the pattern is.

Families and patterns (on lower-cased, evasion-normalised text):

=====================  ==========================================================
nitazene               ``…nitazen…``, ``…nitazepyne``, ``…desnitazene``, ``…azene`` with
                       an ``eto/meto/proto/buto/iso`` stem
fentanyl analogue      ``…fentanyl``, ``…fentanil`` (anything but plain fentanyl)
cathinone              ``x-MxC`` (3-MMC, 4-CEC), ``α-PxP`` (a-PiHP, 4F-a-PVP), ``PV-n``,
                       ``MDPxx``, ``…pentylone/…butylone/…ylone``, ``…edrone``
synthetic cannabinoid  ``…-PINACA/-PICA/-BUTINACA/-FUBINACA/-CHMICA/-INACA``, halogen +
                       head (``5F-ADB``), lab codes (``JWH-nnn``, ``UR-144``)
benzodiazepine         ``…zolam``, ``…azepam``
other opioid           ``…orphine`` (brorphine-like), ``U-4nnnn``, ``AH-nnnn``
=====================  ==========================================================

All regexes are anchored on one chunk of bounded length; no nested unbounded
quantifiers. False candidates are measured on ordinary listing and channel text
(``tests/extract/test_novel.py``).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from narcwatch.extract.lexicon import Lexicon
from narcwatch.extract.models import SubstanceClass, SubstanceMention
from narcwatch.extract.normalize import Normalized

__all__ = ["FAMILY_CLASSES", "Candidate", "classify_name", "find_novel"]

_C = SubstanceClass
FAMILY_CLASSES = (_C.NITAZENE, _C.FENTANYL_ANALOGUE, _C.CATHINONE, _C.SYNTHETIC_CANNABINOID,
                  _C.BENZODIAZEPINE, _C.OTHER_OPIOID)

# A name-like chunk: alphanumeric runs joined by inner hyphens, commas or apostrophes.
_CHUNK = re.compile(r"[^\W_]+(?:(?:[-,'′]|, )[^\W_]+){0,8}")

# Fragments one of the patterns below needs in an all-letter chunk (a cheap pre-filter).
_HINT = re.compile(r"nitaz|fentan|inac|pica|zolam|azepam|orphine|ylone|edrone|cathinone|valerone|"
                   r"phenone|fubica|chmica|pegaclone|desnitazene")
# Codes any pattern could match, over the whole text (one pass; most texts have none).
# Every branch starts with a literal or a small class so the scan stays fast.
_CODE_HINT = re.compile(
    r"(?<![a-z0-9])(?:[2-5]-?[a-z]{0,3}[me]c(?![a-z])|a(?:lpha)?-?p[a-z]{1,3}[pt](?![a-z])|pv-?[0-9]|"
    r"md-?p[a-z]|(?:jwh|xlr|rcs|sts|thj|mam|akb|am|hu|cp|ur)-?[0-9]|[2-5](?:f|cl|br|me)-p|"
    r"(?:5f|4f|5cl|5br|4cn|fub|ch)-?(?:adb|mdmb|mmb|amb|emb|akb|pb|nnei|sdb|apinaca)|u-?[0-9]{5}|ah-?[0-9]{4})"
)
_SC_TAILS = r"(?:pinaca|butinaca|binaca|fubinaca|chminaca|inaca|pica|fubica|chmica|pinac|inac|pegaclone|fubinac)"
_PATTERNS: list[tuple[re.Pattern[str], SubstanceClass, float]] = [
    (re.compile(r"nitazen|nitazepyne|nitazepipne|desnitazen"), _C.NITAZENE, 0.9),
    (re.compile(r"^(?:[a-z0-9-]{0,20})(?:eto|meto|proto|buto|iso|isoto|fluto|clo)desnitazene$"), _C.NITAZENE, 0.9),
    (re.compile(r"fentan[yi]l"), _C.FENTANYL_ANALOGUE, 0.85),
    (re.compile(r"^[2-5]-?(?!sec$)[a-z]{0,3}[me]c$"), _C.CATHINONE, 0.6),
    # alpha-pyrrolidino-x-phenones: a-PVP, a-PHP, a-PiHP, a-PHiP, a-PCYP, a-PVT, 4F-a-PVP
    (re.compile(r"^(?:[0-9]?[a-z]{0,2}-)?(?:alpha|a)-p(?:v|h|b|p|e|ih|hi|cy|iv|ip|ep|hx)[pt]$"), _C.CATHINONE, 0.7),
    (re.compile(r"^(?:[0-9]?[a-z]{0,2}-)?(?:alpha|a)p(?:v|h|b|p|ih|hi|cy|en|iv)p$"), _C.CATHINONE, 0.6),
    (re.compile(r"^pv-?[0-9]{1,2}$"), _C.CATHINONE, 0.6),
    (re.compile(r"^[2-5](?:f|cl|br|me)-p(?:v|h|b|ih|hi|cy|en)p$"), _C.CATHINONE, 0.6),
    (re.compile(r"^md-?p[a-z]{1,3}p$|^md-?pv$"), _C.CATHINONE, 0.6),
    (re.compile(r"[a-z]{3}(?:pentylone|propylone|butylone|hexylone|heptylone)$|^[a-z-]{0,12}(?:ethylone|methylone|butylone|pentylone|eutylone)$"), _C.CATHINONE, 0.8),
    (re.compile(r"^[a-z0-9-]{0,12}[a-z]{2}edrone$"), _C.CATHINONE, 0.75),
    (re.compile(r"^[a-z0-9-]{0,12}(?:cathinone|pyrovalerone|valerophenone|hexanophenone)$"), _C.CATHINONE, 0.75),
    (re.compile(r"^[a-z0-9,']{1,12}(?:-[a-z0-9']{1,8}){0,3}-" + _SC_TAILS + r"$"), _C.SYNTHETIC_CANNABINOID, 0.85),
    (re.compile(r"^[a-z]{2,8}" + _SC_TAILS + r"$"), _C.SYNTHETIC_CANNABINOID, 0.7),
    (re.compile(r"^(?:5f|4f|5cl|5br|4cn|fub|ch)-?(?:adb|mdmb|mmb|amb|emb|akb-?48|pb-?22|nnei|sdb-?00[0-9]|apinaca|adbica|mdmb-?[0-9a-z]{2,6})$"),
     _C.SYNTHETIC_CANNABINOID, 0.75),
    (re.compile(r"^(?:jwh|xlr|rcs|sts|thj|mam|akb)-?[0-9]{2,4}$|^am-?[0-9]{4}$|^(?:hu|cp)-[0-9]{2,3}$|^ur-?1[0-9]{2}$"), _C.SYNTHETIC_CANNABINOID, 0.6),
    (re.compile(r"^[a-z0-9-]{0,12}[a-z]{3}(?:zolam|azepam)$"), _C.BENZODIAZEPINE, 0.85),
    (re.compile(r"^[a-z0-9-]{0,12}[a-z]{2}orphine$"), _C.OTHER_OPIOID, 0.7),
    (re.compile(r"^u-?4[0-9]{4}$|^u-?[0-9]{5}$|^ah-?[0-9]{4}$"), _C.OTHER_OPIOID, 0.7),
]
# Real words a pattern would catch.
_NOT_NOVEL = frozenset({"morphine", "orphine", "fentanyl", "fentanil", "cathinone", "cathinones",
                        "nitazene", "nitazenes", "bromazolam"})

# Chemical modifiers that turn a known name into another substance.
_MODIFIER = re.compile(
    r"(?:^|(?<=[\s(/,]))"
    r"((?:(?:n|o|p|m|para|ortho|meta|alpha|beta|[2-6]|[2-6]'|[2-6]f)-?)?"
    r"(?:n-)?(?:des|nor|iso|bis|di|tri)?"
    r"(?:pyrrolidino|pyrrolidinyl|piperidino|piperidinyl|morpholino|fluoro|chloro|bromo|iodo|methyl|ethyl|"
    r"propyl|butyl|methoxy|ethoxy|hydroxy|acetyl|desethyl|desmethyl|ethyleneoxy|cyclopropyl|"
    r"trifluoromethyl|amino|nitro|cyano)|[2-6]'?(?:f|cl|br))[\s-]$"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    cls: SubstanceClass
    confidence: float


def classify_name(chunk: str) -> Candidate | None:
    """The family a name-like chunk belongs to, or ``None``. Total, linear."""
    if not isinstance(chunk, str):
        return None
    name = chunk.casefold().strip("-,' ")
    if len(name) < 4 or len(name) > 80 or name in _NOT_NOVEL:
        return None
    for pattern, cls, conf in _PATTERNS:
        if pattern.search(name):
            return Candidate(cls, conf)
    return None


def _hinted_chunks(text: str) -> Iterator[re.Match[str]]:
    """The name-like chunks around a family fragment or code: the only ones worth the
    patterns. Cost follows the number of hints, not the length of the text."""
    hits = sorted([m.start() for m in _HINT.finditer(text)] + [m.start() for m in _CODE_HINT.finditer(text)])
    done = -1
    for p in hits:
        if p < done:
            continue  # inside the chunk already looked at
        a = p
        while a > 0 and p - a < 80 and (text[a - 1].isalnum() or text[a - 1] in "-,'′"):
            a -= 1
        while a < p and not text[a].isalnum():
            a += 1
        m = _CHUNK.match(text, a)
        if m is None:
            continue
        done = m.end()
        yield m


def _overlaps(a0: int, a1: int, starts: list[int], ends: list[int]) -> bool:
    """Does ``[a0, a1)`` overlap a span of the sorted, non-overlapping ``starts``/``ends``?"""
    k = bisect_left(ends, a0 + 1)  # first span ending after a0
    return k < len(starts) and starts[k] < a1


def find_novel(raw: str, norm: Normalized, mentions: list[SubstanceMention],
               lexicon: Lexicon | None = None) -> list[SubstanceMention]:
    """``mentions`` plus novel candidates; a modifier+known name replaces the known one."""
    if not isinstance(raw, str) or not raw:
        return list(mentions)
    text = norm.text
    known = sorted((m.start, m.end) for m in mentions)
    k_starts = [a for a, _ in known]
    k_ends = [b for _, b in known]
    out = list(mentions)
    novel: list[SubstanceMention] = []
    for m in _hinted_chunks(text):
        chunk = m.group()
        if len(chunk) < 4:
            continue
        cand = classify_name(chunk)
        if cand is None:
            continue
        rs, re_ = norm.to_raw(m.start(), m.end())
        if _overlaps(rs, re_, k_starts, k_ends):
            continue
        novel.append(SubstanceMention(canonical=chunk, cls=cand.cls, novel=True, text=raw[rs:re_],
                                      start=rs, end=re_, confidence=cand.confidence))
    out.extend(novel)
    # Modifier in front of a family member: "N-pyrrolidino protonitazene".
    merged: list[SubstanceMention] = []
    for mention in out:
        if mention.cls in FAMILY_CLASSES:
            ns = _raw_to_norm_start(norm, mention.start)
            if ns is not None:
                window = text[max(0, ns - 40):ns]
                mod = _MODIFIER.search(window)
                if mod is not None:
                    ms = max(0, ns - 40) + mod.start(1)
                    rs, _ = norm.to_raw(ms, ms + 1)
                    name = text[ms:_raw_to_norm_end(norm, mention.end)]
                    if lexicon is None or lexicon.get(raw[rs:mention.end]) is None:
                        merged.append(SubstanceMention(
                            canonical=name, cls=mention.cls, novel=True, text=raw[rs:mention.end],
                            start=rs, end=mention.end, confidence=0.8 if not mention.novel else mention.confidence))
                        continue
        merged.append(mention)
    return merged


def _raw_to_norm_start(norm: Normalized, raw_start: int) -> int | None:
    if norm.starts is None:
        return raw_start
    i = bisect_left(norm.starts, raw_start)
    return i if i < len(norm.starts) else None


def _raw_to_norm_end(norm: Normalized, raw_end: int) -> int:
    if norm.ends is None:
        return raw_end
    return bisect_right(norm.ends, raw_end)
