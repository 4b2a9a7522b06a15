"""Actors: clusters of accounts joined by links (union-find), analyst decisions first.

Order of authority: a *split* decision removes the automatic link between its pair and
keeps the two accounts in different actors (a cannot-link); a *confirmed* decision
joins its pair; then strong links, then weak links above the threshold, each merge
refused if it would put a split pair into one actor. The actor id is derived from the
smallest account id in the cluster, so it is stable across runs while that account
stays in the actor.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from narcwatch.index.identity.accounts import Account
from narcwatch.index.identity.decisions import Decision
from narcwatch.index.identity.links import Evidence, Link, WeakModel, strong_links, weak_links

__all__ = ["Actor", "Resolution", "actor_id", "resolve"]


def actor_id(account_ids: list[str]) -> str:
    return "actor--" + hashlib.sha256(min(account_ids).encode("utf-8")).hexdigest()[:16]


@dataclass
class Actor:
    id: str
    accounts: list[str]
    links: list[Link] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The handle of the earliest-listed account (``source/handle`` ids sort by source)."""
        return self.accounts[0].split("/", 1)[1]


@dataclass
class Resolution:
    accounts: dict[str, Account]
    actors: list[Actor]
    links: list[Link]  # every link considered, with decisions applied
    actor_of: dict[str, str]  # account id -> actor id

    def actor(self, ref: str) -> Actor | None:
        """Find an actor by id, account id (``source/handle``) or bare handle (any source)."""
        ref = ref.strip()
        by_id = {a.id: a for a in self.actors}
        if ref in by_id:
            return by_id[ref]
        low = ref.lower()
        if low in self.actor_of:
            return by_id[self.actor_of[low]]
        for aid in sorted(self.actor_of):
            if aid.split("/", 1)[1] == low.lstrip("@"):
                return by_id[self.actor_of[aid]]
        return None

    def pairs(self, strengths: tuple[str, ...] = ("strong", "weak", "confirmed")) -> set[tuple[str, str]]:
        """Same-actor account pairs (for pairwise evaluation)."""
        out: set[tuple[str, str]] = set()
        for actor in self.actors:
            acc = sorted(actor.accounts)
            out.update((x, y) for i, x in enumerate(acc) for y in acc[i + 1:])
        return out


class _UnionFind:
    def __init__(self, items: list[str]):
        self.parent = {x: x for x in items}
        self.members = {x: {x} for x in items}

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str, cannot: dict[str, set[str]]) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ma, mb = self.members[ra], self.members[rb]
        small, big = (ma, mb) if len(ma) < len(mb) else (mb, ma)
        if any(cannot.get(x, set()) & big for x in small):
            return False
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] |= self.members.pop(rb)
        return True


def resolve(accounts: dict[str, Account], decisions: list[Decision] = (), *, weak: bool = True,
            model: WeakModel = WeakModel(), max_shared: int = 4) -> Resolution:
    """Cluster ``accounts`` into actors; ``weak=False`` uses strong links only."""
    links = {l.pair: l for l in strong_links(accounts, max_shared=max_shared)}
    if weak:
        for l in weak_links(accounts, model):
            links.setdefault(l.pair, l)
    cannot: dict[str, set[str]] = defaultdict(set)
    for d in decisions:
        if d.a not in accounts or d.b not in accounts:
            continue
        link = links.get((d.a, d.b))
        if link is None:
            link = links[(d.a, d.b)] = Link(d.a, d.b, "decision", 1.0,
                                            [Evidence("analyst", f"{d.analyst}: {d.note}".strip(": "), 1.0)])
        link.decision = d.verdict
        link.confidence = 1.0 if d.verdict == "confirmed" else 0.0
        if d.verdict == "split":
            cannot[d.a].add(d.b)
            cannot[d.b].add(d.a)
    uf = _UnionFind(sorted(accounts))
    order = sorted(links.values(), key=lambda l: (l.decision != "confirmed", l.strength != "strong",
                                                  -l.confidence, l.pair))
    used: list[Link] = []
    for link in order:
        if link.decision == "split":
            continue
        if uf.union(link.a, link.b, cannot):
            used.append(link)
    clusters: dict[str, list[str]] = defaultdict(list)
    for aid in sorted(accounts):
        clusters[uf.find(aid)].append(aid)
    actors = []
    actor_of: dict[str, str] = {}
    for members in clusters.values():
        aid = actor_id(members)
        ms = set(members)
        actors.append(Actor(aid, sorted(members), [l for l in used if l.a in ms]))
        for m in members:
            actor_of[m] = aid
    actors.sort(key=lambda a: (-len(a.accounts), a.id))
    return Resolution(accounts, actors, sorted(links.values(), key=lambda l: l.pair), actor_of)
