"""Identity resolution measured against the sandbox's ground truth, without a crawl.

The pages of a sandbox world at a simulated hour are turned into the items a spider
reads from them (``Listing``, ``VendorProfile``, ``Post``: the same fields the site
profiles select), spooled, and ingested by the real ``Ingestor`` (spaCy extraction, the
store's identifier sightings). Two hours give the two-crawl store a migration needs.
That takes seconds where two real crawls take minutes; the crawl path itself is
measured by ``python -m ops.bench identity_crawl``.

This is the composition root's business (it joins the sandbox and the product): the
product never imports the sandbox.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from narcwatch.crawler.models import Listing, Money, Post, PriceTier, VendorProfile
from narcwatch.crawler.spool import Spool
from narcwatch.index.identity import Resolution, WeakModel, load_accounts, resolve
from narcwatch.index.identity.evaluate import PairScore, pairwise, truth_persons
from narcwatch.ingest import Ingestor
from narcwatch.sandbox import World
from narcwatch.sandbox.truth import iter_truth

__all__ = ["IdentityScore", "build_truth_store", "score_identity", "truth_items"]

SOURCE_KINDS = {"velvet-market": "market", "nebula-market": "market", "taiga-market": "market",
                "dredge-forum": "forum", "telegram": "telegram", "lotus-chem": "shop"}


def _money(amount: Any, currency: Any) -> Money | None:
    try:
        return Money(amount=Decimal(str(amount)), currency=str(currency))
    except (InvalidOperation, ValueError, TypeError):
        return None


def _capture(rec: Mapping[str, Any], crawl_id: str) -> dict[str, str]:
    body = json.dumps(rec, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return {"capture_id": hashlib.sha256(f"{crawl_id}|{rec['url']}".encode()).hexdigest()[:32],
            "capture_sha256": hashlib.sha256(body).hexdigest()}


def truth_items(records: Iterable[Mapping[str, Any]], crawl_id: str,
                sources: Sequence[str] | None = None) -> Iterator[Listing | Post | VendorProfile]:
    """The items a spider would read from the pages the truth records describe."""
    for rec in records:
        kind, src, f = rec.get("kind"), rec.get("source"), rec.get("fields")
        if not isinstance(f, Mapping) or not isinstance(src, str) or (sources is not None and src not in sources):
            continue
        common = {"source": src, "url": str(rec["url"]), "site_id": str(rec.get("site_id") or "") or None,
                  "crawl_id": crawl_id, "seen_at": datetime.fromisoformat(str(rec["at"])), **_capture(rec, crawl_id)}
        if kind == "listing":
            cur = f.get("currency")
            tiers = [PriceTier(quantity=str(t["quantity"]), price=m) for t in f.get("tiers") or []
                     if (m := _money(t.get("price"), cur)) is not None]
            yield Listing(**common, title=str(f["title"]), vendor=f.get("vendor"), category=f.get("category"),
                          price=_money(f.get("price"), cur), tiers=tiers, ships_from=f.get("ships_from"),
                          ships_to=f.get("ships_to"), escrow="Yes" if f.get("escrow") else "No",
                          description=str(f.get("description") or ""), available=bool(f.get("available", True)))
        elif kind == "product":
            yield Listing(**common, title=str(f["title"]), vendor=f.get("vendor"),
                          price=_money(f.get("price"), f.get("currency")))
        elif kind == "vendor":
            yield VendorProfile(**common, handle=str(f["handle"]), pgp_key=f.get("pgp_key"), joined=f.get("joined"),
                                sales=f.get("sales") if isinstance(f.get("sales"), int) else None,
                                feedback=f.get("feedback"), description=str(f.get("about") or ""))
        elif kind in ("post", "message"):
            posted = f.get("posted_at")
            yield Post(**common, author=f.get("author"), thread=f.get("thread") or f.get("channel"),
                       title=f.get("title"), text=str(f.get("text") or ""),
                       posted_at=datetime.fromisoformat(posted) if isinstance(posted, str) else None)


def build_truth_store(world: World, store: Any, spool_path: Any, hours: Sequence[float] = (0.0, 150.0),
                      sources: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Ingest the world as seen at each of ``hours`` into ``store``; returns the truth at the last hour."""
    last: list[dict[str, Any]] = []
    with Spool(spool_path) as spool:
        for n, h in enumerate(hours):
            last = list(iter_truth(world, h))
            spool.put_many((item.key + f"@{n}", item.type, item.model_dump(mode="json"), item.source)
                           for item in truth_items(last, f"truth-{n}", sources))
            Ingestor(spool, store, source_kinds=SOURCE_KINDS).drain()
    return last


@dataclass(frozen=True)
class IdentityScore:
    strong_links: PairScore  # only the strong links themselves (issue target: precision 1.0)
    strong_only: PairScore  # actors from strong links (transitive)
    strong_weak: PairScore  # actors from strong and weak links
    accounts: int
    resolution: Resolution


def score_identity(store: Any, truth: Iterable[Mapping[str, Any]], model: WeakModel = WeakModel()) -> IdentityScore:
    """Pairwise precision and recall of the store's actors against the truth's persons."""
    accounts = load_accounts(store)
    persons = truth_persons(truth)
    strong = resolve(accounts, weak=False)
    both = resolve(accounts, model=model)
    return IdentityScore(pairwise({l.pair for l in both.links if l.strength == "strong"}, accounts, persons),
                         pairwise(strong.pairs(), accounts, persons), pairwise(both.pairs(), accounts, persons),
                         len(accounts), both)
