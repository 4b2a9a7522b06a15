"""Quantities and purity in listing text: ``10x 2mg``, ``1/8 oz``, ``3,5 гр``, ``90% pure``.

Units are normalised to one symbol each - ``g mg ug kg oz lb ml unit`` (``unit`` is any
counted piece: pills, tabs, blotters, caps, pieces, "шт") - and mass is also given in
grams (``grams``) so prices can be compared per gram whatever unit the vendor used.
A count of dosed pieces (``10x 2mg``, ``100 pills 1mg``) is a quantity of ``unit``;
the per-piece dose stays in ``dose``.

Total functions; every regex is a bounded pass (no nested unbounded quantifiers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = [
    "GRAMS_PER",
    "Purity",
    "Quantity",
    "find_purity",
    "find_quantities",
    "parse_quantity",
    "to_grams",
]

# Exact conversions (NIST Handbook 44: 1 oz avdp = 28.349523125 g, 1 lb = 453.59237 g).
GRAMS_PER: dict[str, Decimal] = {
    "ug": Decimal("0.000001"),
    "mg": Decimal("0.001"),
    "g": Decimal(1),
    "kg": Decimal(1000),
    "oz": Decimal("28.349523125"),
    "lb": Decimal("453.59237"),
}

# surface (casefolded) -> normalised unit
_UNITS: dict[str, str] = {}
for _unit, _names in {
    "mg": "mg mgs milligram milligrams milligramm milligramos мг миллиграмм миллиграмма миллиграммов",
    "ug": "ug µg μg mcg mcgs microgram micrograms mikrogramm microgramos мкг микрограмм",
    "g": "g gs gr grs gram grams gramm gramme grammes gramo gramos gm gms grm г гр грамм грамма граммов грам",
    "kg": "kg kgs kilo kilos kilogram kilograms kilogramm kilogramos кг кило килограмм килограмма",
    "oz": "oz ozs ounce ounces onza onzas unze унция унции унций",
    "lb": "lb lbs pound pounds libra libras фунт фунта",
    "ml": "ml mls milliliter milliliters millilitre millilitres мл",
    "unit": (
        "pill pills tab tabs tablet tablets tabl blotter blotters blotts piece pieces pcs pc "
        "cap caps capsule capsules unit units hits hit stamps stamp bars bar "
        "шт штук штуки штука таб табл таблетка таблетки таблеток "
        "pastilla pastillas tableta tabletas unidades unidad "
        "stück stk tabletten tablette pillen pille kapseln"
    ),
}.items():
    for _n in _names.split():
        _UNITS[_n.casefold()] = _unit


# Whole-word quantities markets use without a number.
_WORD_QTY: dict[str, tuple[Decimal, str]] = {
    "an ounce": (Decimal(1), "oz"),
    "one ounce": (Decimal(1), "oz"),
    "half oz": (Decimal("0.5"), "oz"),
    "half ounce": (Decimal("0.5"), "oz"),
    "half an ounce": (Decimal("0.5"), "oz"),
    "half a oz": (Decimal("0.5"), "oz"),
    "quarter oz": (Decimal("0.25"), "oz"),
    "quarter ounce": (Decimal("0.25"), "oz"),
    "an eighth": (Decimal("0.125"), "oz"),
    "eighth": (Decimal("0.125"), "oz"),
    "zip": (Decimal(1), "oz"),
    "qp": (Decimal("0.25"), "lb"),
    "hp": (Decimal("0.5"), "lb"),
    "half pound": (Decimal("0.5"), "lb"),
    "half a pound": (Decimal("0.5"), "lb"),
    "quarter pound": (Decimal("0.25"), "lb"),
    "a pound": (Decimal(1), "lb"),
    "a gram": (Decimal(1), "g"),
    "one gram": (Decimal(1), "g"),
    "half gram": (Decimal("0.5"), "g"),
    "half a gram": (Decimal("0.5"), "g"),
    "a kilo": (Decimal(1), "kg"),
    "one kilo": (Decimal(1), "kg"),
    "half kilo": (Decimal("0.5"), "kg"),
    "half a kilo": (Decimal("0.5"), "kg"),
    "полкило": (Decimal("0.5"), "kg"),
}
_WORD_ALT = "|".join(sorted((re.escape(w).replace(r"\ ", r"\s{1,3}") for w in _WORD_QTY), key=len, reverse=True))

_NUM = r"(?:\d{1,9}(?:[.,]\d{1,6})?|\.\d{1,6})"

_QTY = re.compile(
    rf"""
    (?=[\d.xX×(\[])                                 # cheap first-character gate
    (?:
      (?<![\w.,/$£€₽])                              # a fresh number, not a price
      (?:(?P<count>\d{{1,6}})(?!\d)\s{{0,2}}[x×х*]\s{{0,2}}     # "10x " multiplier
        | [xX×](?P<xcount>\d{{1,6}})(?!\d)\s{{0,2}}         # "x200 " multiplier after the item
      )?
      (?:
          (?P<frac>\d{{1,2}})\s?/\s?(?P<den>\d{{1,2}})   # 1/8
        | (?P<num>{_NUM})(?:\s?(?:-|–)\s?(?P<hi>{_NUM}))?  # 5, 0.5, 150-170
      )
      \+?\s{{0,2}}(?:of\s{{1,2}})?                     # "200+mg", "1 of"
      (?P<unit>[^\W\d_]{{1,14}}(?:'s)?\.?)            # unit word, looked up in _UNITS
      |
      (?<![\w.,])(?P<bare>\d{{1,6}})\s{{0,2}}[x×](?:\s|$)   # "1000 x GREEN ..." (count alone)
      |
      (?<![\w.,])[xX×](?P<xbare>\d{{1,6}})(?![\d.,])   # "(1000µg) x200 blotter tabs"
      |
      [(\[](?P<paren>\d{{1,4}})[)\]]\s{{0,2}}(?=(?:pill|tab|blotter|piece|cap|Pill|Tab|PILL|TAB)) # (1)Pill
    )
    """,
    re.VERBOSE,
)
_WORD_RE = re.compile(rf"(?<![^\W\d_])(?P<word>{_WORD_ALT})(?![^\W\d_])", re.IGNORECASE)
_WORD_KEYS = ("ounce", "oz", "eighth", "zip", "qp", "hp", "pound", "gram", "kilo", "полкило")


def _unit(raw: str) -> str | None:
    key = raw.casefold()
    if key.endswith("."):
        key = key[:-1]
    if key.endswith("'s"):
        key = key[:-2]
    unit = _UNITS.get(key)
    if unit is None:
        # glued to the next word in camel case: "25gCocaine"
        for i in range(1, min(len(raw), 6)):
            if raw[i].isupper() and raw[:i].islower():
                return _UNITS.get(raw[:i].casefold())
    return unit


_PURITY = re.compile(
    r"""
    (?=[\d+>~pPrRqQчЧ])                                       # cheap first-character gate
    (?<![\d.,])
    (?:(?P<lo>\d{1,3}(?:[.,]\d{1,2})?)\s?%?\s?(?:-|–|to)\s?)?  # 85-90%, 70%-75%
    [+>~]?(?P<pct>\d{1,3}(?:[.,]\d{1,2})?)\s?\+?\s?%\+?          # 90%, 90%+, 90+%
    |
    (?P<kw>pure|purity|pureza|reinheit|reinheitsgehalt|чистота|чистоты|quality)\s{0,2}:?\s{0,2}
    (?P<kwpct>\d{1,3}(?:[.,]\d{1,2})?)(?![\d.,]?\d)(?!\s?%?\s?[-–]\s?\d)\s?%?  # pure 85, purity: 85%
    """,
    re.VERBOSE | re.IGNORECASE,
)
_PURITY_WORDS = re.compile(r"pur|rein|чист|quality|tested|lab", re.IGNORECASE)
# A percentage followed by one of these is not a purity (discounts, strains, feedback).
_NOT_PURITY_AFTER = re.compile(
    r"\s{0,2}(?:off|discount|rabatt|descuento|скидк|sale|thc|cbd|sativa|indica|feedback|positive"
    r"|satisf|safe|secure|legit|guarant|refund|reship|money|bonus|extra|free|more|cashback|stealth|delivery|of\s)",
    re.IGNORECASE,
)
_NOT_PURITY_BEFORE = re.compile(r"(?:save|off|discount|скидка|rabatt|up to|thc|cbd|feedback)\W{0,3}$", re.IGNORECASE)


# Every purity match holds an anchor: the "%" that ends a bare percentage (the match
# starts at most 24 characters before it and ends at most one after) or the keyword the
# match starts with (the match and its look-aheads end at most 36 characters after it).
# Anchors are found by patterns CPython scans in C (a literal; a character set, then the
# three letters every keyword starts with under IGNORECASE, whose other case forms -
# i: İ ı, с: ᲃ - are listed), and ``_PURITY`` runs only in windows around them, merged
# where they touch; the text before a window stays visible to its look-behinds.
_PCT_BEFORE, _PCT_AFTER = 30, 8
_KW_AFTER = 48
_PCT_ANCHOR = re.compile(r"%")
_KW_ANCHOR = re.compile(r"[pPrRqQчЧ](?:(?<=[pP])[uU][rR]|(?<=[rR])[eE][iIİı]|(?<=[чЧ])[иИ][сСᲃ]|(?<=[qQ])[uU][aA])")


def _purity_matches(text: str) -> Iterator[re.Match[str]]:
    """``_PURITY.finditer(text)``, run only in the merged windows around anchors."""
    n = len(text)
    windows = [(max(0, m.start() - _PCT_BEFORE), min(n, m.end() + _PCT_AFTER)) for m in _PCT_ANCHOR.finditer(text)]
    windows += [(m.start(), min(n, m.start() + _KW_AFTER)) for m in _KW_ANCHOR.finditer(text)]
    if not windows:
        return
    windows.sort()
    start, end = windows[0]
    for s, e in windows[1:]:
        if s <= end:
            end = max(end, e)
            continue
        yield from _PURITY.finditer(text, start, end)
        start, end = s, e
    yield from _PURITY.finditer(text, start, end)


@dataclass(frozen=True, slots=True)
class Quantity:
    amount: Decimal  # as stated, in ``unit`` (a count for ``unit``)
    unit: str  # g mg ug kg oz lb ml unit
    start: int
    end: int
    dose: Decimal | None = None  # per-piece dose of a count (``10x 2mg``: 2)
    dose_unit: str | None = None

    @property
    def grams(self) -> Decimal | None:
        return to_grams(self.amount, self.unit)


@dataclass(frozen=True, slots=True)
class Purity:
    value: Decimal  # percent
    start: int
    end: int
    keyword: bool = False  # stated with "pure"/"purity"/"quality"/...


def to_grams(amount: Decimal | None, unit: str | None) -> Decimal | None:
    """Mass in grams; None for volumes, counts and unknown units."""
    if amount is None or unit not in GRAMS_PER:
        return None
    return amount * GRAMS_PER[unit]


def _dec(raw: str | None) -> Decimal | None:
    if not raw:
        return None
    try:
        return Decimal(raw.replace(",", "."))
    except (InvalidOperation, ValueError):
        return None


def _word_matches(text: str) -> list[re.Match[str]]:
    """``list(_WORD_RE.finditer(text))``, scanning only windows around the key words.

    Every word quantity ends with one of ``_WORD_KEYS`` and starts at most 24 characters
    before it, so matches outside those windows cannot exist; an IGNORECASE alternation
    that starts with a look-behind is otherwise tried at every position of the text.
    """
    low = text.lower()
    if len(low) != len(text):  # a character lower-cases to two: offsets differ, scan it all
        return list(_WORD_RE.finditer(text)) if any(k in text.casefold() for k in _WORD_KEYS) else []
    n = len(text)
    windows: list[tuple[int, int]] = []
    for key in _WORD_KEYS:
        i = low.find(key)
        while i >= 0:
            windows.append((max(0, i - 24), min(n, i + len(key) + 24)))
            i = low.find(key, i + 1)
    if not windows:
        return []
    windows.sort()
    out: list[re.Match[str]] = []
    start, end = windows[0]
    for s, e in windows[1:]:
        if s <= end:
            end = max(end, e)
            continue
        out += _WORD_RE.finditer(text, start, end)
        start, end = s, e
    out += _WORD_RE.finditer(text, start, end)
    return out


def find_quantities(text: str) -> list[Quantity]:
    """Every quantity in ``text`` in order; counts of dosed pieces merged (``10x 2mg``)."""
    if not text or not isinstance(text, str):
        return []
    out: list[Quantity] = []
    pending_count: tuple[Decimal, int, int] | None = None  # "1000 x" waiting for its dose
    matches = list(_QTY.finditer(text))
    words = _word_matches(text)
    if words:
        matches += words
        matches.sort(key=lambda m: m.start())
    last_end = -1
    for m in matches:
        start, end = m.span()
        if start < last_end:
            continue
        if m.groupdict().get("word"):
            amount, unit = _WORD_QTY[" ".join(m.group("word").casefold().split())]
            out.append(Quantity(amount, unit, start, end))
            last_end = end
            continue
        unit_raw = m.group("unit")
        bare = m.group("bare") or m.group("paren") or m.group("xbare")
        if unit_raw is not None and unit_raw.casefold() in ("x", "х", "×"):
            bare = m.group("num") if m.group("num") and m.group("num").isdigit() else None
        if bare:
            n = _dec(bare)
            if n and out and out[-1].unit in ("mg", "ug") and out[-1].dose is None and start - out[-1].end <= 15:
                prev = out.pop()  # "(1000µg) x200": the count of the dose before it
                out.append(Quantity(n, "unit", prev.start, end, prev.amount, prev.unit))
            elif n:
                if pending_count is not None:
                    # Two bare counts in a row ("5x 32$ | 10x 59$"): the first had no dose
                    # after it, so it is a count of pieces on its own.
                    out.append(Quantity(pending_count[0], "unit", pending_count[1], pending_count[2]))
                pending_count = (n, start, end)
            continue
        unit = _unit(unit_raw) if unit_raw else None
        if unit is None:
            if m.group("count") and m.group("num"):
                # "10x 42 EUR": the count stands before a price, not before a unit, so it is
                # a count of pieces on its own (as "5x 32$", where the symbol ends the match).
                n = _dec(m.group("count"))
                if n:
                    if pending_count is not None:
                        out.append(Quantity(pending_count[0], "unit", pending_count[1], pending_count[2]))
                    gap = text[m.end("count"):m.start("num")]
                    pending_count = (n, start, m.end("count") + len(gap.rstrip()))
            continue
        if m.group("unit").endswith("."):
            end -= 1  # "5g." ends a sentence: the dot is not part of the unit
        last_end = end
        if m.group("frac"):
            num, den = _dec(m.group("frac")), _dec(m.group("den"))
            if not num or not den:
                continue
            amount: Decimal | None = num / den
        else:
            amount = _dec(m.group("num"))  # a range ("150-170ug") states its minimum
            hi = _dec(m.group("hi"))
            if hi is not None and amount is not None and hi <= amount:
                amount, start = hi, m.start("hi")  # "40 - 1g" is not a range: the quantity is 1g
        if amount is None or amount <= 0:
            continue
        count = _dec(m.group("count") or m.group("xcount"))
        if unit == "unit":
            # "100 pills" after "1mg": attach the previous dose
            if out and out[-1].unit in ("mg", "ug") and out[-1].dose is None and start - out[-1].end <= 40:
                prev = out.pop()
                out.append(Quantity(amount, "unit", prev.start, end, prev.amount, prev.unit))
            else:
                out.append(Quantity(amount, "unit", start, end))
            pending_count = None
            continue
        if count is None and pending_count is not None and unit in ("mg", "ug") and start - pending_count[2] <= 60:
            count, c_start = pending_count[0], pending_count[1]
            out.append(Quantity(count, "unit", c_start, end, amount, unit))
            pending_count = None
            continue
        if count is not None and count > 0:
            out.append(Quantity(count, "unit", start, end, amount, unit))
        else:
            if out and out[-1].unit == "unit" and out[-1].dose is None and unit in ("mg", "ug") and start - out[-1].end <= 15:
                prev = out.pop()  # "100 pills 1mg" / "1 blotter 150ug"
                out.append(Quantity(prev.amount, "unit", prev.start, end, amount, unit))
            else:
                out.append(Quantity(amount, unit, start, end))
        pending_count = None
    if pending_count is not None and (not out or out[-1].unit == "unit" and out[-1].dose is None
                                      and out[-1].end <= pending_count[1]):
        # "5x Green Partyflock", or the last of a row of bare counts ("... | 50x 242$")
        out.append(Quantity(pending_count[0], "unit", pending_count[1], pending_count[2]))
    return out


def parse_quantity(text: str) -> Quantity | None:
    """The first quantity in ``text``, or None."""
    found = find_quantities(text)
    return found[0] if found else None


def find_purity(text: str) -> list[Purity]:
    """Percentages that state purity, best first: keyword-stated ones before bare ``90%``."""
    if not text or not isinstance(text, str):
        return []
    found: list[Purity] = []
    for m in _purity_matches(text):
        start, end = m.span()
        if m.group("kw"):
            value = _dec(m.group("kwpct"))
            keyword = True
        else:
            value = _dec(m.group("pct"))
            lo = _dec(m.group("lo"))
            if lo is not None and value is not None and lo <= value:
                value = lo  # a range states its minimum: "85-90%" is at least 85%
            if _NOT_PURITY_AFTER.match(text, end) or _NOT_PURITY_BEFORE.search(text[max(0, start - 16):start]):
                continue
            keyword = bool(_PURITY_WORDS.search(text[max(0, start - 24):min(len(text), end + 24)]))
        if value is None or value <= 0 or value > 100:
            continue
        found.append(Purity(value, start, end, keyword))
    found.sort(key=lambda p: (not p.keyword, p.start))
    return found
