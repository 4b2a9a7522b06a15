"""Substance mentions from the lexicon (component ``narcwatch_substances``).

A token trie over the *normalised* text (``doc._.nw_norm``): names are normalised by the
same function, split into letter runs and digit runs (so ``3-MMC``, ``3MMC`` and
``3 mmc`` are one key), and each name is also stored with its separators removed
(``alphaPVP``). Matching is longest-match, left to right, one dict lookup per token,
so the cost is linear in the text and independent of the lexicon size.

Layers, each with its confidence:

* exact names (canonical 0.98, synonym 0.95, abbreviation 0.9, street name 0.85);
* misspellings: a word of 7+ letters within one edit (two from 10 letters, chemical
  names only) of a lexicon name with the same first letter (``isotonitazine``,
  ``carfentanyl``), or a 6-letter word missing one letter (``cocine``) - 0.75 / 0.65;
  a family-shaped word (``…nitazepyne``) takes such a match only when the edit looks
  like a slip, otherwise it is a novel candidate;
* a misspelt multi-word name (``M30 bluees``, ``acetyl fentanil``) - 0.75 / 0.65: the
  same number of tokens, at least one token exact, numbers and words under five letters
  exact, a 5-6 letter word only with a slip (a doubled letter, two letters swapped: not
  ``white window`` for ``white widow``), a longer word within one edit (two from ten
  letters), at most two edits in all; candidates come from an index by first letter and
  length of each phrase's long words, so the work per text word is bounded;
* a doubled consonant (``cokke``, ``3mmcc``) or a name glued behind a number and unit
  (``100gCocaine``) - 0.7;
* ambiguous slang (``ice``, ``speed``, ``snow``, ``трава``): only with a quantity within
  80 characters and no real name right beside it (``MDMA crystal`` is MDMA) - 0.6;
* short codes that are English words in lower case (``DOM``, ``MET``) only in capitals.

Only words that can start a match are visited (trie roots, and longer words not yet
known to start nothing), so ordinary prose costs one set lookup per word.

Spans are mapped back to raw offsets, so ``text[start:end]`` is what the page said.
Novel-substance candidates (``narcwatch.extract.novel``) are added with ``novel=True``.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc

from narcwatch.extract.lexicon import Entry, Lexicon, NameKind, load_lexicon
from narcwatch.extract.models import SubstanceMention
from narcwatch.extract.normalize import Normalized, normalize
from narcwatch.extract.tokenizer import raw_text

__all__ = ["SubstanceMatcher", "find_substances", "make_substances", "matcher_for"]

_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_DOUBLED = re.compile(r"([^\W\daeiouy_])\1")  # doubled consonant; "ee", "oo" are English
_SPLIT = re.compile(r"([^\W\d_]+|\d+)")
_SEP_ONLY = re.compile(r"[\W_]+")
# Something that looks like a drug offer: a quantity by weight or dose unit. A price
# alone is not enough (retail deal channels price glass, bars and speed too).
_OFFER_CUE = re.compile(
    r"\d\s?(?:g|gr|grams?|gramm|mg|kg|oz|ug|µg|mcg|pills?|tabs?|blotters?|hits?|x)\b"
    r"|\d\s?(?:г|гр|грамм|шт)\b|\b(?:per gram|a gram|an ounce|half ounce|eighth|8th|грамм|gramos?)\b"
)
_CUE_WINDOW = 80  # an ambiguous name needs its quantity cue this close (chars)
_UNITS = frozenset({"g", "gr", "grs", "gram", "grams", "mg", "kg", "ml", "ug", "mcg", "x", "pcs", "oz"})
_ADJACENT = 25  # chars: slang this close to a real name describes it
_MAX_GAP = 3  # separator chars allowed between the tokens of a multi-word name

_CONF = {
    NameKind.CANONICAL: 0.98, NameKind.SYNONYM: 0.95, NameKind.ABBREVIATION: 0.9,
    NameKind.STREET: 0.85, NameKind.AMBIGUOUS: 0.6,
}
_KIND_RANK = {NameKind.CANONICAL: 0, NameKind.SYNONYM: 1, NameKind.ABBREVIATION: 2,
              NameKind.STREET: 3, NameKind.AMBIGUOUS: 4}

# Real words within fuzzy reach of a lexicon name ("morphing" ~ morphine).
FUZZY_STOP = frozenset({
    "morphing", "codeine", "heroine", "heroines", "cocaine", "mephedrone", "caffeine",
    "ketamine", "migraine", "fentanyl", "protein", "proteine", "proteins", "vitamine",
    "vitamins", "nicotine", "amphetamine", "prevention", "practice", "marines", "marine",
    "alphabet", "trainee", "trainees", "moraine", "chlorine", "fluorine", "bromine",
    "ketones", "benzene", "toluene", "acetone", "methane", "ethanol", "methanol",
    "ecstatic", "ecstasies", "harmine", "alkaline", "gasoline", "medicine", "medicines",
    "marijuana", "tramadol", "valium", "dopamine", "serotonin", "adrenaline", "histamine",
    "glutamine", "cysteine", "arginine", "lysine", "taurine", "creatine", "theanine",
    "tyrosine", "glycine", "alanine", "guanine", "adenine", "purine", "quinine", "feminine",
    "masculine", "genuine", "examine", "determine", "routine", "machine", "machines",
    "magazine", "magazines", "engine", "engines", "imagine", "famine", "jasmine",
    "sardine", "sardines", "margarine", "doctrine", "figurine", "nectarine", "tangerine",
    "submarine", "limousine", "cuisine", "quarantine", "turbine", "opinion", "opinions",
    "ketchup", "methods", "methodical", "kratom", "benzodiazepine", "benzodiazepines",
    "opioids", "opiates", "stimulant", "stimulants", "cannabis", "cannabinoid",
    "cannabinoids", "psychedelic", "psychedelics", "dissociative", "dissociatives",
    "deposit", "dentist", "delivered", "delivery", "shipping", "shippers", "shipment",
    "stealth", "stealthy", "packaging", "package", "packages", "quality", "quantity",
    "tracking", "trackable", "customer", "customers", "business", "discount", "discounts",
    "reships", "reship", "refund", "refunds", "product", "products", "purity", "listings",
    "listing", "anywhere", "sealed", "vacuum", "decline", "declined", "phenomenal",
    "pharmacy", "pharmacies", "pharmaceutical", "pharmaceuticals", "prescription",
    "generic", "generics", "tablets", "capsules", "methylated", "ethylene", "propylene",
    "calcium", "cocoanut", "heroism", "morphed", "morphology", "cocaines", "ketamines",
    "amphetamines", "methamphetamines", "codeines", "morphines", "fentanyls",
})


@dataclass(frozen=True, slots=True)
class _Payload:
    entry: int           # index into the matcher's entries
    kind: str            # NameKind
    upper_only: bool     # must be written in capitals in the raw text


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _keys(name: str) -> set[tuple[str, ...]]:
    """The token keys a lexicon name is matched by (as written; separators removed)."""
    keys = set()
    toks = tuple(t for t, _, _ in _tokens(normalize(name).text))
    if toks:
        keys.add(toks)
    joined = _SEP_ONLY.sub("", name)
    if joined and joined != name:
        jt = tuple(t for t, _, _ in _tokens(normalize(joined).text))
        if jt:
            keys.add(jt)
    # A short code spelt out letter by letter ("L S D", "b u d"): normalize() joins
    # spaced letters only from four on, so three-to-five-letter names get that key too.
    for key in list(keys):
        if len(key) == 1 and key[0].isalpha() and 3 <= len(key[0]) <= 5:
            keys.add(tuple(key[0]))
    return keys


def _osa(a: str, b: str, k: int) -> int:
    """Optimal-string-alignment distance, stopping early once it exceeds ``k``."""
    if abs(len(a) - len(b)) > k:
        return k + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > k:
            return k + 1
        prev2, prev = prev, cur
    return prev[-1]


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        nxt = set()
        for w in frontier:
            for i in range(len(w)):
                nxt.add(w[:i] + w[i + 1:])
        out |= nxt
        frontier = nxt
    return out


def _novel_family(tok: str) -> object | None:
    """A family-shaped token 2 edits from a known name is a new analogue, not a typo."""
    from narcwatch.extract.novel import classify_name

    return classify_name(tok)


def _typo_shaped(tok: str, word: str) -> bool:
    """One edit that looks like a slip, not chemistry: in the last five letters
    (``isotonitazine``), two letters swapped (``aceytlfentanyl``) or one doubled
    (``acetyylfentanyl``)."""
    if len(os.path.commonprefix([tok, word])) >= len(tok) - 5:
        return True
    if len(tok) == len(word) and sorted(tok) == sorted(word):
        return True
    return len(tok) == len(word) + 1 and any(
        tok[k] == tok[k - 1] and tok[:k] + tok[k + 1:] == word for k in range(1, len(tok)))


def _max_dist(n: int) -> int:
    return 2 if n >= 10 else 1


def _slip(text: str, name: str) -> bool:
    """One edit that a typing slip makes: a letter doubled (``bluees``), a doubled letter
    written once (``mushroms``) or two neighbours swapped (``bleus``)."""
    if len(text) == len(name) + 1:
        longer, shorter = text, name
    elif len(name) == len(text) + 1:
        longer, shorter = name, text
    elif len(text) == len(name):
        diff = [k for k in range(len(text)) if text[k] != name[k]]
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                and text[diff[0]] == name[diff[1]] and text[diff[1]] == name[diff[0]])
    else:
        return False
    k = 0
    while k < len(shorter) and longer[k] == shorter[k]:
        k += 1
    # longer[k] is the extra letter: a slip when it repeats its neighbour
    return longer[k + 1:] == shorter[k:] and (
        (k > 0 and longer[k] == longer[k - 1]) or (k + 1 < len(longer) and longer[k] == longer[k + 1]))


_PHRASE_MIN = 5  # shorter words and numbers of a multi-word name must be exact
_PHRASE_EDITS = 2  # at most this many edits over a whole multi-word name
_PHRASE_TOKENS = 6  # longer keys are spelt-out codes, never fuzzy


def _phrase_bound(tok: str, chemical: bool) -> int:
    """Edits a token of a multi-word name may take: 0 for numbers and short words."""
    if len(tok) < _PHRASE_MIN or not tok.isalpha():
        return 0
    return 2 if chemical and len(tok) >= 10 else 1


def _token_edits(text: str, name: str, bound: int) -> int | None:
    """Edits between a text token and a name token, or None beyond ``bound``."""
    if text == name:
        return 0
    if bound == 0 or text[0] != name[0] or text in FUZZY_STOP or not text.isalpha():
        return None
    if len(name) <= 6:
        return 1 if _slip(text, name) else None
    d = _osa(text, name, bound)
    return d if d <= bound else None


class SubstanceMatcher:
    """Finds lexicon names in text. Build once per lexicon; ``find`` is thread-safe."""

    MIN_FUZZY = 7
    MAX_APPROX = 40  # longer tokens are not names; keeps fuzzy/glued work bounded
    MIN_GLUED = 6  # "colombiancocaine", "gcocaine" (after "100"): a long name at the end

    def __init__(self, lexicon: Lexicon, *, fuzzy: bool = True) -> None:
        self.lexicon = lexicon
        self.entries: list[Entry] = list(lexicon)
        self.fuzzy = fuzzy
        self._trie: dict = {}
        self._fuzzy_index: dict[str, list[tuple[str, int]]] = {}
        self._fuzzy_cache: dict[str, tuple[int, int, str] | None] = {}
        self._fuzzy_depth: dict[str, int] = {}
        self._settled: set[str] = set()  # long words known to start no match, exact or approximate
        singles: dict[str, tuple[int, str]] = {}
        for idx, entry in enumerate(self.entries):
            upper = {u.casefold() for u in entry.upper_only}
            for name, kind in entry.names():
                payload = _Payload(idx, kind, name.casefold() in upper)
                for key in _keys(name):
                    self._insert(key, payload)
                    if (len(key) == 1 and key[0].isalpha() and len(key[0]) >= self.MIN_GLUED
                            and kind != NameKind.AMBIGUOUS and not payload.upper_only):
                        prev = singles.get(key[0])
                        if prev is None or _KIND_RANK[kind] < _KIND_RANK[prev[1]]:
                            singles[key[0]] = (idx, kind)
        self._vocab = frozenset(singles)
        self._glue_vocab = frozenset(w for w in singles if len(w) >= self.MIN_GLUED)
        self._glue_cache: dict[str, tuple[int, int] | None] = {}
        for word, (idx, kind) in singles.items():
            if len(word) < self.MIN_FUZZY:
                continue
            # Two edits only against chemical names; street names get one.
            depth = _max_dist(len(word)) if kind in (NameKind.CANONICAL, NameKind.SYNONYM) else 1
            for d in _deletes(word, depth):
                self._fuzzy_index.setdefault(d, []).append((word, idx))
            self._fuzzy_depth[word] = depth
        self._build_phrases()

    def _build_phrases(self) -> None:
        """Multi-word names that can match approximately, indexed by (first letter,
        length) of each of their long words: a misspelt word finds its phrases in a few
        dict lookups, and then only the phrase's other tokens are compared."""
        # (key, payloads, per-token bounds). Names as written only: the separator-free
        # keys ("4hydroxyn" from "4-hydroxy-n") are not words anyone misspells.
        self._phrases: list[tuple[tuple[str, ...], list[_Payload], tuple[int, ...]]] = []
        self._slots: dict[tuple[str, int], list[tuple[int, int]]] = {}
        self._phrase_cache: dict[str, tuple[tuple[int, int, int], ...]] = {}
        best: dict[tuple[str, ...], _Payload] = {}
        for idx, entry in enumerate(self.entries):
            upper = {u.casefold() for u in entry.upper_only}
            for name, kind in entry.names():
                if kind == NameKind.AMBIGUOUS or name.casefold() in upper:
                    continue
                key = tuple(t for t, _, _ in _tokens(normalize(name).text))
                if not 2 <= len(key) <= _PHRASE_TOKENS:
                    continue
                prev = best.get(key)
                if prev is None or _KIND_RANK[kind] < _KIND_RANK[prev.kind]:
                    best[key] = _Payload(idx, kind, False)
        for key, payload in sorted(best.items()):
            chemical = payload.kind in (NameKind.CANONICAL, NameKind.SYNONYM)
            bounds = tuple(_phrase_bound(t, chemical) for t in key)
            if not any(bounds):
                continue
            pid = len(self._phrases)
            self._phrases.append((key, [payload], bounds))
            for q, t in enumerate(key):
                if bounds[q]:
                    self._slots.setdefault((t[0], len(t)), []).append((pid, q))
        self._phrase_words = frozenset(t for key, _, _ in self._phrases for t in key)

    def _phrase_slots(self, word: str) -> tuple[tuple[int, int, int], ...]:
        """``(phrase id, token position, edits)`` for every long word of a multi-word name
        that ``word`` is a misspelling of. Cached per word (bounded)."""
        hit = self._phrase_cache.get(word)
        if hit is not None:
            return hit
        out: list[tuple[int, int, int]] = []
        if word.isalpha() and word not in FUZZY_STOP:
            for length in range(len(word) - 2, len(word) + 3):
                for pid, q in self._slots.get((word[0], length), ()):
                    name = self._phrases[pid][0][q]
                    d = _token_edits(word, name, self._phrases[pid][2][q]) if name != word else None
                    if d is not None:
                        out.append((pid, q, d))
        if len(self._phrase_cache) > 100_000:
            self._phrase_cache.clear()
        res = self._phrase_cache[word] = tuple(out)
        return res

    def _fuzzy_phrases(self, words: list[str], parts: list[str]) -> dict[int, tuple[int, _Payload, float]]:
        """Misspelt multi-word names: start word index -> (last word index, payload, confidence).

        Only words of 4+ letters that are not themselves a word of some multi-word name
        are looked up (``M30 bluees``: ``bluees``), each in a bounded slot list; the
        phrase around it must have the same number of tokens, every other token exact or
        within its own bound, at least one exact and at most ``_PHRASE_EDITS`` in all.
        """
        out: dict[int, tuple[int, _Payload, float, int]] = {}
        known, cache, n = self._phrase_words, self._phrase_cache, len(words)
        for u in [k for k, w in enumerate(words) if 3 < len(w) <= self.MAX_APPROX and w not in known
                  and cache.get(w) != ()]:
            for pid, q, dq in self._phrase_slots(words[u]):
                key, payloads, bounds = self._phrases[pid]
                s, m = u - q, len(key)
                if s < 0 or s + m > n:
                    continue
                edits, exact = dq, 0
                for r in range(m):
                    if r == q:
                        continue
                    if r and (len(parts[2 * (s + r)]) > _MAX_GAP or "\n" in parts[2 * (s + r)]):
                        edits = _PHRASE_EDITS + 1
                        break
                    d = _token_edits(words[s + r], key[r], bounds[r])
                    if d is None:
                        edits = _PHRASE_EDITS + 1
                        break
                    edits += d
                    exact += d == 0
                if q and (len(parts[2 * (s + q)]) > _MAX_GAP or "\n" in parts[2 * (s + q)]):
                    continue
                if exact == 0 or edits > _PHRASE_EDITS:
                    continue
                conf = min(_CONF[payloads[0].kind], 0.75 if edits <= 1 else 0.65)
                best = out.get(s)
                if best is None or (m - 1, -edits) > (best[0] - s, -best[3]):
                    out[s] = (s + m - 1, payloads[0], conf, edits)
        return {s: (e, p, c) for s, (e, p, c, _) in out.items()}

    def _insert(self, key: tuple[str, ...], payload: _Payload) -> None:
        """Terminal payloads are kept best-kind first; several survive when folding makes
        two names one key (Russian "мет" and the code "MET" both fold to "met")."""
        node = self._trie
        for tok in key:
            node = node.setdefault(tok, {})
        payloads: list[_Payload] = node.setdefault(None, [])
        if any(p.entry == payload.entry and p.upper_only == payload.upper_only for p in payloads):
            return
        payloads.append(payload)
        payloads.sort(key=lambda p: (_KIND_RANK[p.kind], p.upper_only))

    # --- fuzzy -----------------------------------------------------------------
    def _fuzzy(self, tok: str) -> tuple[int, int, str] | None:
        """``(entry index, distance, name)`` of the closest long name, or ``None``."""
        hit = self._fuzzy_cache.get(tok, False)
        if hit is not False:
            return hit  # type: ignore[return-value]
        result: tuple[int, int, str] | None = None
        if tok not in FUZZY_STOP:
            k = _max_dist(len(tok))
            best: tuple[int, str, int] | None = None
            seen: set[str] = set()
            for d in _deletes(tok, k):
                for word, idx in self._fuzzy_index.get(d, ()):
                    if word in seen or word[0] != tok[0] or len(word) < self.MIN_FUZZY:
                        continue
                    seen.add(word)
                    kk = min(k, self._fuzzy_depth.get(word, 1))
                    dist = _osa(tok, word, kk)
                    if dist <= kk and (best is None or dist < best[0]):
                        best = (dist, word, idx)
            if best is not None:
                result = (best[2], best[0], best[1])
        if len(self._fuzzy_cache) > 100_000:
            self._fuzzy_cache.clear()
        self._fuzzy_cache[tok] = result
        return result

    def _glued(self, tok: str) -> tuple[int, int] | None:
        """``(entry index, length)`` of a long lexicon name that ends ``tok``."""
        hit = self._glue_cache.get(tok, False)
        if hit is not False:
            return hit  # type: ignore[return-value]
        result = None
        for k in range(1, len(tok) - self.MIN_GLUED + 1):
            word = tok[k:]
            if word in self._glue_vocab:
                node = self._trie.get(word)
                if node is not None and node.get(None):
                    result = (node[None][0].entry, len(word))
                break
        if len(self._glue_cache) > 100_000:
            self._glue_cache.clear()
        self._glue_cache[tok] = result
        return result

    @staticmethod
    def _ambiguous_ok(text: str, ns: int, ne: int, strong_starts: list[int], strong_ends: list[int]) -> bool:
        """Slang counts when a quantity is near and no real name is next to it.

        "ice 3.5g" is methamphetamine; "MDMA crystal 10g" and "xanax bars" describe the
        name beside them, so the slang adds nothing (and would add a wrong substance).
        ``strong_*`` are the sorted starts/ends of the non-ambiguous matches.
        """
        k = bisect_left(strong_ends, ns - _ADJACENT)  # first real name ending near or after ns
        while k < len(strong_starts) and strong_starts[k] <= ne + _ADJACENT:
            if strong_starts[k] != ns:  # the same span read as a real name elsewhere
                return False
            k += 1
        return _OFFER_CUE.search(text, max(0, ns - _CUE_WINDOW), ne + _CUE_WINDOW) is not None

    def _undouble(self, word: str, parent: dict | None = None) -> dict | None:
        """The trie node (under ``parent``) for ``word`` with one doubled consonant
        written once, if any."""
        parent = self._trie if parent is None else parent
        for k in range(1, len(word)):
            if word[k] == word[k - 1] and word[k].isalpha() and word[k] not in "aeiouy":
                node = parent.get(word[:k] + word[k + 1:])
                if node is not None:
                    return node
        return None

    def _maybe_approx(self, word: str) -> bool:
        """False when the caches already know ``word`` matches nothing approximately."""
        if self._fuzzy_cache.get(word, False) is None and self._glue_cache.get(word, False) is None:
            if len(self._settled) > 200_000:
                self._settled.clear()
            self._settled.add(word)
            return False
        return True

    def _approximate(self, tok: str, ts: int, te: int, after_number: bool,
                     ) -> tuple[int, int, _Payload, float] | None:
        """A misspelt or glued name ``tok`` at ``[ts, te)``, unless it is a new family member.

        ``mephedrone`` one letter from ``methedrone`` and ``fluetonitazepyne`` ending in
        ``etonitazepyne`` are different substances, not typos: a family-shaped token only
        takes a fuzzy match whose edit is in its last five letters (``isotonitazine``), and
        a glued match only behind a number and a unit (``100gCocaine``); otherwise
        novel.py reports it.
        """
        family = None
        hit = self._fuzzy(tok) if len(tok) >= self.MIN_FUZZY - 1 else None
        if hit is not None:
            idx, dist, word = hit
            family = _novel_family(tok)
            if family is None or (dist == 1 and _typo_shaped(tok, word)):
                return ts, te, _Payload(idx, NameKind.SYNONYM, False), 0.75 if dist <= 1 else 0.65
        glued = self._glued(tok)
        if glued is None:
            return None
        idx, length = glued
        head = tok[:len(tok) - length]
        if (after_number and head in _UNITS) or (family or _novel_family(tok)) is None:
            return te - length, te, _Payload(idx, NameKind.SYNONYM, False), 0.7
        return None

    # --- matching --------------------------------------------------------------
    def find(self, raw: str, norm: Normalized | None = None) -> list[SubstanceMention]:
        """Lexicon mentions in ``raw`` (pass ``norm`` if already normalised). Total."""
        if not isinstance(raw, str):
            return []
        norm = norm if norm is not None and norm.raw == raw else normalize(raw)
        text = norm.text
        # parts = [sep, tok, sep, tok, ..., sep]: words and gaps by C-speed slicing;
        # offsets (cumulative lengths) only once something matched.
        parts = _SPLIT.split(text)
        words = parts[1::2]
        cum: list[int] | None = None
        # (norm start, [(norm end, payload, confidence), ...] longest and best first)
        found: list[tuple[int, list[tuple[int, _Payload, float]]]] = []
        trie, vocab, settled = self._trie, self._vocab, self._settled
        lo, hi = self.MIN_GLUED, self.MAX_APPROX
        n = len(words)
        # Only words that can start a match are visited: trie roots, and words of 4+
        # letters not yet known to start nothing (typo, misspelling or glued name). In
        # ordinary text that is a handful per listing; the filter runs at C speed.
        todo = [k for k, w in enumerate(words) if w in trie or (3 < len(w) <= hi and w not in settled)]
        phrases = self._fuzzy_phrases(words, parts) if self.fuzzy else {}
        if phrases:
            todo = sorted(set(todo).union(phrases))
        skip_to = 0
        for i in todo:
            if i < skip_to:
                continue
            word = words[i]
            node = trie.get(word)
            typo = False
            if node is None and _DOUBLED.search(word):
                node = self._undouble(word)  # "cokke", "3mmcc", "budd": one doubled consonant
                typo = node is not None
            phrase = phrases.get(i) if phrases else None
            if phrase is not None and node is None:
                if cum is None:
                    cum = list(accumulate(map(len, parts), initial=0))
                found.append((cum[2 * i + 1], [(cum[2 * phrase[0] + 2], phrase[1], phrase[2])]))
                skip_to = phrase[0] + 1
                continue
            if node is None:
                if (self.fuzzy and lo <= len(word) <= hi and word.isalpha() and word not in vocab
                        and self._maybe_approx(word)):
                    if cum is None:
                        cum = list(accumulate(map(len, parts), initial=0))
                    after_number = i > 0 and words[i - 1].isdigit() and not parts[2 * i]
                    approx = self._approximate(word, cum[2 * i + 1], cum[2 * i + 2], after_number)
                    if approx is not None:
                        found.append((approx[0], [approx[1:]]))
                elif len(word) < lo or not self.fuzzy or not word.isalpha() or word in vocab:
                    if len(settled) > 200_000:
                        settled.clear()
                    settled.add(word)  # no name starts here and nothing approximate: skip next time
                continue
            terminals: list[tuple[int, list[_Payload]]] = []  # (last token index, payloads)
            j = i
            while node is not None:
                p = node.get(None)
                if p:
                    terminals.append((j, p))
                j += 1
                if j >= n:
                    break
                gap = parts[2 * j]
                if len(gap) > _MAX_GAP or "\n" in gap:
                    break
                nxt = node.get(words[j])
                if nxt is None and 3 < len(words[j]) <= hi and _DOUBLED.search(words[j]):
                    nxt = self._undouble(words[j], node)
                    typo = typo or nxt is not None
                node = nxt
            if phrase is not None and (not terminals or phrase[0] > terminals[-1][0]):
                # a misspelt longer name wins over an exact shorter one inside it
                terminals.append((phrase[0], [phrase[1]]))
            if terminals:
                if cum is None:
                    cum = list(accumulate(map(len, parts), initial=0))
                alts = [(cum[2 * jj + 2], pl, (phrase[2] if phrase is not None and jj == phrase[0]
                                                else min(_CONF[pl.kind], 0.7) if typo else _CONF[pl.kind]))
                        for jj, ps in reversed(terminals) for pl in ps]
                found.append((cum[2 * i + 1], alts))
                skip_to = terminals[-1][0] + 1
        if not found:
            return []
        strong = [(ns, alts[0][0]) for ns, alts in found
                  if any(p.kind != NameKind.AMBIGUOUS and not p.upper_only for _, p, _ in alts)]
        strong_starts = [a for a, _ in strong]
        strong_ends = [b for _, b in strong]
        out: list[SubstanceMention] = []
        for ns, alts in found:
            for ne, payload, conf in alts:  # the longest acceptable reading wins
                rs, re_ = norm.to_raw(ns, ne)
                surface = raw[rs:re_]
                if payload.upper_only and surface.upper() != surface:
                    continue
                if payload.kind == NameKind.AMBIGUOUS and not self._ambiguous_ok(
                        text, ns, ne, strong_starts, strong_ends):
                    continue
                entry = self.entries[payload.entry]
                out.append(SubstanceMention(canonical=entry.canonical, cls=entry.cls, cas=entry.cas,
                                            text=surface, start=rs, end=re_, confidence=conf))
                break
        return out


