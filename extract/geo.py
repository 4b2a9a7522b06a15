"""Ships from / ships to: ISO 3166-1 alpha-2 codes and regions, as markets spell them.

``find_shipping(text) -> (ships_from, ships_to)``: codes in order of first mention,
deduplicated. Region codes: ``EU`` (European Union / Europe), ``WW`` (worldwide),
``NA`` (North America), ``SA`` (South America), ``ASIA``, ``OCEANIA``, ``SCHENGEN``.
Note that ISO's ``NA`` is Namibia; markets use it for North America, and so do we.

Recognised: labelled fields (``Ships from: Germany``, ``Shipping to: Worldwide``,
``Origin country``, ``Versand aus``, ``Envío desde``, ``Отправка из``, ``Доставка по``),
arrows and prepositions (``NL -> WW``, ``from DE to EU``, ``UK to UK``, ``UK2UK``), and the
Russian "доставка по РФ". Structured listing fields ``fields["ships_from"/"ships_to"]``
in ``doc._.nw_context`` win over the text when present.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from spacy.language import Language
from spacy.tokens import Doc

from narcwatch.extract.docext import context as doc_context
from narcwatch.extract.docext import facts as doc_facts
from narcwatch.extract.tokenizer import raw_text

__all__ = ["find_shipping", "make_geo", "place_code"]

# Names (casefolded) -> code. Sources: ISO 3166-1 (English short names), the names markets
# print in their shipping fields (Agora, Dream Market, Hydra-style Russian shops).
_PLACES: dict[str, str] = {}
for _code, _names in {
    "WW": "ww|worldwide|world wide|world|worlwide|wolrdwide|everywhere|everyplace|international|global|all countries|weltweit|"
          "en todo el mundo|todo el mundo|mundial|по всему миру|весь мир|мир|worldwide shipping",
    "EU": "eu|europe|european union|european|europa|ue|евросоюз|европа|ес|eu countries|all eu",
    "NA": "n. america|north america|n.america|northamerica|северная америка",
    "SA": "s. america|south america|s.america|latin america|южная америка|sudamérica|sudamerica|latinoamérica",
    "ASIA": "asia|азия",
    "OCEANIA": "oceania",
    "SCHENGEN": "schengen|schengen area",
    "US": "us|usa|u.s.|u.s.a.|united states|united states of america|america|сша|ee.uu.|estados unidos|vereinigte staaten",
    "GB": "gb|uk|u.k.|united kingdom|great britain|britain|england|scotland|wales|великобритания|англия|reino unido|großbritannien",
    "DE": "de|germany|deutschland|германия|alemania|ger",
    "NL": "nl|netherlands|the netherlands|holland|nederland|niederlande|нидерланды|голландия|países bajos|holanda",
    "FR": "fr|france|frankreich|франция|francia",
    "BE": "be|belgium|belgien|belgië|бельгия|bélgica",
    "ES": "es|spain|españa|espana|spanien|испания",
    "IT": "it|italy|italia|italien|италия",
    "PT": "pt|portugal|португалия",
    "AT": "at|austria|österreich|австрия",
    "CH": "ch|switzerland|schweiz|suisse|suiza|швейцария",
    "PL": "pl|poland|polska|polen|польша|polonia",
    "CZ": "cz|czech republic|czechia|česko|tschechien|чехия",
    "SK": "sk|slovakia|словакия",
    "SI": "si|slovenia|словения",
    "HR": "hr|croatia|хорватия",
    "HU": "hu|hungary|венгрия",
    "RO": "ro|romania|румыния",
    "BG": "bg|bulgaria|болгария",
    "GR": "gr|greece|греция|grecia",
    "DK": "dk|denmark|danmark|дания|dinamarca",
    "SE": "se|sweden|sverige|швеция|suecia",
    "NO": "no|norway|norge|норвегия",
    "FI": "fi|finland|suomi|финляндия",
    "IE": "ie|ireland|ирландия",
    "LU": "lu|luxembourg",
    "EE": "ee|estonia|эстония",
    "LV": "lv|latvia|латвия",
    "LT": "lt|lithuania|литва",
    "RS": "rs|serbia|сербия",
    "UA": "ua|ukraine|украина|україна",
    "BY": "by|belarus|беларусь|белоруссия|рб",
    "RU": "ru|russia|russian federation|россия|рф|российская федерация|rusia|russland",
    "KZ": "kz|kazakhstan|казахстан",
    "TR": "tr|turkey|türkiye|турция",
    "CA": "ca|canada|канада|kanada",
    "MX": "mx|mexico|méxico|мексика",
    "BR": "br|brazil|brasil|бразилия",
    "CO": "co|colombia|kolumbien|колумбия",
    "PE": "pe|peru|perú|перу",
    "BO": "bo|bolivia|боливия",
    "AR": "ar|argentina|аргентина",
    "CL": "cl|chile|чили",
    "EC": "ec|ecuador|эквадор",
    "AU": "au|australia|австралия",
    "NZ": "nz|new zealand|новая зеландия",
    "CN": "cn|china|китай|prc",
    "HK": "hk|hong kong|гонконг",
    "IN": "in|india|индия",
    "TH": "th|thailand|таиланд",
    "JP": "jp|japan|япония",
    "ZA": "za|south africa|юар",
    "IL": "il|israel|израиль",
    "AE": "ae|uae|united arab emirates|оаэ",
}.items():
    for _n in _names.split("|"):
        _PLACES[_n] = _code

# Two-letter codes that are also common words: only taken in a labelled field or arrow.
_WORDY = frozenset({"in", "it", "be", "no", "de", "es", "us", "at", "is", "by", "co", "pe", "ca", "se", "pt", "ar", "fi", "lu", "ee", "si", "hr", "ge", "ie", "ua", "ec", "cl", "bo", "mx", "gr", "ro", "hu", "sk", "cz", "ger", "world", "america", "global", "international", "мир", "рб", "ес", "ue"})

_MAX_WORDS = max(len(n.split()) for n in _PLACES)
_WORD = re.compile(r"[^\W\d_]{1,30}(?:\.(?=[^\W\d_]))?(?:[^\W\d_]{1,30})?\.?")
_SEP = re.compile(r"\s{0,3}(?:,|/|&|\+|;|\||\band\b|\bund\b|\by\b|\bи\b|\bor\b)?\s{0,3}", re.IGNORECASE)

_FROM_LABEL = (
    r"ships?\s{0,2}from|shipping\s{0,2}from|shipped\s{0,2}from|sent\s{0,2}from|origin(?:\s{0,2}country)?|country\s{0,2}of\s{0,2}origin"
    r"|versand\s{0,2}(?:aus|von)|verschickt\s{0,2}aus|envío\s{0,2}desde|envio\s{0,2}desde|enviado\s{0,2}desde|desde"
    r"|отправка\s{0,2}из|отправляем\s{0,2}из|отправка\s{0,2}с|из|from"
)
_TO_LABEL = (
    r"ships?\s{0,2}to|shipping\s{0,2}to|delivery\s{0,2}to|deliver\s{0,2}to|destinations?|ships?\s{0,2}only\s{0,2}to"
    r"|versand\s{0,2}nach|lieferung\s{0,2}nach|nach|envío\s{0,2}a|envio\s{0,2}a|envíos\s{0,2}a|envios\s{0,2}a|enviamos\s{0,2}a"
    r"|доставка\s{0,2}по|доставка\s{0,2}в|отправка\s{0,2}в|по\s{0,2}всей|to"
)
# First letters of the labels: a superset is harmless (a group split on "|" adds a letter).
_LABEL_FIRST = "".join(sorted({re.escape(alt[0]) for alt in f"{_FROM_LABEL}|{_TO_LABEL}".split("|") if alt}))
# Anchors only (labels and arrows): places after them are read by dictionary look-up.
_ANCHOR = re.compile(
    rf"""
    (?=[\s\-→=⇒➡>2{_LABEL_FIRST}])  # cheap first-character gate (IGNORECASE applies to it too)
    (?:(?<![^\W\d_])(?:(?P<from>{_FROM_LABEL})|(?P<to>{_TO_LABEL}))(?![^\W\d_])\s{{0,3}}:?\s{{0,3}}
    | (?P<arrow>\s{{0,3}}(?:-{{1,2}}>|→|=>|⇒|➡|>)\s{{0,3}}|(?<=[^\W\d_])2(?=[^\W\d_])))
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Where an anchor can start: ``_anchors`` tries ``_ANCHOR`` only at word starts that
# begin like a label (two letters, found with ``str.find``), at arrow characters (and up
# to 3 spaces before them) and at a "2"; that finds exactly what ``finditer`` finds (it
# tries every position in order) for a fraction of the cost of entering the label
# alternation at every character.
_LABEL_HEADS = tuple(sorted({alt[:2].lower() for alt in f"{_FROM_LABEL}|{_TO_LABEL}".split("|")}))
assert all(len(h) == 2 and h.isalpha() for h in _LABEL_HEADS), _LABEL_HEADS
_ARROW_CHARS = "-→=⇒➡>2"
_WORLDWIDE_ALONE = re.compile(r"(?<![^\W\d_])(?:ships?\s{0,2}worldwide|worldwide\s{0,2}shipping|a\s{1,2}todo\s{1,2}el\s{1,2}mundo|weltweiter\s{0,2}versand|envío\s{0,2}mundial)(?![^\W\d_])", re.IGNORECASE)


