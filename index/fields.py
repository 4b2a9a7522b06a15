"""The field registry: every name a query may use, its type, and the aliases users expect.

One table drives the parser (unknown field -> error listing these names), the SQL and
Elasticsearch compilers (which column / index field a name lives in) and the in-memory
evaluator (which key of the flat document to read). Add a field here and every query
surface knows it.

The flat document (``narcwatch.index.documents.listing_document``) uses the canonical
names below as keys. Keyword values compare case-insensitively; multi-valued fields hold
lists. Event documents (``event_document``) add ``event`` and ``event_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FIELDS", "FieldKind", "FieldSpec", "TEXT_DEFAULT", "field_names", "resolve_field"]


class FieldKind(StrEnum):
    TEXT = "text"        # tokenised full text (FTS5 / analysed ES field)
    KEYWORD = "keyword"  # exact value, case-insensitive, wildcards allowed
    NUMBER = "number"    # ranges; stored exactly as Decimal in the document
    DATE = "date"        # ISO dates/datetimes, ``now-7d`` date math
    BOOL = "bool"        # true/false/yes/no/1/0


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: FieldKind
    multi: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""


_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec("title", FieldKind.TEXT, help="listing or post title"),
    FieldSpec("text", FieldKind.TEXT, aliases=("description", "body"), help="listing description or post text"),
    FieldSpec("key", FieldKind.KEYWORD, aliases=("id", "listing"), help="listing key source:site_id"),
    FieldSpec("type", FieldKind.KEYWORD, help="listing | post"),
    FieldSpec("source", FieldKind.KEYWORD, aliases=("market",), help="source id (market, forum, channel, shop)"),
    FieldSpec("vendor", FieldKind.KEYWORD, aliases=("seller", "author", "handle"),
              help="vendor handle (post author for posts)"),
    FieldSpec("category", FieldKind.KEYWORD, help="category as the site shows it"),
    FieldSpec("currency", FieldKind.KEYWORD, help="currency of the displayed price"),
    FieldSpec("url", FieldKind.KEYWORD),
    FieldSpec("capture_id", FieldKind.KEYWORD, aliases=("capture",)),
    FieldSpec("substances", FieldKind.KEYWORD, multi=True, aliases=("substance", "drug"),
              help="canonical substance names"),
    FieldSpec("classes", FieldKind.KEYWORD, multi=True, aliases=("class",), help="substance classes"),
    FieldSpec("cas", FieldKind.KEYWORD, multi=True, help="CAS numbers"),
    FieldSpec("wallets", FieldKind.KEYWORD, multi=True, aliases=("wallet",), help="wallet addresses"),
    FieldSpec("pgp", FieldKind.KEYWORD, multi=True, aliases=("fingerprint", "pgp_fingerprint"),
              help="PGP fingerprints"),
    FieldSpec("identifiers", FieldKind.KEYWORD, multi=True, aliases=("identifier",),
              help="every identifier value: wallets, PGP, contact handles, onions"),
    FieldSpec("ships_from", FieldKind.KEYWORD, multi=True, aliases=("from", "origin"), help="country/region codes"),
    FieldSpec("ships_to", FieldKind.KEYWORD, multi=True, aliases=("to", "destination")),
    FieldSpec("price", FieldKind.NUMBER, help="displayed price in its own currency"),
    FieldSpec("price_usd", FieldKind.NUMBER, aliases=("usd",)),
    FieldSpec("usd_per_gram", FieldKind.NUMBER, aliases=("ppg", "per_gram"), help="best USD per gram of the offers"),
    FieldSpec("usd_per_unit", FieldKind.NUMBER, aliases=("per_unit",), help="best USD per pill/blotter/piece"),
    FieldSpec("first_seen", FieldKind.DATE),
    FieldSpec("last_seen", FieldKind.DATE),
    FieldSpec("available", FieldKind.BOOL, help="listed as available and not removed"),
    FieldSpec("novel", FieldKind.BOOL, help="mentions a novel substance"),
    FieldSpec("removed", FieldKind.BOOL),
    FieldSpec("event", FieldKind.KEYWORD, aliases=("event_type",), help="event documents only: the event type"),
    FieldSpec("event_at", FieldKind.DATE, help="event documents only: when it happened"),
)

FIELDS: dict[str, FieldSpec] = {s.name: s for s in _SPECS}
_ALIASES: dict[str, str] = {a: s.name for s in _SPECS for a in (s.name, *s.aliases)}

#: Fields searched by a term without ``field:``.
TEXT_DEFAULT: tuple[str, ...] = ("title", "text")


def resolve_field(name: str) -> FieldSpec | None:
    """The spec for a canonical name or alias (case-insensitive), or None."""
    canonical = _ALIASES.get(name.lower())
    return FIELDS[canonical] if canonical else None


def field_names(with_aliases: bool = True) -> list[str]:
    return sorted(_ALIASES) if with_aliases else sorted(FIELDS)
