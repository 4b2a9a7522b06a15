"""The query language: Lucene/Kibana-style strings parsed by ``luqum`` into one small tree.

``parse("class:nitazene AND ships_from:EU AND usd_per_gram:<50")`` returns a
``ParsedQuery`` whose ``root`` is a tree of the node classes below, with field aliases
resolved and values typed (Decimal, datetime, bool). Every backend compiles that same
tree: ``narcwatch.index.sql_compiler`` to parameterised SQL, ``narcwatch.index.es_compiler``
to the Elasticsearch/OpenSearch DSL, and ``matches`` evaluates it over a flat document in
memory (alert rules). Field names and the flat document are described in
``narcwatch.index.fields``.

Syntax: free text (``nitazene``), ``field:value``, phrases (``"etonitazene powder"``),
``AND``/``OR``/``NOT``/``-x``/``+x`` (juxtaposition means AND), groups, ranges
(``price:[10 TO 50]``, ``usd_per_gram:<50``, ``first_seen:>=2026-11-01``,
``last_seen:>now-7d``), wildcards (``vendor:dr*``, ``wallet:bc1q?*``; text fields take a
trailing ``*`` only), ``field:*`` (has a value) and ``*`` (everything).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Union

from luqum import tree as lt
from luqum.exceptions import ParseError
from luqum.parser import parser as _luqum_parser

from narcwatch.index.fields import TEXT_DEFAULT, FieldKind, FieldSpec, field_names, resolve_field

__all__ = [
    "And", "Bool", "Exists", "Keyword", "MatchAll", "Node", "Not", "Or", "ParsedQuery", "QueryError",
    "Range", "Text", "matches", "parse", "tokenize",
]

MAX_QUERY_LENGTH = 4000
_PARSE_LOCK = threading.Lock()  # luqum's PLY parser keeps state between calls


class QueryError(ValueError):
    """A query that cannot run: says where (0-based ``position``) and lists valid fields."""

    def __init__(self, message: str, query: str, position: int | None = None, *, list_fields: bool = False):
        self.message = message
        self.query = query
        self.position = position
        self.valid_fields = field_names() if list_fields else []
        text = message
        if position is not None:
            text += f" at position {position}\n  {query}\n  {' ' * position}^"
        if list_fields:
            text += "\nvalid fields: " + ", ".join(self.valid_fields)
        super().__init__(text)

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "query": self.query, "position": self.position,
                "valid_fields": self.valid_fields}


# --- the tree every compiler reads ------------------------------------------------------


@dataclass(frozen=True)
class MatchAll:
    pass


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


@dataclass(frozen=True)
class Text:
    """Tokens in one of ``fields``; several tokens are a phrase; ``prefix`` applies to the last."""

    fields: tuple[str, ...]
    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Keyword:
    """Exact (lower-cased) value, or a glob with ``*``/``?`` when ``wildcard``."""

    field: str
    value: str
    wildcard: bool = False


@dataclass(frozen=True)
class Range:
    field: str
    low: Decimal | datetime | None
    high: Decimal | datetime | None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True)
class Bool:
    field: str
    value: bool


@dataclass(frozen=True)
class Exists:
    field: str


Node = Union[MatchAll, And, Or, Not, Text, Keyword, Range, Bool, Exists]


@dataclass(frozen=True)
class ParsedQuery:
    source: str
    root: Node
    now: datetime = field(compare=False)

    @property
    def text_nodes(self) -> list[Text]:
        """Positive free-text/text-field nodes: what relevance ranking and highlighting use."""
        out: list[Text] = []

        def walk(n: Node, negated: bool) -> None:
            if isinstance(n, Text) and not negated:
                out.append(n)
            elif isinstance(n, (And, Or)):
                for c in n.items:
                    walk(c, negated)
            elif isinstance(n, Not):
                walk(n.item, not negated)

        walk(self.root, False)
        return out


# --- tokens ----------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")
_COMBINING = re.compile(r"[\u0300-\u036f]")


def tokenize(text: str) -> list[str]:
    """Lower-cased, diacritics-folded alphanumeric tokens: FTS5 ``unicode61 remove_diacritics 2``."""
    import unicodedata

    folded = _COMBINING.sub("", unicodedata.normalize("NFKD", text or "")).lower()
    return _TOKEN.findall(folded)


# --- parsing ---------------------------------------------------------------------------

_POS = re.compile(r"position (\d+)")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}
_DATE_MATH = re.compile(r"now(?:([+-])(\d{1,6})([smhdwMy]))?(?:/([dwMy]))?")
_UNITS = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
          "w": timedelta(weeks=1), "M": timedelta(days=30), "y": timedelta(days=365)}


def parse(query: str, *, now: datetime | None = None) -> ParsedQuery:
    """Parse and type-check a query string; raise ``QueryError`` pointing at the problem."""
    now = now or datetime.now(timezone.utc)
    if not isinstance(query, str):
        raise QueryError("query must be a string", str(query))
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(f"query longer than {MAX_QUERY_LENGTH} characters", query[:80], MAX_QUERY_LENGTH)
    if not query.strip():
        return ParsedQuery(query, MatchAll(), now)
    try:
        with _PARSE_LOCK:
            tree = _luqum_parser.parse(query)
    except ParseError as exc:
        msg = str(exc)
        m = _POS.search(msg)
        pos = int(m.group(1)) if m else len(query)
        reason = msg.split(":", 1)[-1].strip().rstrip("!")
        reason = re.sub(r"\s+at position \d+$|\s+at the end$", "", reason).replace("  ", " ")
        raise QueryError(f"syntax error: {reason}", query, pos) from None
    except (RecursionError, TypeError, AttributeError, IndexError) as exc:  # luqum on pathological input
        raise QueryError(f"syntax error: {type(exc).__name__}", query, 0) from None
    return ParsedQuery(query, _Builder(query, now).build(tree, None), now)


class _Builder:
    def __init__(self, query: str, now: datetime):
        self.query = query
        self.now = now

    def error(self, message: str, node: Any, *, list_fields: bool = False) -> QueryError:
        pos = getattr(node, "pos", None)
        return QueryError(message, self.query, pos if isinstance(pos, int) else None, list_fields=list_fields)

    def build(self, node: Any, spec: FieldSpec | None) -> Node:
        if isinstance(node, lt.SearchField):
            if spec is not None:
                raise self.error(f"nested field {node.name!r} inside {spec.name!r}", node)
            found = resolve_field(node.name)
            if found is None:
                raise self.error(f"unknown field {node.name!r}", node, list_fields=True)
            return self.build(node.expr, found)
        if isinstance(node, (lt.AndOperation, lt.UnknownOperation)):
            return _flatten(And, [self.build(c, spec) for c in node.children])
        if isinstance(node, lt.OrOperation):
            return _flatten(Or, [self.build(c, spec) for c in node.children])
        if isinstance(node, (lt.Not, lt.Prohibit)):
            return Not(self.build(node.a, spec))
        if isinstance(node, (lt.Plus, lt.Group, lt.FieldGroup)):
            return self.build(node.children[0] if not isinstance(node, lt.Plus) else node.a, spec)
        if isinstance(node, lt.Boost):
            return self.build(node.expr, spec)
        if isinstance(node, lt.Phrase):
            return self.value(node, spec, node.value[1:-1], phrase=True)
        if isinstance(node, lt.Word):
            return self.value(node, spec, node.value, phrase=False)
        if isinstance(node, lt.Range):
            return self.range(node, spec, node.low, node.high, node.include_low, node.include_high)
        if isinstance(node, lt.From):
            return self.range(node, spec, node.a, None, node.include, True)
        if isinstance(node, lt.To):
            return self.range(node, spec, None, node.a, True, node.include)
        if isinstance(node, (lt.Fuzzy, lt.Proximity)):
            raise self.error("fuzzy and proximity searches (~) are not supported", node)
        if isinstance(node, lt.Regex):
            raise self.error("regular expressions are not supported; use wildcards * and ?", node)
        raise self.error(f"unsupported syntax {type(node).__name__}", node)

    def value(self, node: Any, spec: FieldSpec | None, raw: str, *, phrase: bool) -> Node:
        raw = raw if phrase else _unescape(raw)
        if spec is None:
            if raw == "*" and not phrase:
                return MatchAll()
            return self.text(node, TEXT_DEFAULT, raw, phrase)
        if raw == "*" and not phrase:
            return Exists(spec.name)
        if spec.kind is FieldKind.TEXT:
            return self.text(node, (spec.name,), raw, phrase)
        if spec.kind is FieldKind.KEYWORD:
            wildcard = not phrase and ("*" in raw or "?" in raw)
            return Keyword(spec.name, raw.lower(), wildcard)
        if spec.kind is FieldKind.BOOL:
            low = raw.lower()
            if low in _TRUE or low in _FALSE:
                return Bool(spec.name, low in _TRUE)
            raise self.error(f"{spec.name} takes true or false, not {raw!r}", node)
        if spec.kind is FieldKind.NUMBER:
            n = self.number(node, spec, raw)
            return Range(spec.name, n, n)
        day = self.date(node, spec, raw)
        if _is_day(raw):
            return Range(spec.name, day, day + timedelta(days=1), True, False)
        return Range(spec.name, day, day)

    def text(self, node: Any, fields: tuple[str, ...], raw: str, phrase: bool) -> Node:
        prefix = False
        body = raw
        if not phrase:
            if body.endswith("*"):
                prefix, body = True, body.rstrip("*")
            if "*" in body or "?" in body:
                raise self.error("text fields take only a trailing * wildcard (e.g. nitaz*)", node)
        tokens = tuple(tokenize(body))
        if not tokens:
            raise self.error(f"{raw!r} contains no searchable word", node)
        return Text(fields, tokens, prefix)

    def range(self, node: Any, spec: FieldSpec | None, low: Any, high: Any, inc_low: bool, inc_high: bool) -> Node:
        if spec is None:
            raise self.error("a range needs a field, e.g. usd_per_gram:<50", node, list_fields=True)
        if spec.kind not in (FieldKind.NUMBER, FieldKind.DATE):
            raise self.error(f"{spec.name} is a {spec.kind.value} field and takes no range", node)
        bounds: list[Decimal | datetime | None] = []
        for b in (low, high):
            raw = _unescape(getattr(b, "value", "*")) if b is not None else "*"
            if raw == "*":
                bounds.append(None)
            elif spec.kind is FieldKind.NUMBER:
                bounds.append(self.number(b, spec, raw))
            else:
                bounds.append(self.date(b, spec, raw))
        return Range(spec.name, bounds[0], bounds[1], inc_low, inc_high)

    def number(self, node: Any, spec: FieldSpec, raw: str) -> Decimal:
        try:
            n = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            n = Decimal("NaN")
        if not n.is_finite():
            raise self.error(f"{spec.name} takes a number, not {raw!r}", node)
        return n

    def date(self, node: Any, spec: FieldSpec, raw: str) -> datetime:
        m = _DATE_MATH.fullmatch(raw)
        if m:
            t = self.now
            if m.group(1):
                delta = _UNITS[m.group(3)] * int(m.group(2))
                t = t + delta if m.group(1) == "+" else t - delta
            if m.group(4):
                t = t.replace(hour=0, minute=0, second=0, microsecond=0)
            return t
        try:
            t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise self.error(f"{spec.name} takes a date (2026-11-01, 2026-11-01T12:00Z, now-7d), not {raw!r}",
                             node) from None
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _is_day(raw: str) -> bool:
    return len(raw) == 10 and raw[4:5] == "-" and raw[7:8] == "-"


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw)


def _flatten(kind: type[And] | type[Or], items: list[Node]) -> Node:
    out: list[Node] = []
    for it in items:
        out.extend(it.items if isinstance(it, kind) else (it,))
    return out[0] if len(out) == 1 else kind(tuple(out))


# --- the in-memory evaluator -----------------------------------------------------------


def matches(query: str | ParsedQuery, doc: dict[str, Any]) -> bool:
    """Does the flat document ``doc`` (see ``narcwatch.index.fields``) satisfy ``query``?

    Total over hostile documents: a missing key, None or a value of the wrong type is
    simply "no match" for that clause. Raises only ``QueryError`` for a bad query string.
    """
    from narcwatch.index.evaluate import evaluate

    parsed = query if isinstance(query, ParsedQuery) else parse(query)
    return evaluate(parsed.root, doc)
