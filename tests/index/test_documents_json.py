"""``documents.dumps`` (orjson, with ``json.dumps`` where orjson refuses) writes the same JSON
values the old ``json.dumps`` writer did, and a content row an older store wrote with
``\\u`` escapes is still recognised as unchanged (so a recrawl keeps its content row).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple

import pytest

from narcwatch.index.documents import _default, dumps, iso, parse_iso
from narcwatch.index.sqlite_schema import ContentWriter, content_body


def _old_dumps(v: Any) -> str:  # the writer before orjson
    return json.dumps(v, default=_default, separators=(",", ":"))


class Example(NamedTuple):
    name: str
    value: Any


_EXAMPLES = [
    Example("decimal money", {"price": Decimal("12.3400"), "usd": Decimal("1E+3")}),
    Example("utc datetime", {"at": datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)}),
    Example("offset datetime", {"at": datetime(2026, 1, 5, 10, 0, tzinfo=timezone(timedelta(hours=3)))}),
    Example("naive datetime", {"at": datetime(2026, 1, 5, 10, 0, 0, 5)}),
    Example("cyrillic and emoji", {"title": "Гашиш 5г 🔥", "text": "ships\tfrom\nNL \"fast\""}),
    Example("sets and tuples", {"s": {"b"}, "t": ("x", 1), "f": frozenset()}),
    Example("floats and ints", {"f": 0.1, "g": 1e-7, "i": -(2**63), "b": True, "n": None}),
    Example("non-string keys", {1: "a", 2.5: "b", None: "c"}),
    Example("lone surrogate (json fallback)", {"t": "bad \ud800 text"}),
    Example("integer past 64 bits (json fallback)", {"i": 2**70}),
    Example("control characters", {"t": "\x00\x1f\x7f\u2028"}),
]


@pytest.mark.parametrize("ex", _EXAMPLES, ids=[e.name for e in _EXAMPLES])
def test_dumps_writes_the_value_the_old_writer_did(ex: Example) -> None:
    assert json.loads(dumps(ex.value)) == json.loads(_old_dumps(ex.value))


def test_dumps_keeps_decimals_and_datetimes_as_text() -> None:
    at = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
    assert dumps({"p": Decimal("1.50"), "at": at}) == f'{{"p":"1.50","at":"{iso(at)}"}}'


def test_dumps_refuses_what_the_old_writer_refused() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})


def test_a_body_written_with_escapes_is_the_same_content() -> None:
    doc = {"key": "alpha:1", "title": "Гашиш 5г", "text": "premium", "substances": ["cannabis"]}
    old_body = _old_dumps({k: doc[k] for k in doc})  # what an older store has in ``contents``
    assert "\\u" in old_body and old_body != content_body(doc)

    writer = ContentWriter(8)  # content ids up to 7 are taken
    writer.known(1, old_body, 7)
    assert writer.id_for(1, doc) == 7 and writer.rows == []  # unchanged: no new content row
    assert writer.id_for(1, {**doc, "text": "restock"}) == 8  # changed: a new one


@pytest.mark.parametrize("t", [
    datetime(2026, 11, 2, 10, 5, 7, 120, tzinfo=timezone.utc),
    datetime(2026, 11, 2, 10, 5, 7),  # naive: taken as UTC
    datetime(2026, 11, 2, 12, 5, 7, tzinfo=timezone(timedelta(hours=2))),  # converted to UTC
    datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),  # across a day
    datetime(999, 3, 4, 5, 6, 7, 999999, tzinfo=timezone.utc),  # a year below 1000 stays 4 digits
])
def test_iso_is_isoformat_of_the_utc_time_with_microseconds(t: datetime) -> None:
    utc = t.astimezone(timezone.utc) if t.tzinfo else t
    assert iso(t) == utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    assert parse_iso(iso(t)) == (utc if t.tzinfo else t.replace(tzinfo=timezone.utc))
