"""Ground truth: what every page of the sandbox really contains at a simulated hour.

One JSON object per line. ``kind`` is ``source`` (is it up, has it exited), ``identity``
(a person and all their accounts, keys, wallets and contacts: which accounts are the
same person), ``listing``, ``vendor``, ``thread``/``post``, ``message`` or ``product``.
Page records carry ``source``, ``url``, ``path``, ``site_id``, ``fields`` and the facts an
extractor should find: ``substances`` (canonical, class, surface text incl. evasion),
``offers``, ``wallets`` (checksum-valid), ``decoys`` (look-alikes that are not),
``identifiers`` and ``cas``.

The crawler and the extractors never read this; tests compare their output with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from narcwatch.sandbox.clock import Clock, at
from narcwatch.sandbox.faults import FaultConfig, FaultEngine
from narcwatch.sandbox.sites import SITE_CLASSES
from narcwatch.sandbox.sites._base import Site, hostile_payload
from narcwatch.sandbox.world import World

__all__ = ["build_sites", "identity_records", "iter_truth", "write_truth"]

DEFAULT_PORT = 8600


def build_sites(world: World, faults: FaultConfig | None = None, port: int = DEFAULT_PORT) -> list[Site]:
    """The sites with the base URLs ``narcwatch sandbox serve --port PORT`` would give them."""
    engine = FaultEngine(faults or FaultConfig())
    clock = Clock()
    sites = [cls(world, clock, engine) for cls in SITE_CLASSES]
    i = 0
    for s in sites:
        if s.network == "tor":
            s.host = world.markets[s.id].onion if s.id in world.markets else world.forum_onion
        else:
            s.host = f"127.0.0.1:{port + i}"
            i += 1
        s.base_url = f"http://{s.host}/"
    return sites


def identity_records(world: World, hours: float) -> Iterator[dict[str, object]]:
    """One record per person: the generated ones, then the identity cast (labelled with its
    ``case``: ``style-only`` or ``look-alike``, and for a look-alike the other person)."""
    for p in world.all_persons:
        accounts = [{"source": a.market, "handle": a.handle, "account": a.id, "via": a.via or "home",
                     "active_from": None if a.active_from == float("-inf") else a.active_from,
                     "active_until": None if a.active_until == float("inf") else a.active_until,
                     "active": a.active(hours)} for a in p.accounts]
        fprs = sorted({world.pgp_of(a).fingerprint for a in p.accounts})
        personas = list({id(q): q for q in (world.persona_of(a) for a in p.accounts)}.values()) or [p]
        rec: dict[str, object] = {
            "kind": "identity", "person": p.id, "accounts": accounts, "pgp_fingerprints": fprs,
            "wallets": [{"chain": w.chain, "network": w.network, "address": w.address, "kind": w.kind}
                        for q in personas for w in q.wallets.values()],
            "contacts": [{"kind": k, "value": v} for q in personas for k, v in sorted(q.contacts.items())],
            "telegram_channel": p.channel}
        case = world.cast.case.get(p.index)
        if case:
            rec["case"] = case
            if p.index in world.cast.lookalike_of:
                rec["lookalike_of"] = f"p{world.cast.lookalike_of[p.index]}"
        yield rec


def iter_truth(world: World, hours: float, sites: Iterable[Site] | None = None,
               faults: FaultConfig | None = None) -> Iterator[dict[str, object]]:
    sites = list(sites) if sites is not None else build_sites(world, faults)
    stamp = {"at_hours": hours, "at": at(hours).isoformat()}
    for s in sites:
        m = world.markets.get(s.id)
        yield {"kind": "source", "source": s.id, "name": s.name, "source_kind": s.kind, "network": s.network,
               "base_url": s.base_url, "profile": s.profile, "language": s.language,
               "up": m.up(hours) if m else True, "exited": bool(m and hours >= m.exit_at), **stamp}
    for rec in identity_records(world, hours):
        yield {**rec, **stamp}
    share = faults.hostile_share if faults else 0.0
    for s in sites:
        for rec in s.truth(hours):
            url = str(rec["url"])
            rec["path"] = url[len(s.base_url) - 1:] if url.startswith(s.base_url) else url
            if share and rec.get("kind") == "listing" and s.hostile(f"{s.id}:{rec['site_id']}"):
                rec["hostile"] = [hostile_payload(world.seed, f"{s.id}:{rec['site_id']}")]
            rec.update(stamp)
            yield rec


def write_truth(out: IO[str] | Path | str, world: World, hours: float = 0.0, faults: FaultConfig | None = None,
                port: int = DEFAULT_PORT) -> int:
    """Write the JSONL ground truth; returns the number of records."""
    if isinstance(out, (str, Path)):
        with open(out, "w", encoding="utf-8") as fh:
            return write_truth(fh, world, hours, faults, port)
    n = 0
    for rec in iter_truth(world, hours, build_sites(world, faults, port), faults):
        out.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
    return n
