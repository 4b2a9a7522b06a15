"""Evasion normalisation with a map back to raw offsets (component ``narcwatch_normalize``).

Vendors write ``f3nt4nyl``, ``n.i.t.a.z.e.n.e``, ``fеntanyl`` with a Cyrillic ``е``,
``ﬁ`` ligatures and zero-width joiners so that keyword filters miss them. ``normalize``
undoes that and returns a :class:`Normalized` whose ``text`` is lower-case and folded,
and whose ``to_raw`` maps any span of it back to the span of the original string, so
every fact still points at what the page really said.

The same function is applied to lexicon names (``narcwatch.extract.lexicon``), so a
Russian street name written in Cyrillic folds exactly like the text it is looked for in:
folding is a *skeleton* (UTS #39 style) applied to both sides, never a translation.

Steps, in order (each is linear; no regex with nested unbounded quantifiers):

1. drop zero-width and other format characters (Unicode category Cf, soft hyphen) and
   nonspacing marks (variation selectors, stray combining accents);
2. NFKC compatibility folding with accents removed (NFKD minus nonspacing marks), and
   lower-case, character by character (so each output char knows its source);
3. join spaced or dotted single letters (``n i t a z e n e``, ``m.d.m.a``);
4. per word token: fold Cyrillic/Greek look-alikes when every non-Latin letter of the
   token is a look-alike (a real Russian word such as ``мефедрон`` keeps its ``ф``/``д``
   and is left alone), then leetspeak when a digit or ``@``/``$`` sits *between* two
   letters (``f3nt4nyl``, ``c0ca1ne``) - never ``40$``, ``5g`` or ``3-MMC``.

Misspellings are the lexicon's business (``narcwatch.extract.substances`` matches long
names within a bounded edit distance).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from itertools import pairwise

from spacy.language import Language
from spacy.tokens import Doc

from narcwatch.extract.tokenizer import raw_text

__all__ = ["HOMOGLYPHS", "LEET", "Normalized", "make_normalizer", "normalize"]

# Cyrillic and Greek letters that render like a Latin letter (after lower-casing).
HOMOGLYPHS: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "һ": "h",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ь": "b", "г": "r", "п": "n", "и": "u",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "μ": "u", "ς": "c", "ϲ": "c", "ζ": "z",
}
# Letters that only count as look-alikes inside a token that already has Latin letters
# (a whole Cyrillic word made of г/п/и/ь is Russian, not a disguise).
_WEAK_HOMOGLYPHS = frozenset("гпиьημγωζ")

LEET: dict[str, str] = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "8": "b"}

# Format characters (zero-width joiners, BOM) and nonspacing marks left alone after NFKC
# (variation selectors, stray combining accents stacked on letters to break matching).
_DROP_CATEGORIES = frozenset({"Cf", "Mn"})
# Zero-width and invisible characters that are not category Cf but act like it.
_INVISIBLE = frozenset("\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u3164\uffa0")

# Single characters separated by a short run of separators, at least 4 of them for
# spaces ("n i t a") and 3 for dots/dashes ("l.s.d"). Bounded inner repetition only.
_SPACED = re.compile(
    r"(?<![^\W_])"                       # not preceded by a letter/digit
    r"[^\W_](?:[ ._*·|/\\~+-]{1,3}[^\W_](?![^\W_])){2,64}"
)
# Necessary condition for _SPACED (three single chars), as a fast scan without
# look-arounds; searched on the text padded with a blank at each end.
_SPACED_HINT = re.compile(r"[\W_][^\W_][ ._*·|/\\~+-]{1,3}[^\W_][ ._*·|/\\~+-]{1,3}[^\W_][\W_]")
_WORD = re.compile(r"[^\W_]+(?:[@$][^\W_]+)*")  # letters/digits, @ and $ only inside


@dataclass(slots=True)
class Normalized:
    """Normalised text plus, per normalised char, the raw span it came from.

    ``starts``/``ends`` are ``None`` when the map is the identity (plain ASCII text with
    nothing joined), which is the common case and costs nothing.
    """

    raw: str
    text: str
    starts: list[int] | None = field(default=None, repr=False)
    ends: list[int] | None = field(default=None, repr=False)

    def to_raw(self, start: int, end: int) -> tuple[int, int]:
        """Raw ``(start, end)`` for the normalised span ``[start, end)`` (clamped, total)."""
        n = len(self.text)
        start = min(max(start, 0), n)
        end = min(max(end, start), n)
        if self.starts is None or self.ends is None:
            return start, end
        if start == end:
            pos = self.starts[start] if start < n else len(self.raw)
            return pos, pos
        return self.starts[start], self.ends[end - 1]

    def raw_span(self, start: int, end: int) -> str:
        rs, re_ = self.to_raw(start, end)
        return self.raw[rs:re_]


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _char_pass(raw: str) -> tuple[list[str], list[int], list[int]]:
    """Step 1+2: drop invisibles, NFKC + lower each char, remember its raw span.

    ASCII runs are copied whole (C speed); only non-ASCII chars are looked at one by one.
    """
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _NON_ASCII.finditer(raw):
        if m.start() > pos:
            out.append(raw[pos:m.start()].lower())
            starts.extend(range(pos, m.start()))
            ends.extend(range(pos + 1, m.start() + 1))
        for i in range(m.start(), m.end()):
            ch = raw[i]
            if ch in _INVISIBLE or unicodedata.category(ch) in _DROP_CATEGORIES:
                continue
            # NFKD then drop the marks: compatibility forms and accents in one step
            # ("ｆ" -> "f", "cocaína" -> "cocaina", "лёд" -> "лед").
            folded = unicodedata.normalize("NFKD", ch).lower()
            for f in folded:
                if f in _INVISIBLE or unicodedata.category(f) in _DROP_CATEGORIES:
                    continue
                out.append(f)
                starts.append(i)
                ends.append(i + 1)
        pos = m.end()
    if pos < len(raw):
        out.append(raw[pos:].lower())
        starts.extend(range(pos, len(raw)))
        ends.extend(range(pos + 1, len(raw) + 1))
    return out, starts, ends


def _consistent_run(run: str) -> int:
    """Length of the prefix of a spaced-letters match that really is one spelled word.

    One separator throughout (``n.i.t.a`` or ``n i t a``, not ``L.S.D 1 x 5 g``), at
    least 3 letters (4 when spaced by blanks), digits only as leetspeak.
    """
    chars = [run[0]]
    ends = [1]  # run offset just past each char in chars
    sep = None
    i = 1
    end = 1
    while i < len(run):
        j = i
        while j < len(run) and not run[j].isalnum():
            j += 1
        if j >= len(run):
            break
        this = run[i:j]
        if sep is None:
            sep = this
        elif this != sep:
            # "c h i n a   w h i t e", "W-h-i-t-e- -W-i-d-o-w": a wider gap is a word break
            if not (" " in this and this.replace(sep, "").strip() == "" and len(this) <= 5):
                break
            chars.append(" ")
            ends.append(ends[-1])
        chars.append(run[j])
        ends.append(j + 1)
        end = j + 1
        i = j + 1
    # A lone trailing digit is a quantity ("L S D 1 tab"), not leetspeak: stop before it.
    if sum(not c.isalpha() and c != " " for c in chars) == 1:
        while chars and not chars[-1].isalpha():
            chars.pop()
            ends.pop()
    end = ends[-1] if ends else 0
    chars = [c for c in chars if c != " "]
    letters = sum(c.isalpha() for c in chars)
    if any(not c.isalpha() and c not in LEET for c in chars) or letters * 2 < len(chars):
        return 0
    if any(not a.isalpha() and not b.isalpha() for a, b in pairwise(chars)):
        return 0  # "1 2 3 4" is a count, not a spelled word
    if letters < 3 or (sep is not None and sep.strip() == "" and len(chars) < 4):
        return 0
    return end


def _join_spaced(text: str, starts: list[int] | None, ends: list[int] | None,
                 ) -> tuple[str, list[int] | None, list[int] | None]:
    """Step 3: ``n i t a z e n e`` -> ``nitazene`` (map kept per letter)."""
    accepted = []
    for m in _SPACED.finditer(text):
        run = _consistent_run(m.group())
        if run:
            accepted.append((m.start(), m.start() + run))
    if not accepted:
        return text, starts, ends
    if starts is None or ends is None:
        starts = list(range(len(text)))
        ends = list(range(1, len(text) + 1))
    out: list[str] = []
    ns: list[int] = []
    ne: list[int] = []
    pos = 0
    for a, b in accepted:
        out.append(text[pos:a])
        ns.extend(starts[pos:a])
        ne.extend(ends[pos:a])
        sep = None
        k = a
        while k < b:
            if text[k].isalnum():
                out.append(text[k])
                ns.append(starts[k])
                ne.append(ends[k])
                k += 1
                continue
            j = k
            while j < b and not text[j].isalnum():
                j += 1
            gap = text[k:j]
            if sep is None:
                sep = gap
            elif gap != sep:  # the word break _consistent_run allowed
                out.append(" ")
                ns.append(starts[k])
                ne.append(ends[k])
            k = j
        pos = b
    out.append(text[pos:])
    ns.extend(starts[pos:])
    ne.extend(ends[pos:])
    return "".join(out), ns, ne


def _fold_token(tok: str, email_like: bool) -> str:
    """Step 4 for one word token: look-alikes then leetspeak; same length out as in."""
    if not tok.isascii():
        latin = sum(1 for c in tok if "a" <= c <= "z")
        others = [c for c in tok if c.isalpha() and not ("a" <= c <= "z")]
        if others and all(c in HOMOGLYPHS for c in others) and (
                latin or not any(c in _WEAK_HOMOGLYPHS for c in others)):
            tok = "".join(HOMOGLYPHS.get(c, c) for c in tok)
    if tok.isalpha():
        return tok
    chars = list(tok)
    n = len(chars)
    # Leet counts only as a run of leet chars with a letter on both sides, so
    # "n1t4z3n3" and "c0ca1ne" fold while "3mmc", "5g", "40$", "jwh018", "am2201" do not.
    interior = False
    i = 0
    while i < n:
        if chars[i] in LEET and not chars[i].isalpha():
            j = i
            while j < n and chars[j] in LEET:
                j += 1
            if i > 0 and j < n and chars[i - 1].isalpha() and chars[j].isalpha() and not (
                    email_like and "@" in chars[i:j]):
                interior = True
                break
            i = j
        else:
            i += 1
    if not interior:
        # An end digit on an all-letter word: "mdm4", "gorill4", "0xy", "5hroom5" - but
        # never a leading digit alone ("3mmc", "5meo", "4fa" are names, "5g" a weight).
        core_lo = 1 if chars[0] in LEET and not chars[0].isalpha() else 0
        core_hi = n - 1 if n > 1 and chars[-1] in LEET and not chars[-1].isalpha() else n
        core = tok[core_lo:core_hi]
        leading_zero = bool(core_lo) and chars[0] == "0"
        if not (core.isalpha() and len(core) >= (2 if leading_zero else 3) and (core_hi < n or leading_zero)):
            return tok
        return "".join(LEET.get(c, c) for c in chars)
    letters = sum(c.isalpha() for c in chars)
    digits = n - letters
    if letters < 2 or digits > letters or any(not (c.isalpha() or c in LEET) for c in chars):
        return tok
    return "".join(LEET.get(c, c) for c in chars)




# Where step 4 can change anything: a non-ASCII char, a leet char after a letter, a
# leading zero before one. Positions only (no leading star: linear on any input).
# Each branch starts with a plain class so the scan is fast; the match lands inside the
# word to look at, which is all _fold_words needs.
_FOLD_AT_ASCII = re.compile(r"[a-z][013457@$8]|\b0[a-z]")
_FOLD_AT = re.compile(r"[^\W\d_][013457@$8]|\b0[^\W\d_]|[^\x00-\x7f]")


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c in "@$"


def _fold_words(text: str) -> str:
    """Step 4 on the words that can change; every other word is left as it is."""
    parts: list[str] = []
    pos = 0     # end of the text already copied to parts
    done = 0    # end of the last word looked at
    n = len(text)
    for m in (_FOLD_AT_ASCII if text.isascii() else _FOLD_AT).finditer(text):
        p = m.start()
        if p < done or not _is_word_char(text[p]):
            continue
        a = p
        while a > 0 and _is_word_char(text[a - 1]):
            a -= 1
        b = p + 1
        while b < n and _is_word_char(text[b]):
            b += 1
        done = b
        while a < b and not text[a].isalnum():   # "@user", "$40": symbols only inside
            a += 1
        while b > a and not text[b - 1].isalnum():
            b -= 1
        tok = text[a:b]
        if not tok or (tok.isascii() and tok.isalpha()):
            continue
        email_like = "@" in tok and text.startswith(".", b)
        folded = _fold_token(tok, email_like)
        if folded != tok:
            parts.append(text[pos:a])
            parts.append(folded)
            pos = b
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)


def normalize(raw: str) -> Normalized:
    """Fold evasions out of ``raw``; total (any str in, never raises)."""
    if not isinstance(raw, str):
        raw = "" if raw is None else str(raw)
    starts: list[int] | None
    ends: list[int] | None
    if raw.isascii():
        text, starts, ends = raw.lower(), None, None
    else:
        chars, starts, ends = _char_pass(raw)
        text = "".join(chars)
    if _SPACED_HINT.search(f" {text} "):
        text, starts, ends = _join_spaced(text, starts, ends)
    if starts is not None and len(text) == len(raw) and starts == list(range(len(raw))):
        starts = ends = None  # one char per char after all (e.g. only "é" or "’"): identity
    text = _fold_words(text)
    return Normalized(raw=raw, text=text, starts=starts, ends=ends)


@Language.factory("narcwatch_normalize", default_config={})
def make_normalizer(nlp: Language, name: str) -> NormalizeComponent:
    return NormalizeComponent()


class NormalizeComponent:
    """Sets ``doc._.nw_norm`` to :func:`normalize` of ``doc.text``."""

    def __call__(self, doc: Doc) -> Doc:
        doc._.nw_norm = normalize(raw_text(doc))
        return doc