def _anchors(text: str) -> list[re.Match[str]]:
    """``list(_ANCHOR.finditer(text))``, trying only the positions an anchor can start at."""
    low = text.lower()
    if len(low) != len(text):  # a few characters lower-case to two; rare, do it the slow way
        return list(_ANCHOR.finditer(text))
    cands: list[int] = []
    for head in _LABEL_HEADS:
        i = low.find(head)
        while i >= 0:
            if i == 0 or not (low[i - 1].isalpha()):
                cands.append(i)
            i = low.find(head, i + 2)
    for ch in _ARROW_CHARS:
        c = text.find(ch)
        while c >= 0:
            k = c
            while k > 0 and c - k < 3 and text[k - 1].isspace():
                k -= 1
            cands.extend(range(k, c + 1))
            c = text.find(ch, c + 1)
    out: list[re.Match[str]] = []
    pos = 0
    last = -1
    for c in sorted(cands):
        if c < pos or c == last:
            continue
        last = c
        m = _ANCHOR.match(text, c)
        if m is not None:
            out.append(m)
            pos = m.end()
    return out


def _place_at(text: str, pos: int) -> tuple[str, str, int] | None:
    """The longest place name starting at ``pos``: (surface, code, end)."""
    words: list[tuple[int, int]] = []
    p = pos
    for _ in range(_MAX_WORDS):
        m = _WORD.match(text, p)
        if not m:
            break
        words.append(m.span())
        p = m.end()
        if p < len(text) and text[p] == " ":
            p += 1
        else:
            break
    for i in range(len(words), 0, -1):
        end = words[i - 1][1]
        surface = text[pos:end]
        key = " ".join(surface.casefold().split())
        code = _PLACES.get(key) or _PLACES.get(key.rstrip("."))
        if code:
            return surface, code, end
    return None


