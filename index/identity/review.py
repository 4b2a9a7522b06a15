"""Analyst review of links: find accounts by reference, list an actor's links with the
decisions on them, record a decision. Shared by the CLI and the dashboard so both show
the same thing and write the same ``identity.sqlite``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from narcwatch.index.identity.accounts import account_id
from narcwatch.index.identity.decisions import Decision, DecisionStore
from narcwatch.index.identity.links import Evidence
from narcwatch.index.identity.resolve import Actor, Resolution

__all__ = ["LinkRow", "UnknownAccount", "find_account", "link_rows", "record_decision"]

VERDICTS = {"confirm": "confirmed", "confirmed": "confirmed", "split": "split"}


class UnknownAccount(LookupError):
    """A reference that names no account, or several (``candidates`` lists them)."""

    def __init__(self, ref: str, candidates: Iterable[str] = ()):
        self.ref, self.candidates = ref, sorted(candidates)
        hint = f"; did you mean one of: {', '.join(self.candidates[:10])}" if self.candidates else \
            "; use source/handle, e.g. velvet-market/SomeVendor"
        super().__init__(f"{'ambiguous' if self.candidates else 'no'} account {ref!r}{hint}")


def find_account(res: Resolution, ref: str) -> str:
    """Account id for ``source/handle`` (case-insensitive handle) or a bare handle seen on one source only."""
    ref = ref.strip()
    if "/" in ref:
        source, handle = ref.split("/", 1)
        aid = account_id(source, handle)
        if aid in res.accounts:
            return aid
        raise UnknownAccount(ref, [a for a in res.accounts if a.split("/", 1)[1] == handle.strip().lower()])
    low = ref.lstrip("@").lower()
    hits = [a for a in res.accounts if a.split("/", 1)[1] == low]
    if len(hits) == 1:
        return hits[0]
    raise UnknownAccount(ref, hits)


@dataclass(frozen=True)
class LinkRow:
    """One link touching an actor: the evidence and confidence, and the analyst's decision on it."""

    a: str
    b: str
    strength: str  # strong | weak | decision (an analyst linked two accounts nothing else linked)
    confidence: float
    evidence: tuple[Evidence, ...]
    decision: str = ""  # "" | confirmed | split
    analyst: str = ""
    note: str = ""
    at: str = ""
    joins: bool = False  # the link is one of those that joined the actor (a split or overruled one is not)
    extra: dict[str, object] = field(default_factory=dict)


def link_rows(res: Resolution, actor: Actor, decisions: Iterable[Decision] = ()) -> list[LinkRow]:
    """Every link with an end in ``actor`` (joined, split, or weak and below a merge), strongest first."""
    mine = set(actor.accounts)
    joined = {l.pair for l in actor.links}
    by_pair = {(d.a, d.b): d for d in decisions}
    rows = []
    for link in res.links:
        if link.a not in mine and link.b not in mine:
            continue
        d = by_pair.get(link.pair)
        rows.append(LinkRow(link.pair[0], link.pair[1], link.strength, link.confidence, tuple(link.evidence),
                            d.verdict if d else link.decision, d.analyst if d else "", d.note if d else "",
                            d.at if d else "", link.pair in joined))
    rows.sort(key=lambda r: (not r.joins, r.strength != "strong", -r.confidence, r.a, r.b))
    return rows


def record_decision(decisions_file: str | Path, res: Resolution, a_ref: str, b_ref: str, verdict: str,
                    analyst: str, note: str = "") -> Decision:
    """Persist an analyst's ``confirm``/``split`` on two accounts of the store (it wins over the automatic link)."""
    v = VERDICTS.get(verdict.strip().lower())
    if v is None:
        raise ValueError(f"verdict must be confirm or split, not {verdict!r}")
    a, b = find_account(res, a_ref), find_account(res, b_ref)
    if not analyst.strip():
        raise ValueError("a decision names the analyst who made it")
    with DecisionStore(decisions_file) as ds:
        return ds.decide(a, b, v, analyst.strip()[:100], note.strip()[:1000])
