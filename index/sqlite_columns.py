"""An in-memory column snapshot of ``docs`` and ``terms`` for filter, count and facet queries.

Why: SQLite evaluates a filter row by row; counting and faceting ``class:nitazene`` on a
million listings means ~190,000 random row lookups (a second on a busy laptop). The same
question over numpy columns is a few vectorised passes (milliseconds).

The snapshot is an accelerator, never the source of truth: it is built from one read
transaction, used only while no write happened since (own writes bump a generation,
other connections' writes bump ``PRAGMA data_version``), and otherwise the query runs in
SQL while a rebuild happens in the background. Queries it cannot answer (free text,
high-cardinality fields such as wallets or keys) also run in SQL. Semantics mirror
``narcwatch.index.sql_compiler`` exactly; ``tests/index/test_sqlite_columns.py`` checks
both paths return the same totals, pages and facets.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from narcwatch.index.documents import iso
from narcwatch.index.evaluate import glob_match
from narcwatch.index.fields import FIELDS, FieldKind
from narcwatch.index.query import And, Bool, Exists, Keyword, MatchAll, Node, Not, Or, Range, Text

__all__ = ["DELTA_COLUMNS", "ColumnSnapshot", "Unsupported", "load"]

#: single-valued keyword fields held as dictionary codes (low cardinality)
CODED = {"type": "type", "source": "source_lc", "vendor": "vendor_lc", "category": "category_lc",
         "currency": "currency_lc"}
#: multi-valued keyword fields held as postings (low cardinality: a lexicon, country codes)
POSTED = ("substances", "classes", "ships_from", "ships_to")
FLOATS = ("price", "price_usd", "usd_per_gram", "usd_per_unit")
DATES = ("first_seen", "last_seen")
FLAGS = ("available", "novel", "removed")
#: the row ``ColumnSnapshot.upsert`` takes: rid, then the ``docs`` columns in this order
DELTA_COLUMNS = ("rid", *CODED.values(), *FLOATS, *DATES, *FLAGS)


class Unsupported(Exception):
    """This query (or facet) needs SQL."""


@dataclass
class ColumnSnapshot:
    size: int  # max rid + 1
    alive: np.ndarray
    codes: dict[str, np.ndarray] = field(default_factory=dict)  # field -> int32 code per rid (-1 = null)
    values: dict[str, list[str]] = field(default_factory=dict)  # field -> code -> value
    floats: dict[str, np.ndarray] = field(default_factory=dict)  # NaN = null
    dates: dict[str, np.ndarray] = field(default_factory=dict)  # int64 microseconds since the epoch (UTC)
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    postings: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # field -> value -> sorted rids
    #: field -> value -> the buffer whose prefix a posting is, with room to append (see ``_add``)
    spare: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    index: dict[str, dict[Any, int]] = field(default_factory=dict)  # field -> value -> code (None -> -1)
    stamp: Any = None
    log_seq: int = 0  # the last ``changelog`` seq this snapshot reflects
    text: Callable[[Text], np.ndarray] | None = None  # rids matching a text node (FTS5), set per query

    # --- incremental upkeep (the store's own writes, applied after they commit) -------

    def _grow(self, need: int) -> None:
        """Room for rids below ``need``; capacity grows by a quarter so appends stay amortised."""
        if need <= self.size:
            return
        new = max(need, self.size + self.size // 4 + 1024)

        def pad(a: np.ndarray, fill: Any) -> np.ndarray:
            out = np.full(new, fill, dtype=a.dtype)
            out[:len(a)] = a
            return out

        self.alive = pad(self.alive, False)
        self.codes = {k: pad(v, -1) for k, v in self.codes.items()}
        self.floats = {k: pad(v, np.nan) for k, v in self.floats.items()}
        self.dates = {k: pad(v, 0) for k, v in self.dates.items()}
        self.flags = {k: pad(v, 0) for k, v in self.flags.items()}
        self.size = new

    def upsert(self, rows: Sequence[Sequence[Any]], drop_terms: Sequence[tuple[str, str, int]] = (),
               add_terms: Sequence[tuple[str, str, int]] = ()) -> None:
        """Lay written ``docs`` rows (``DELTA_COLUMNS`` order) and ``terms`` changes over the
        snapshot: after it the snapshot equals one rebuilt by ``load`` (tested)."""
        if rows:
            cols = list(zip(*rows))
            rid = np.array(cols[0], dtype=np.int64)
            self._grow(int(rid.max()) + 1)
            self.alive[rid] = True
            it = iter(cols[1:])
            for name in CODED:
                index, values = self.index[name], self.values[name]
                for v in dict.fromkeys(vals := next(it)):
                    if v not in index:
                        index[v] = len(values)
                        values.append(v)
                self.codes[name][rid] = np.fromiter(map(index.__getitem__, vals), dtype=np.int32, count=len(vals))
            for name in FLOATS:
                self.floats[name][rid] = np.array(next(it), dtype=np.float64)
            for name in DATES:
                self.dates[name][rid] = _micros_array(next(it))
            for name in FLAGS:
                self.flags[name][rid] = np.array(next(it), dtype=np.int8)
        for terms, add in ((drop_terms, False), (add_terms, True)):
            grouped: dict[tuple[str, str], list[int]] = {}
            for f, v, r in terms:
                if f in self.postings:
                    grouped.setdefault((f, v), []).append(r)
            for (f, v), rids in grouped.items():
                post = self.postings[f]
                delta = np.array(rids, dtype=np.int64)
                if len(delta) > 1 and not bool((delta[1:] > delta[:-1]).all()):
                    delta = np.unique(delta)  # (new rows come in rid order: usually sorted already)
                if add:
                    _add(post, v, delta, self.spare.setdefault(f, {}))
                else:
                    _drop(post, v, delta)

    def replace(self, rids: Sequence[int], rows: Sequence[Sequence[Any]], terms: Sequence[tuple[str, str, int]]) -> None:
        """Make ``rids`` equal their stored state: ``rows`` are their current ``docs`` rows
        (``DELTA_COLUMNS`` order; a rid without a row is gone) and ``terms`` their current
        posted terms. Used to catch up with writes another process made: their old terms are
        unknown here, so each posting is searched for these rids (postings are sorted) and
        keeps, drops or gains each one as its current terms say."""
        if not len(rids):
            return
        idx = np.unique(np.asarray(rids, dtype=np.int64))
        self._grow(int(idx[-1]) + 1)
        old = idx[self.alive[idx]]  # rows that may hold postings now
        want: dict[tuple[str, str], set[int]] = {}
        for f, v, r in terms:
            if f in self.postings:
                want.setdefault((f, v), set()).add(r)
        if len(old):  # an old row leaves the postings it no longer has (one binary search per posting)
            for f, post in self.postings.items():
                for v in list(post):
                    have = post[v]
                    pos = np.searchsorted(have, old).clip(max=len(have) - 1)
                    held = old[have[pos] == old]
                    keep = want.get((f, v), set())
                    gone = [r for r in held.tolist() if r not in keep]
                    if gone:
                        _drop(post, v, np.array(gone, dtype=np.int64))
                    if len(held):
                        want[(f, v)] = keep - set(held.tolist())  # already there
        add = [(f, v, r) for (f, v), rs in want.items() for r in rs]
        self.alive[idx] = False
        self.upsert(rows, (), add)

    def set_flags(self, rids: Sequence[int], **flags: int) -> None:
        """Set flag columns (``removed=1, available=0``) for ``rids``, as an UPDATE did."""
        idx = np.array(rids, dtype=np.int64)
        for name, value in flags.items():
            self.flags[name][idx] = value

    def set_dates(self, name: str, rows: Sequence[tuple[int, str]]) -> None:
        """Set a date column from ``(rid, stored ISO text)`` rows, as an UPDATE did."""
        if rows:
            rids, values = zip(*rows)
            self.dates[name][np.array(rids, dtype=np.int64)] = _micros_array(values)

    # --- filters -------------------------------------------------------------------

    def mask(self, node: Node) -> np.ndarray:
        """Boolean mask over rids of the documents matching ``node`` (raises Unsupported)."""
        if isinstance(node, MatchAll):
            return self.alive.copy()
        if isinstance(node, And):
            out = self.mask(node.items[0])
            for n in node.items[1:]:
                out &= self.mask(n)
            return out
        if isinstance(node, Or):
            out = self.mask(node.items[0])
            for n in node.items[1:]:
                out |= self.mask(n)
            return out
        if isinstance(node, Not):
            return self.alive & ~self.mask(node.item)
        if isinstance(node, Keyword):
            return self._keyword(node)
        if isinstance(node, Text):
            if self.text is None:
                raise Unsupported("text")
            out = np.zeros(self.size, dtype=bool)
            out[self.text(node)] = True
            return out & self.alive
        if isinstance(node, Range):
            return self._range(node)
        if isinstance(node, Bool):
            if node.field not in self.flags:
                return self._none_or_unsupported(node.field)
            return self.alive & (self.flags[node.field] == (1 if node.value else 0))
        if isinstance(node, Exists):
            return self._exists(node.field)
        raise Unsupported(type(node).__name__)

    def _none_or_unsupported(self, name: str) -> np.ndarray:
        from narcwatch.index.sql_compiler import KEYWORD_COLUMNS, MULTI_FIELDS, NUMBER_COLUMNS

        if name in KEYWORD_COLUMNS or name in MULTI_FIELDS or name in NUMBER_COLUMNS:
            raise Unsupported(name)
        return np.zeros(self.size, dtype=bool)  # event-only fields never match a stored document

    def _keyword(self, node: Keyword) -> np.ndarray:
        if node.field in self.codes:
            vals = self.values[node.field]
            hit = [i for i, v in enumerate(vals) if (glob_match(node.value, v) if node.wildcard else v == node.value)]
            return self.alive & np.isin(self.codes[node.field], np.array(hit, dtype=np.int32))
        if node.field in self.postings:
            post = self.postings[node.field]
            keys = [v for v in post if glob_match(node.value, v)] if node.wildcard else [node.value]
            out = np.zeros(self.size, dtype=bool)
            for k in keys:
                if k in post:
                    out[post[k]] = True
            return out
        return self._none_or_unsupported(node.field)

    def _range(self, node: Range) -> np.ndarray:
        if node.field in self.floats:
            col = self.floats[node.field]
            out = self.alive & ~np.isnan(col)
            conv = float
        elif node.field in self.dates:
            col = self.dates[node.field]
            out = self.alive.copy()
            conv = _micros  # type: ignore[assignment]
        elif node.field in self.flags:
            col = self.flags[node.field]
            out = self.alive.copy()
            conv = float
        else:
            return self._none_or_unsupported(node.field)
        if node.low is not None:
            lo = conv(node.low)  # type: ignore[arg-type]
            out &= (col >= lo) if node.include_low else (col > lo)
        if node.high is not None:
            hi = conv(node.high)  # type: ignore[arg-type]
            out &= (col <= hi) if node.include_high else (col < hi)
        return out

    def _exists(self, name: str) -> np.ndarray:
        if name in self.codes:
            empty = [i for i, v in enumerate(self.values[name]) if v == ""]
            return self.alive & (self.codes[name] >= 0) & ~np.isin(self.codes[name], np.array(empty, dtype=np.int32))
        if name in self.postings:
            out = np.zeros(self.size, dtype=bool)
            for rids in self.postings[name].values():
                out[rids] = True
            return out
        if name in self.floats:
            return self.alive & ~np.isnan(self.floats[name])
        if name in self.dates or name in self.flags:
            return self.alive.copy()
        if FIELDS[name].kind is FieldKind.TEXT:
            raise Unsupported(name)
        return self._none_or_unsupported(name)

    # --- facets --------------------------------------------------------------------

    def facet(self, name: str, mask: np.ndarray, size: int) -> list[tuple[str, int]]:
        """(value, count) by count desc then value, as the SQL facet orders them."""
        if name in self.codes:
            codes = self.codes[name][mask]
            counts = np.bincount(codes[codes >= 0], minlength=len(self.values[name]))
            values = self.values[name]
        elif name in self.postings:
            values = list(self.postings[name])
            counts = np.fromiter((np.count_nonzero(mask[rids]) for rids in self.postings[name].values()),
                                 dtype=np.int64, count=len(values))
        else:
            raise Unsupported(name)
        if size <= 0:
            return []
        nz = np.flatnonzero(counts)
        if len(nz) > size:  # only values counted at least as often as the size-th can be listed (ties kept)
            cut = np.partition(counts[nz], len(nz) - size)[len(nz) - size]
            nz = nz[counts[nz] >= cut]
        pairs = [(values[i], int(counts[i])) for i in nz.tolist()]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        return pairs[:size]


def _add(post: dict[str, np.ndarray], value: str, rids: np.ndarray, spare: dict[str, np.ndarray]) -> None:
    """Add sorted, unique ``rids`` to a posting, keeping it sorted.

    New rows append: into ``spare[value]``, a buffer the posting is a prefix view of, grown
    by a quarter when full, so a posting of a common value (a country, a class) is not
    copied whole by every batch (that made the column delta grow with the store). A
    reader's earlier view stays valid: only slots past its end are written."""
    have = post.get(value)
    if have is None or not len(have):
        post[value] = rids
        spare.pop(value, None)
    elif rids[0] > have[-1]:
        n, k = len(have), len(rids)
        buf = spare.get(value)
        if buf is None or have.base is not buf or len(buf) < n + k:
            buf = np.empty(n + k + (n + k) // 4 + 64, dtype=have.dtype)
            buf[:n] = have
            spare[value] = buf
        buf[n:n + k] = rids
        post[value] = buf[:n + k]
    else:  # rows back in the middle (a re-extraction, a recrawl that gained a value)
        pos = np.searchsorted(have, rids)
        rids = rids[have[pos.clip(max=len(have) - 1)] != rids]  # binary search: not np.isin, which sorts ``have``
        post[value] = np.insert(have, np.searchsorted(have, rids), rids)


def _drop(post: dict[str, np.ndarray], value: str, rids: np.ndarray) -> None:
    have = post.get(value)
    if have is None:
        return
    pos = np.searchsorted(have, rids).clip(max=len(have) - 1)
    keep = np.delete(have, pos[have[pos] == rids])
    if len(keep):
        post[value] = keep
    else:
        del post[value]


def _micros(v: datetime | Decimal) -> int:
    """The stored ISO text of ``v`` as microseconds: the order SQL compares the text in."""
    return int(np.datetime64(iso(v)[:-1], "us").astype(np.int64)) if isinstance(v, datetime) else int(v)


def _micros_array(values: Sequence[str]) -> np.ndarray:
    return np.array([v[:-1] if v.endswith("Z") else v for v in values], dtype="datetime64[us]").astype(np.int64)


def load(db: sqlite3.Connection) -> ColumnSnapshot:
    """Read ``docs`` and the low-cardinality ``terms`` (call inside one read transaction).

    Conversions stay in C (``np.array`` over fetched columns, ``dict.fromkeys`` for codes,
    ``group_concat`` postings): a million documents load in seconds, not minutes.
    """
    size = int(db.execute("SELECT coalesce(max(rid), 0) + 1 FROM docs").fetchone()[0])
    snap = ColumnSnapshot(size=size, alive=np.zeros(size, dtype=bool))
    cols = list(DELTA_COLUMNS)
    rows = db.execute(f"SELECT {', '.join(cols)} FROM docs").fetchall()
    data = list(zip(*rows)) if rows else [()] * len(cols)
    del rows
    rid = np.array(data[0], dtype=np.int64)
    snap.alive[rid] = True
    columns = iter(data[1:])
    for name in CODED:
        vals = next(columns)
        distinct = [v for v in dict.fromkeys(vals) if v is not None]
        index: dict[Any, int] = {v: i for i, v in enumerate(distinct)}
        index[None] = -1
        codes = np.full(size, -1, dtype=np.int32)
        codes[rid] = np.fromiter(map(index.__getitem__, vals), dtype=np.int32, count=len(vals))
        snap.codes[name], snap.values[name], snap.index[name] = codes, distinct, index
    for name in FLOATS:
        col = np.full(size, np.nan)
        col[rid] = np.array(next(columns), dtype=np.float64)  # None -> NaN
        snap.floats[name] = col
    for name in DATES:
        col = np.zeros(size, dtype=np.int64)
        vals = next(columns)
        if vals:
            col[rid] = _micros_array(vals)
        snap.dates[name] = col
    for name in FLAGS:
        col = np.zeros(size, dtype=np.int8)
        col[rid] = np.array(next(columns), dtype=np.int8)
        snap.flags[name] = col
    del data
    for name in POSTED:
        snap.postings[name] = {
            v: np.unique(np.array(rids.split(","), dtype=np.int64))  # sorted: membership is a binary search
            for v, rids in db.execute("SELECT v, group_concat(rid) FROM terms WHERE f = ? GROUP BY v", (name,))}
    return snap