def _places_after(text: str, pos: int, limit: int = 20) -> tuple[list[tuple[str, str]], int]:
    """A list of places from ``pos`` (``Germany, Netherlands & EU``)."""
    out: list[tuple[str, str]] = []
    hit = _place_at(text, pos)
    while hit and len(out) < limit:
        out.append((hit[0], hit[1]))
        pos = hit[2]
        m = _SEP.match(text, pos)
        nxt = _place_at(text, m.end()) if m and m.end() > pos else None
        if nxt is None:
            break
        hit = nxt
    return out, pos


def _place_before(text: str, pos: int) -> tuple[str, str] | None:
    """The place name ending at ``pos`` (one to three words back)."""
    window = text[max(0, pos - 40):pos]
    starts = [m.start() for m in re.finditer(r"(?<![^\W\d_.])[^\W\d_]", window)][-_MAX_WORDS:]
    for st in starts:
        surface = window[st:]
        key = " ".join(surface.casefold().split())
        code = _PLACES.get(key)
        if code:
            return surface, code
    return None


def place_code(name: str | None) -> str | None:
    """``"Deutschland"`` -> ``"DE"``, ``"Worldwide"`` -> ``"WW"``; None if unknown."""
    if not name or not isinstance(name, str):
        return None
    key = " ".join(name.strip().strip(".:;,").casefold().split())
    if key in _PLACES:
        return _PLACES[key]
    if len(key) == 2 and key.isascii() and key.isalpha():
        return key.upper()  # an ISO code we do not list by name
    return None


