"""Facts to export: one row per (actor, account, identifier) with its provenance.

Every exporter (STIX, MISP, CSV) renders the same rows, so the three formats say the
same thing. A fact keeps the capture it was first seen in (capture id + sha256).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from narcwatch.index.identity import Resolution

__all__ = ["COLUMNS", "Fact", "facts_for"]

#: CSV columns, in order: actor_id (deterministic actor id), actor_name (earliest account's
#: handle), source (market/forum/channel id), handle (the account), kind (``account``,
#: ``pgp_fingerprint``, ``wallet:BTC``, ``telegram``, ``email``, ``onion``, ...), value,
#: first_seen / last_seen (ISO 8601 UTC), listing_key (the page it was seen on), capture_id
#: and capture_sha256 (the evidence record), substances and classes (the account's product
#: line, ``;``-separated).
COLUMNS = ("actor_id", "actor_name", "source", "handle", "kind", "value", "first_seen", "last_seen",
           "listing_key", "capture_id", "capture_sha256", "substances", "classes")


@dataclass(frozen=True)
class Fact:
    actor_id: str
    actor_name: str
    source: str
    handle: str
    kind: str
    value: str
    first_seen: str
    last_seen: str
    listing_key: str
    capture_id: str
    capture_sha256: str
    substances: str
    classes: str

    def row(self) -> dict[str, str]:
        return asdict(self)


def facts_for(res: Resolution, actor_ids: Iterable[str] | None = None,
              listing_keys: set[str] | None = None) -> list[Fact]:
    """Facts of the chosen actors (all when None); ``listing_keys`` narrows identifiers to those pages."""
    wanted = set(actor_ids) if actor_ids is not None else None
    out: list[Fact] = []
    for actor in res.actors:
        if wanted is not None and actor.id not in wanted:
            continue
        for aid in actor.accounts:
            acc = res.accounts[aid]
            subs = ";".join(sorted(acc.substances))
            classes = ";".join(sorted(acc.classes))
            out.append(Fact(actor.id, actor.name, acc.source, acc.handle, "account", acc.handle, acc.first_seen,
                            acc.last_seen, "", acc.capture_id, acc.capture_sha256, subs, classes))
            for (kind, value), sightings in sorted(acc.identifiers.items()):
                for s in sightings:
                    if listing_keys is not None and s.key not in listing_keys:
                        continue
                    out.append(Fact(actor.id, actor.name, acc.source, acc.handle, kind, value, s.first_seen,
                                    s.last_seen, s.key, s.capture_id, s.capture_sha256, subs, classes))
                    break  # the first sighting is the provenance; the rest repeat it
    return out
