"""STIX 2.1 bundles built with ``stix2``: actors, accounts, identifiers, provenance.

Mapping: an actor is a ``threat-actor`` (aliases: its handles); each account is a
``user-account`` SCO (``account_type`` = the source); identifiers are ``email-addr``,
``domain-name`` (onion), ``user-account`` (Telegram/Wickr/Session handles with that
``account_type``) and, where STIX 2.1 has no type, two custom SCOs: ``x-narcwatch-wallet``
(``chain``, ``address``) and ``x-narcwatch-pgp-key`` (``fingerprint``). Each account's
observables hang on an ``observed-data`` (first/last seen) and a ``note`` carries the
provenance (source, capture id, sha256) of every fact. Only the custom SCOs need
``allow_custom``; everything else is validated by ``stix2``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import stix2
from stix2 import CustomObservable
from stix2.properties import StringProperty

from narcwatch.index.exports.facts import Fact

__all__ = ["to_stix"]

_NS = "8e2b1c55-2b9d-4c1e-9a0a-6a1d3b2f7c11"  # UUIDv5 namespace: deterministic SCO ids


@CustomObservable("x-narcwatch-wallet", [("chain", StringProperty(required=True)),
                                         ("address", StringProperty(required=True))], ["chain", "address"])
class Wallet:
    pass


@CustomObservable("x-narcwatch-pgp-key", [("fingerprint", StringProperty(required=True))], ["fingerprint"])
class PgpKey:
    pass


def _ts(s: str) -> datetime | None:
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _observable(f: Fact) -> object | None:
    kind, value = f.kind, f.value
    if kind == "account":
        return stix2.UserAccount(user_id=f"{f.source}/{value}", account_login=value, display_name=value,
                                 account_type=f.source)
    if kind.startswith("wallet"):
        chain = kind.split(":", 1)[1] if ":" in kind else ""
        return Wallet(chain=chain, address=value)
    if kind in ("pgp_fingerprint", "pgp_key"):
        return PgpKey(fingerprint=value)
    if kind == "email":
        return stix2.EmailAddress(value=value)
    if kind == "onion":
        return stix2.DomainName(value=value)
    if kind in ("telegram", "wickr", "session", "threema", "signal", "xmpp", "wire", "phone"):
        return stix2.UserAccount(user_id=value, account_login=value, account_type=kind)
    return None


def to_stix(facts: Sequence[Fact], *, created: datetime | None = None) -> stix2.Bundle:
    """One bundle for ``facts``; deterministic ids for SCOs (UUIDv5 of their values)."""
    now = created or datetime.now(UTC)
    by_actor: dict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        by_actor[f.actor_id].append(f)
    objects: list[object] = []
    seen_sco: set[str] = set()
    for actor_id, rows in sorted(by_actor.items()):
        handles = sorted({r.handle for r in rows})
        firsts = [d for d in (_ts(r.first_seen) for r in rows) if d]
        lasts = [d for d in (_ts(r.last_seen) for r in rows) if d]
        ta = stix2.ThreatActor(name=rows[0].actor_name, aliases=handles, threat_actor_types=["criminal"],
                               description=f"narcwatch actor {actor_id}: {len(handles)} account(s)",
                               first_seen=min(firsts) if firsts else None,
                               last_seen=max(lasts) if lasts else None, created=now, modified=now,
                               external_references=[{"source_name": "narcwatch", "external_id": actor_id}])
        objects.append(ta)
        by_account: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        for r in rows:
            by_account[(r.source, r.handle)].append(r)
        for (source, handle), arows in sorted(by_account.items()):
            scos = []
            for r in arows:
                sco = _observable(r)
                if sco is None:
                    continue
                scos.append(sco)
                if sco.id not in seen_sco:
                    seen_sco.add(sco.id)
                    objects.append(sco)
            if not scos:
                continue
            first = min((d for d in (_ts(r.first_seen) for r in arows) if d), default=now)
            last = max((d for d in (_ts(r.last_seen) for r in arows) if d), default=first)
            custom = any(s.type.startswith("x-") for s in scos)  # a ref to a custom SCO needs allow_custom
            od = stix2.ObservedData(first_observed=first, last_observed=max(first, last), number_observed=1,
                                    object_refs=[s.id for s in scos], created=now, modified=now,
                                    allow_custom=custom)
            objects.append(od)
            objects.append(stix2.Relationship(ta, "related-to", od, created=now, modified=now))
            provenance = [{"source": r.source, "kind": r.kind, "value": r.value, "listing_key": r.listing_key,
                           "first_seen": r.first_seen, "capture_id": r.capture_id,
                           "capture_sha256": r.capture_sha256} for r in arows]
            objects.append(stix2.Note(abstract=f"provenance of {source}/{handle}",
                                      content=json.dumps(provenance, ensure_ascii=False, sort_keys=True),
                                      object_refs=[od.id, ta.id], created=now, modified=now))
    return stix2.Bundle(objects=objects, allow_custom=True)
