"""Pairwise precision and recall of a resolution against sandbox ground truth.

Truth: ``identity`` records (``narcwatch sandbox truth``) list each person's market
accounts; page records (listing, vendor, post, message, product) name the person behind
the vendor, author or channel owner they show, which covers forum announcements, the
Telegram channels (shown under the owner's handle) and the chemical shop. Accounts of the store that the
truth does not name (forum users, the chemical shop) are each their own person, so any
link to them is a false positive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from narcwatch.index.identity.accounts import account_id

__all__ = ["PairScore", "pairwise", "truth_persons"]

FORUM_SOURCE = "dredge-forum"


def truth_persons(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Account id -> person id from the truth's ``identity`` records."""
    out: dict[str, str] = {}
    for rec in records:
        if rec.get("kind") != "identity":
            fields = rec.get("fields")
            person = rec.get("person")
            if person and isinstance(fields, Mapping) and rec.get("source"):
                name = fields.get("vendor") or fields.get("handle") or fields.get("author")
                if isinstance(name, str) and name.strip():
                    out.setdefault(account_id(str(rec["source"]), name), str(person))
            continue
        person = str(rec["person"])
        handles = [str(acc["handle"]) for acc in rec.get("accounts") or []]
        for acc in rec.get("accounts") or []:
            out[account_id(str(acc["source"]), str(acc["handle"]))] = person
        if handles:  # signed announcements go out under the home handle (post records name no person)
            out[account_id(FORUM_SOURCE, handles[0])] = person
    return out


@dataclass(frozen=True)
class PairScore:
    true_positive: int
    false_positive: int
    false_negative: int
    false_pairs: tuple[tuple[str, str], ...] = ()
    missed_pairs: tuple[tuple[str, str], ...] = ()

    @property
    def precision(self) -> float:
        n = self.true_positive + self.false_positive
        return self.true_positive / n if n else 1.0

    @property
    def recall(self) -> float:
        n = self.true_positive + self.false_negative
        return self.true_positive / n if n else 1.0


def pairwise(predicted: set[tuple[str, str]], accounts: Iterable[str], truth: Mapping[str, str]) -> PairScore:
    """Compare predicted same-person pairs with the truth over ``accounts`` (those in the store)."""
    ids = sorted(set(accounts))
    person = {a: truth.get(a, f"unknown:{a}") for a in ids}
    gold = {(a, b) for a, b in combinations(ids, 2) if person[a] == person[b]}
    pred = {(min(a, b), max(a, b)) for a, b in predicted if a in person and b in person}
    return PairScore(len(pred & gold), len(pred - gold), len(gold - pred),
                     tuple(sorted(pred - gold)), tuple(sorted(gold - pred)))
