"""Substances a rule does not see: ``ignore_substances`` (a substance watch-list file).

Acetone, toluene and isopropanol are UN 1988 Table II substances (or pre-precursors)
and the lexicon classes them so, because a ``class:precursor`` search must find them.
But every lab-supply shop sells them by the drum: a precursor *alert* on each bottle of
acetone buries the P2P and NPP offers an analyst needs to see. So the shipped
``precursor-offer`` rule lists them in ``watchlists/bulk_solvents.txt`` under
``ignore_substances``, and the rule evaluates the listing as if those substances were
not mentioned:

* they leave ``substances`` (and their CAS numbers leave ``cas``);
* a class leaves ``classes`` when only ignored substances gave it, so a shop page with
  acetone and P2P still matches ``class:precursor`` through P2P, and one with acetone
  alone does not;
* conservative on the unknown: when a remaining substance is not in the lexicon (a novel
  candidate, whose class the lexicon cannot tell), no class is removed. Masking can
  hide a bottle of acetone, never a listing the rule would otherwise fire on for
  another reason.

Names in the file may be any lexicon name (``IPA``, ``isopropyl alcohol``): they are
resolved to the canonical name the store keeps. Names the lexicon does not know are
kept as written (``ethyl ether``), so they take effect once the lexicon learns them.
The alert itself still lists every substance of the listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from narcwatch.extract.lexicon import Lexicon, load_lexicon
from narcwatch.index.alerts.watchlists import Watchlist, WatchKind, normalise

__all__ = ["SubstanceMask"]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


@dataclass(frozen=True)
class SubstanceMask:
    """Removes ignored substances (and what only they contributed) from a rule's view."""

    names: frozenset[str]  # normalised canonical names (and unknown names as written)
    classes: Mapping[str, str]  # normalised canonical -> class, for every lexicon entry
    cas: Mapping[str, str]  # normalised canonical -> CAS, where the lexicon has one
    source: str = ""

    @classmethod
    def from_watchlist(cls, wl: Watchlist, lexicon: Lexicon | None = None) -> "SubstanceMask":
        lexicon = lexicon if lexicon is not None else load_lexicon()
        canonical_of: dict[str, str] = {}
        classes: dict[str, str] = {}
        cas: dict[str, str] = {}
        for entry in lexicon:
            key = normalise(entry.canonical, WatchKind.SUBSTANCE)
            classes[key] = entry.cls.value
            if entry.cas:
                cas[key] = entry.cas
            for name, _kind in entry.names():
                canonical_of.setdefault(normalise(name, WatchKind.SUBSTANCE), key)
        names = frozenset(canonical_of.get(v, v) for v in wl.entries)
        return cls(names, classes, cas, wl.name)

    @classmethod
    def of(cls, names: Iterable[str], lexicon: Lexicon | None = None) -> "SubstanceMask":
        wl = Watchlist("(inline)", WatchKind.SUBSTANCE)
        for n in names:
            wl.entries.setdefault(normalise(n, WatchKind.SUBSTANCE), "")
        return cls.from_watchlist(wl, lexicon)

    def __contains__(self, name: object) -> bool:
        return normalise(name, WatchKind.SUBSTANCE) in self.names

    def apply(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` as the rule sees it; the same object when nothing is ignored. Total."""
        subs = _strings(doc.get("substances"))
        if not subs:
            return doc
        keys = [normalise(s, WatchKind.SUBSTANCE) for s in subs]
        dropped = [k for k in keys if k in self.names]
        if not dropped:
            return doc
        kept = [k for k in keys if k not in self.names]
        view = dict(doc)
        view["substances"] = [s for s, k in zip(subs, keys) if k not in self.names]
        unknown = any(k not in self.classes for k in kept)
        classes = _strings(doc.get("classes"))
        if classes and not unknown:
            gone = {self.classes[k] for k in dropped if k in self.classes} - {self.classes[k] for k in kept}
            view["classes"] = [c for c in classes if c not in gone]
        cas = _strings(doc.get("cas"))
        if cas:
            gone_cas = {self.cas[k] for k in dropped if k in self.cas} - {self.cas[k] for k in kept if k in self.cas}
            view["cas"] = [c for c in cas if c not in gone_cas]
        return view