@lru_cache(maxsize=8)
def matcher_for(path: str | None = None, fuzzy: bool = True) -> SubstanceMatcher:
    """The matcher for a lexicon file (default: the shipped lexicon), built once."""
    return SubstanceMatcher(load_lexicon(Path(path) if path else None), fuzzy=fuzzy)


def find_substances(text: str, *, lexicon: Lexicon | None = None, novel: bool = True,
                    norm: Normalized | None = None) -> list[SubstanceMention]:
    """Known substances plus novel candidates in ``text``, sorted by start. Total."""
    if not isinstance(text, str) or not text:
        return []
    from narcwatch.extract.novel import find_novel  # local: novel imports this module's helpers

    matcher = matcher_for() if lexicon is None else SubstanceMatcher(lexicon)
    norm = norm if norm is not None and norm.raw == text else normalize(text)
    mentions = matcher.find(text, norm)
    if novel:
        mentions = find_novel(text, norm, mentions, matcher.lexicon)
    return sorted(mentions, key=lambda m: (m.start, m.end))


@Language.factory("narcwatch_substances", default_config={"lexicon_path": None, "fuzzy": True, "novel": True})
def make_substances(nlp: Language, name: str, lexicon_path: str | None, fuzzy: bool, novel: bool,
                    ) -> SubstancesComponent:
    return SubstancesComponent(lexicon_path=lexicon_path, fuzzy=fuzzy, novel=novel)


class SubstancesComponent:
    """Thin spaCy wrapper: appends substance mentions to ``doc._.nw_facts``."""

    def __init__(self, lexicon_path: str | None = None, fuzzy: bool = True, novel: bool = True) -> None:
        self.lexicon_path = lexicon_path
        self.fuzzy = fuzzy
        self.novel = novel
        self._matcher: SubstanceMatcher | None = None

    def initialize(self, get_examples: Iterable | None = None, nlp: Language | None = None) -> None:
        self._matcher = matcher_for(self.lexicon_path, self.fuzzy)

    def __call__(self, doc: Doc) -> Doc:
        if self._matcher is None:
            self.initialize()
        assert self._matcher is not None
        norm = doc._.nw_norm
        if isinstance(norm, Normalized):
            raw = norm.raw  # == raw_text(doc)
        else:
            raw = raw_text(doc)
            norm = normalize(raw)
        mentions = self._matcher.find(raw, norm)
        if self.novel:
            from narcwatch.extract.novel import find_novel

            mentions = find_novel(raw, norm, mentions, self._matcher.lexicon)
        facts = doc._.nw_facts
        if facts is not None:
            facts.substances.extend(sorted(mentions, key=lambda m: (m.start, m.end)))
        return doc