def _codes(chunk: str) -> list[str]:
    places, _ = _places_after(chunk, len(chunk) - len(chunk.lstrip()))
    return [c for _, c in places]


def _split_field(value: object) -> list[str]:
    if value is None:
        return []
    parts: Iterable[object] = value if isinstance(value, list | tuple) else re.split(r"\s{0,3}(?:,|/|;|\||&)\s{0,3}", str(value)[:2000])
    out = []
    for part in parts:
        code = place_code(str(part))
        if code is None:
            out.extend(_codes(str(part)))
        else:
            out.append(code)
    return out


def _add(target: list[str], codes: Iterable[str]) -> None:
    for c in codes:
        if c not in target:
            target.append(c)


def find_shipping(text: str, fields: dict | None = None) -> tuple[list[str], list[str]]:
    """(ships_from, ships_to) as codes; structured ``fields`` win over the text."""
    ships_from: list[str] = []
    ships_to: list[str] = []
    if isinstance(fields, dict):
        _add(ships_from, _split_field(fields.get("ships_from")))
        _add(ships_to, _split_field(fields.get("ships_to")))
        if ships_from and ships_to:
            return ships_from, ships_to
    if not isinstance(text, str) or not text:
        return ships_from, ships_to
    text_from: list[str] = []
    text_to: list[str] = []
    for m in _anchors(text):
        places, _ = _places_after(text, m.end())
        if not places:
            continue
        if m.group("arrow") is not None:
            prev = _place_before(text, m.start())
            if prev is None or (_wordy_only([prev]) and _wordy_only(places)):
                continue
            _add(text_from, [prev[1]])
            _add(text_to, [c for _, c in places])
        elif m.group("from") is not None:
            label = m.group("from").casefold()
            if label in ("from", "из", "desde") and _wordy_only(places):
                continue
            _add(text_from, [c for _, c in places])
        else:
            label = m.group("to").casefold()
            if label in ("to", "nach") and _wordy_only(places):
                continue
            if label == "to":
                prev = _place_before(text.rstrip(), m.start())
                if prev is not None and not (_wordy_only([prev]) and _wordy_only(places)):
                    _add(text_from, [prev[1]])  # "uk to uk"
            _add(text_to, [c for _, c in places])
    if not text_to and _WORLDWIDE_ALONE.search(text):
        text_to.append("WW")
    if not ships_from:
        ships_from = text_from
    if not ships_to:
        ships_to = text_to
    return ships_from, ships_to


def _wordy_only(places: list[tuple[str, str]]) -> bool:
    """True when every place is written as a lower-case common word (``in``, ``it``, ``us``)."""
    return all(s.casefold() in _WORDY and not s[:1].isupper() for s, _ in places)


@Language.factory("narcwatch_geo", default_config={"max_chars": 200_000})
def make_geo(nlp: Language, name: str, max_chars: int) -> GeoComponent:
    return GeoComponent(max_chars=max_chars)


class GeoComponent:
    """Sets ``doc._.nw_facts.ships_from`` / ``ships_to`` from text and structured fields."""

    def __init__(self, max_chars: int = 200_000) -> None:
        self.max_chars = max_chars

    def __call__(self, doc: Doc) -> Doc:
        facts = doc_facts(doc)
        ctx = doc_context(doc)
        fields = ctx.get("fields") if isinstance(ctx.get("fields"), dict) else None
        sf, st = find_shipping(raw_text(doc)[: self.max_chars], fields)
        _add(facts.ships_from, sf)
        _add(facts.ships_to, st)
        return doc
