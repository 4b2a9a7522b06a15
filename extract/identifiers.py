"""Contact identifiers and CAS numbers in text: who to reach, and which chemical.

``find_identifiers(text)`` returns ``Identifier`` facts (offsets into ``text``), one per
occurrence, sorted by position. Values are normalised so that the same identifier
written two ways links two listings:

=================  ==========================================================  ==========
kind               found as                                                    value
=================  ==========================================================  ==========
pgp_key            armored PUBLIC KEY BLOCK; fingerprint computed (v3-v6)       upper hex
pgp_fingerprint    40 hex in groups of 4; 40/64 hex run after a key cue        upper hex
onion              56-char v3 label + .onion, checksum verified (v2: conf 0.3)  lower
telegram           t.me / telegram.me / telegram.dog links; @handle or         @lower, or
                   "tg: name" after a Telegram cue                             t.me/+invite
session            66 hex starting 05                                          lower hex
threema            8 of [A-Z0-9*] after a Threema cue, threema.id/ links       upper
wickr/wire/signal  "<app>: handle" (Signal also a phone number)                lower/+digits
email              local@domain.tld (not file names like logo@2x.png)          lower
xmpp               user@domain after a Jabber/XMPP cue, or xmpp: URI           lower
phone              +/00 international numbers; national numbers after a cue    +digits
=================  ==========================================================  ==========

Precision rules: a handle is only a Telegram handle where the text says Telegram (an
``@1499`` price or a forum @mention is not), a number is only a phone number where it
is not a price, quantity or date. ``find_cas(text)`` returns CAS numbers whose check
digit holds. Every regex is linear: single character classes or bounded repetitions.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable

from spacy.language import Language
from spacy.tokens import Doc

from narcwatch.extract.docext import context as doc_context
from narcwatch.extract.docext import facts as doc_facts
from narcwatch.extract.models import CasNumber, Identifier, IdentifierKind
from narcwatch.extract.tokenizer import raw_text
from narcwatch.extract.validators.cas import cas_valid
from narcwatch.extract.validators.onion import is_onion_v2_shape, onion_v3_valid
from narcwatch.extract.validators.pgp import parse_armored_keys, signature_issuers

__all__ = ["IdentifierFinder", "find_cas", "find_identifiers", "make_identifiers"]

K = IdentifierKind
Span = tuple[int, int]

# -- PGP ------------------------------------------------------------------------------
_ARMOR_BEGIN = re.compile(r"-{3,5} ?BEGIN PGP PUBLIC KEY BLOCK ?-{3,5}")
_ARMOR_END = re.compile(r"-{3,5} ?END PGP PUBLIC KEY BLOCK ?-{3,5}")
_SIG_BEGIN = re.compile(r"-{3,5} ?BEGIN PGP SIGNATURE ?-{3,5}")
_SIG_END = re.compile(r"-{3,5} ?END PGP SIGNATURE ?-{3,5}")
# The look-behind sits after the first hex digit (width 2: "not alnum, then this digit"),
# so the pattern starts with a character set and CPython skips to candidates in C.
_FPR_GROUPED = re.compile(r"[0-9A-Fa-f](?<![0-9A-Za-z].)[0-9A-Fa-f]{3}(?:[ \u00a0]{1,2}[0-9A-Fa-f]{4}){9}(?![0-9A-Za-z])")
_HEX_RUN = re.compile(r"[0-9A-Fa-f](?<![0-9A-Za-z].)[0-9A-Fa-f]{39,65}(?![0-9A-Za-z])")
_KEY_CUE = re.compile(r"(?i)fingerprint|\bfpr\b|\bpgp\b|\bgpg\b|openpgp|\bkey\b|schl[uü]ssel|ключ")

# -- onion, Telegram, messengers --------------------------------------------------------
_ONION = re.compile(r"(?i)(?<![a-z2-7])([a-z2-7]{56}|[a-z2-7]{16})\.onion(?![a-z0-9-])")
_TG_LINK = re.compile(
    r"(?i)(?<![\w.])(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/"
    r"(?:s/)?(joinchat/[A-Za-z0-9_-]{8,64}|\+[A-Za-z0-9_-]{8,64}|[A-Za-z][A-Za-z0-9_]{3,31})(?![A-Za-z0-9_])"
)
_TG_RESERVED = frozenset(
    "share addstickers addemoji addtheme proxy socks setlanguage login confirmphone invoice iv bg contact".split()
)
# cue and label words are never the handle itself ("telegram: telegram")
_TG_STOP = frozenset("telegram telega username handle contact contacts signal threema wickr session admin".split())
_TG_CUE = re.compile(r"(?i)telegram|telega|\btg\b|\btlg\b|телеграм|телега|\bтг\b")
_TG_CUED_NAME = re.compile(
    r"(?i)(?:\btelegram|\btelega|\btg|\btlg|телеграм|телега|\bтг)\b(?: ?(?:id|username|user|handle|contact))?"
    r" {0,2}[:=\-–] {0,2}@?([A-Za-z][A-Za-z0-9_]{4,31})(?![\w@]|\.\w)"
)
_AT_HANDLE = re.compile(r"(?<![\w@.+-])@([A-Za-z][A-Za-z0-9_]{3,31})(?![\w@]|\.[A-Za-z]{2,})")
_SESSION = re.compile(r"(?<![0-9A-Za-z])05[0-9A-Fa-f]{64}(?![0-9A-Za-z])")
_THREEMA_LINK = re.compile(r"(?i)threema\.id/([A-Z0-9*]{8})(?![A-Za-z0-9])")
_THREEMA_CUED = re.compile(r"(?i)\bthreema\b(?: ?(?:id|ID))? {0,2}[:=\-–]? {0,2}([A-Za-z0-9*]{8})(?![\w*])")
_APP_CUED = re.compile(
    r"(?i)\b(wickr(?: ?me)?|signal|wire|session)\b(?: ?(?:id|username|user|handle|contact|number|nr|no))?"
    r" {0,2}[:=] {0,2}(@?[A-Za-z0-9][A-Za-z0-9._-]{2,39}|\+?[\d][\d ()./-]{6,20}\d)"
)
# "Contact: Wickr name" / "Contact: Threema ABCDEFGH": a contact label before the app name
# is as strong a cue as a ":" after it ("my tg is name", with neither, stays unclaimed).
_CONTACT_APP = re.compile(
    r"(?i)\b(?:contact|kontakt|contacto|связь|контакт)[a-zа-я]{0,2} {0,2}: {0,2}(wickr(?: ?me)?|signal|wire|threema)"
    r" {1,2}(@?[A-Za-z0-9*][A-Za-z0-9._*-]{2,39})(?![\w@*])"
)
_CONTACT_WORDS = ("contact", "kontakt", "связь", "контакт")

# -- email, XMPP, phone ------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])(?:(xmpp):)?([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24})(?![A-Za-z0-9-])"
)
_FILE_TLDS = frozenset("png jpg jpeg gif webp svg css js ico bmp mp4 pdf".split())
_XMPP_CUE = re.compile(r"(?i)jabber|xmpp|\bjid\b|omemo|\botr\b|conversations|gajim|pidgin|psi\+")
_PHONE = re.compile(r"(?<![\w+.,/-])(?:\+|00)?\d[\d ().-]{6,22}\d(?![\w.,]?\d)")
_PHONE_CUE = re.compile(
    r"(?i)phone|\btel\b|\btel\.|call|whats ?app|\bwa\b|signal|\bsms\b|\btext\b|viber|mobile|\bcell\b|"
    r"handy|telefon|tel[eé]fono|número|numero|номер|тел"
)
_DATE_LIKE = re.compile(r"\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}$|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4}$")
_AFTER_NUMBER = re.compile(r"(?i) ?(?:g\b|gr|mg|kg|ml|ug|µg|oz|lb|pcs|pills|tabs|x\b|%|\$|€|£|usd|eur|btc|xmr)")
_BEFORE_NUMBER = re.compile(r"(?i)(?:[$€£]|usd|eur|btc|xmr|price|cost|total) ?$")

# Substring guards: a regex that cannot match without one of these words is not run
# (str "in" is a C-speed scan; a regex tries every position).
_KEY_WORDS = ("fingerprint", "fpr", "pgp", "gpg", "key", "schl", "ключ")
_TG_WORDS = ("telegram", "telega", "tg", "tlg", "телеграм", "телега", "тг")
_PHONE_WORDS = ("phone", "tel", "call", "whats", "wa:", "signal", "sms", "text", "viber", "mobile", "cell", "handy",
                "número", "numero", "номер", "тел")  # fmt: skip

# -- CAS --------------------------------------------------------------------------------
_CAS = re.compile(r"(?<![\d-])[1-9]\d{1,6}-\d{2}-\d(?![\d-])")
_CAS_CUE = re.compile(r"(?i)\bcas\b")


def _cued(text: str, start: int, cue: re.Pattern[str], window: int = 40) -> bool:
    """A cue word in the ``window`` characters before ``start`` (same line)."""
    left = text[max(0, start - window) : start]
    nl = left.rfind("\n")
    return bool(cue.search(left[nl + 1 :] if nl >= 0 else left))


def _inside(pos: int, spans: list[Span]) -> bool:
    """``pos`` inside one of ``spans``; O(log n) when ``spans`` is a ``_Claims``."""
    if isinstance(spans, _Claims):
        return spans.covers(pos)
    return any(x <= pos < y for x, y in spans)


class _Claims(list):
    """Claimed spans kept merged and sorted, so lookups stay logarithmic: a text with
    thousands of identifiers must not make claim checks quadratic."""

    def __init__(self, spans: list[Span] = ()) -> None:  # type: ignore[assignment]
        super().__init__()
        self._starts: list[int] = []
        self._ends: list[int] = []
        for sp in spans:
            self.append(sp)

    def append(self, span: Span) -> None:  # type: ignore[override]
        super().append(span)
        a, b = span
        i = bisect_right(self._starts, a)
        if i and self._ends[i - 1] >= a:  # overlaps the previous: extend it
            i -= 1
            a = self._starts[i]
            b = max(b, self._ends[i])
            del self._starts[i], self._ends[i]
        while i < len(self._starts) and self._starts[i] <= b:  # swallow followers
            b = max(b, self._ends[i])
            del self._starts[i], self._ends[i]
        self._starts.insert(i, a)
        self._ends.insert(i, b)

    def extend(self, spans) -> None:  # type: ignore[override]
        for sp in spans:
            self.append(sp)

    def __iadd__(self, spans):  # type: ignore[override]
        self.extend(spans)
        return self

    def covers(self, pos: int) -> bool:
        i = bisect_right(self._starts, pos) - 1
        return i >= 0 and pos < self._ends[i]


def _ident(kind: K, value: str, text: str, start: int, end: int, confidence: float = 1.0) -> Identifier:
    return Identifier(kind=kind, value=value, text=text[start:end], start=start, end=end, confidence=confidence)


def _pgp_blocks(text: str) -> tuple[list[Identifier], list[Span]]:
    out: list[Identifier] = []
    spans: list[Span] = []
    pos = 0
    while (begin := _ARMOR_BEGIN.search(text, pos)) is not None:
        end = _ARMOR_END.search(text, begin.end())
        if end is None:
            break
        spans.append((begin.start(), end.end()))
        for key in parse_armored_keys(text[begin.end() : end.start()]):
            out.append(_ident(K.PGP_KEY, key.fingerprint, text, begin.start(), end.end()))
        pos = end.end()
    return out, spans


def _signature_issuers(text: str) -> tuple[list[Identifier], list[Span]]:
    """The issuer fingerprint a signed post's signature names (subpacket 33): the signer's
    key as claimed, so 0.9 - nothing here verifies the signature."""
    out: list[Identifier] = []
    spans: list[Span] = []
    pos = 0
    while (begin := _SIG_BEGIN.search(text, pos)) is not None:
        end = _SIG_END.search(text, begin.end())
        if end is None:
            break
        spans.append((begin.start(), end.end()))
        for fpr in signature_issuers(text[begin.end() : end.start()]):
            out.append(_ident(K.PGP_FINGERPRINT, fpr, text, begin.start(), end.end(), 0.9))
        pos = end.end()
    return out, spans


def _pgp_fingerprints(text: str, lower: str, blocks: list[Span]) -> list[Identifier]:
    out: list[Identifier] = []
    for m in _FPR_GROUPED.finditer(text):
        value = "".join(m.group().split()).upper()
        out.append(_ident(K.PGP_FINGERPRINT, value, text, m.start(), m.end()))
    if not any(w in lower for w in _KEY_WORDS):
        return out  # a bare hex run is a fingerprint only after a key cue
    for m in _HEX_RUN.finditer(text):
        n = m.end() - m.start()
        if n not in (40, 64) or text[max(0, m.start() - 2) : m.start()].lower() == "0x" or _inside(m.start(), blocks):
            continue  # 0x + 40 hex is an Ethereum address; 66 hex is a Session ID
        if _cued(text, m.start(), _KEY_CUE, 60):
            out.append(_ident(K.PGP_FINGERPRINT, m.group().upper(), text, m.start(), m.end()))
    return out


def _onions(text: str, lower: str) -> list[Identifier]:
    out: list[Identifier] = []
    if ".onion" not in lower:
        return out
    for m in _ONION.finditer(text):
        label = m.group(1).lower()
        if len(label) == 56:
            if onion_v3_valid(label):
                out.append(_ident(K.ONION, label + ".onion", text, m.start(), m.end()))
        elif is_onion_v2_shape(label):  # retired in 2021, still in archived captures
            out.append(_ident(K.ONION, label + ".onion", text, m.start(), m.end(), 0.3))
    return out


def _telegram(text: str, lower: str, in_telegram: bool = False) -> list[Identifier]:
    out: list[Identifier] = []
    claimed = _Claims()
    has_link = "t.me/" in lower or "telegram.me/" in lower or "telegram.dog/" in lower
    for m in _TG_LINK.finditer(text) if has_link else ():
        path = m.group(1)
        if path.lower() in _TG_RESERVED:
            continue
        if path.startswith("+") or path.lower().startswith("joinchat/"):
            value = "t.me/" + path
        else:
            value = "@" + path.lower()
        out.append(_ident(K.TELEGRAM, value, text, m.start(), m.end()))
        claimed.append(m.span())
    if not in_telegram and not any(w in lower for w in _TG_WORDS):
        return out  # handles need a Telegram cue (a Telegram channel is one)
    for m in _TG_CUED_NAME.finditer(text):
        if m.group(1).lower() in _TG_STOP:
            continue
        out.append(_ident(K.TELEGRAM, "@" + m.group(1).lower(), text, m.start(1) - (text[m.start(1) - 1] == "@"), m.end(1)))
        claimed.append(m.span())
    if "@" in text:
        for m in _AT_HANDLE.finditer(text):
            name = m.group(1)
            if len(name) < 5 or name.endswith("_") or name.lower() in _TG_STOP or _inside(m.start(), claimed):
                continue
            after = text[m.end() : m.end() + 20]
            if in_telegram or _cued(text, m.start(), _TG_CUE) or _TG_CUE.search(after):
                out.append(_ident(K.TELEGRAM, "@" + name.lower(), text, m.start(), m.end()))
    return out


def _messengers(text: str, lower: str, claimed: list[Span]) -> list[Identifier]:
    out = []
    for m in _SESSION.finditer(text) if "05" in text else ():
        out.append(_ident(K.SESSION, m.group().lower(), text, m.start(), m.end()))
    if "threema" in lower:
        seen: set[int] = set()
        for m in _THREEMA_LINK.finditer(text):
            out.append(_ident(K.THREEMA, m.group(1).upper(), text, m.start(), m.end()))
            seen.add(m.start(1))
        for m in _THREEMA_CUED.finditer(text):
            tid = m.group(1)
            if m.start(1) in seen:
                continue
            # Real IDs mix letters and digits; an 8-letter word ("contacts") is not an ID.
            if any(c.isdigit() or c == "*" for c in tid) or (tid.isupper() and ":" in m.group()):
                out.append(_ident(K.THREEMA, tid.upper(), text, m.start(1), m.end(1)))
    if any(w in lower for w in ("wickr", "signal", "wire", "session")):
        for m in _APP_CUED.finditer(text):
            app = m.group(1).lower()
            raw = m.group(2)
            if app.startswith("session"):
                continue  # Session IDs are 66 hex, found above without a cue
            kind = K.WICKR if app.startswith("wickr") else K.SIGNAL if app == "signal" else K.WIRE
            digits = "".join(c for c in raw if c.isdigit())
            if raw[0] in "+0123456789" and 8 <= len(digits) <= 15 and not any(c.isalpha() for c in raw):
                value = ("+" if raw.startswith(("+", "00")) else "") + (digits[2:] if raw.startswith("00") else digits)
            elif any(c.isalpha() for c in raw):
                value = raw.lstrip("@").lower().rstrip("._-")
            else:
                continue
            start = m.start(2)
            end = start + len(raw.rstrip("._-")) if any(c.isalpha() for c in raw) else m.end(2)
            out.append(_ident(kind, value, text, start, end))
            claimed.append((start, end))
    if any(w in lower for w in _CONTACT_WORDS):
        out += _contact_labelled(text, {(i.kind, i.value) for i in out}, claimed)
    return out


def _contact_labelled(text: str, have: set[tuple[K, str]], claimed: list[Span]) -> list[Identifier]:
    out = []
    for m in _CONTACT_APP.finditer(text):
        app, raw = m.group(1).lower(), m.group(2).rstrip("._-")
        if app == "threema":
            if len(raw) != 8 or not all(c.isdigit() or c == "*" or ("A" <= c <= "Z") for c in raw):
                continue  # IDs are 8 of A-Z 0-9 *, written upper-case
            kind, value = K.THREEMA, raw
        elif any(c.isalpha() for c in raw) and "*" not in raw:
            kind = K.WICKR if app.startswith("wickr") else K.SIGNAL if app == "signal" else K.WIRE
            value = raw.lstrip("@").lower()
        else:
            continue  # a number after the app name is the phone pass's business
        if (kind, value) in have:
            continue
        have.add((kind, value))
        start = m.start(2)
        out.append(_ident(kind, value, text, start, start + len(raw)))
        claimed.append((start, start + len(raw)))
    return out


def _emails(text: str) -> list[Identifier]:
    if "@" not in text:
        return []
    out = []
    for m in _EMAIL.finditer(text):
        domain = m.group(3).lower()
        if domain.rsplit(".", 1)[-1] in _FILE_TLDS:
            continue
        local = m.group(2)
        if local.endswith(".") or ".." in local:
            continue
        value = f"{local}@{domain}".lower()
        kind = K.XMPP if m.group(1) or _cued(text, m.start(), _XMPP_CUE, 50) else K.EMAIL
        out.append(_ident(kind, value, text, m.start(), m.end()))
    return out


def _phones(text: str, lower: str, claimed: list[Span]) -> list[Identifier]:
    out: list[Identifier] = []
    if "+" not in text and "00" not in text and not any(w in lower for w in _PHONE_WORDS):
        return out  # national numbers need a cue; international ones a + or 00
    for m in _PHONE.finditer(text):
        raw = m.group()
        start, end = m.span()
        if _inside(start, claimed):
            continue
        digits = "".join(c for c in raw if c.isdigit())
        intl = raw.startswith(("+", "00"))
        if intl and raw.startswith("00"):
            digits = digits[2:]
        if raw.count("(") != raw.count(")") or _DATE_LIKE.match(raw):
            continue
        if _AFTER_NUMBER.match(text, end) or _BEFORE_NUMBER.search(text[max(0, start - 8) : start]):
            continue  # a price or a quantity, not a number to call
        cue = _cued(text, start, _PHONE_CUE, 30)
        if intl and 8 <= len(digits) <= 15:
            out.append(_ident(K.PHONE, "+" + digits, text, start, end, 1.0 if cue else 0.8))
        elif cue and 9 <= len(digits) <= 15 and not raw.startswith("0" * 3):
            out.append(_ident(K.PHONE, digits, text, start, end, 0.8))
    return out


def find_identifiers(text: str, *, in_telegram: bool = False) -> list[Identifier]:
    """Every contact identifier in ``text``, sorted by offset (see module doc).

    ``in_telegram``: the text is a Telegram message, where a bare ``@name`` is a Telegram
    username (elsewhere it needs a Telegram cue nearby).
    """
    if not isinstance(text, str) or not text:
        return []
    lower = text.lower()
    keys, blocks = _pgp_blocks(text) if "pgp public key" in lower else ([], [])
    if "pgp signature" in lower:
        issuers, sig_blocks = _signature_issuers(text)
        keys, blocks = keys + issuers, sorted(blocks + sig_blocks)
    out = keys + _pgp_fingerprints(text, lower, blocks) + _onions(text, lower) + _telegram(text, lower, in_telegram)
    claimed = _Claims(blocks)
    out += _messengers(text, lower, claimed)
    out += [i for i in _emails(text) if not _inside(i.start, blocks)]
    claimed += [(i.start, i.end) for i in out]
    out += _phones(text, lower, claimed)
    out.sort(key=lambda i: (i.start, i.end, i.kind.value))
    return out


def find_cas(text: str) -> list[CasNumber]:
    """CAS numbers whose check digit holds; a date-like one without a "CAS" cue is doubted."""
    if not isinstance(text, str):
        return []
    out: list[CasNumber] = []
    if "-" not in text:
        return out
    for m in _CAS.finditer(text):
        value = m.group()
        if not cas_valid(value):
            continue
        head, mid = value.split("-")[:2]
        datey = len(head) == 4 and head[:2] in ("19", "20") and 1 <= int(mid) <= 12
        cue = _cued(text, m.start(), _CAS_CUE, 25)
        confidence = 1.0 if cue else 0.5 if datey else 0.9
        out.append(CasNumber(value=value, text=value, start=m.start(), end=m.end(), confidence=confidence))
    return out


class IdentifierFinder:
    """spaCy component: appends identifiers and CAS numbers found in ``doc.text``."""

    def __init__(self, name: str = "narcwatch_identifiers", kinds: list[str] | None = None, cas: bool = True) -> None:
        valid = {k.value for k in K}
        unknown = sorted(set(kinds or []) - valid)
        if unknown:
            raise ValueError(f"unknown identifier kind(s) {unknown}; available: {sorted(valid)}")
        self.name = name
        self.kinds = frozenset(kinds) if kinds else None
        self.cas = cas
        self._find: Callable[[str], list[Identifier]] = find_identifiers

    def __call__(self, doc: Doc) -> Doc:
        facts = doc_facts(doc)
        text = raw_text(doc)
        if doc_context(doc).get("source_kind") == "telegram" and self._find is find_identifiers:
            found = find_identifiers(text, in_telegram=True)
        else:
            found = self._find(text)
        if self.kinds is not None:
            found = [i for i in found if i.kind.value in self.kinds]
        facts.identifiers.extend(found)
        if self.cas:
            facts.cas.extend(find_cas(text))
        return doc


@Language.factory("narcwatch_identifiers", default_config={"kinds": [k.value for k in K], "cas": True})
def make_identifiers(nlp: Language, name: str, kinds: list[str], cas: bool) -> IdentifierFinder:
    return IdentifierFinder(name, kinds, cas)
