"""MISP events built with ``pymisp``, MISP's standard types and object templates.

Mapping: BTC/XMR wallets -> ``btc``/``xmr`` attributes; other chains -> a ``coin-address``
object (``address``, ``symbol``); a PGP fingerprint -> ``text`` attribute commented
``PGP fingerprint`` (MISP's ``pgp-public-key`` holds a whole key block, which the store
does not keep); onion -> ``domain``; email -> ``email-src``; Telegram -> a
``telegram-account`` object (``username``); other messenger IDs and handles -> ``text``
with a comment naming the kind and source. Each attribute keeps its provenance in the
comment (source, capture id, sha256) and ``first_seen``/``last_seen``. Substance classes
become tags under the ``narcwatch:substance-class=`` taxonomy prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pymisp import MISPEvent, MISPObject

from narcwatch.index.exports.facts import Fact

__all__ = ["TAG_PREFIX", "to_misp"]

TAG_PREFIX = "narcwatch:substance-class"


def _ts(s: str) -> datetime | None:
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _prov(f: Fact) -> str:
    where = f" page {f.listing_key}" if f.listing_key else ""
    return f"{f.kind} of {f.source}/{f.handle}{where}; capture {f.capture_id} sha256 {f.capture_sha256}"


def to_misp(facts: Sequence[Fact], info: str = "narcwatch vendor intelligence",
            date: datetime | None = None) -> MISPEvent:
    ev = MISPEvent()
    ev.info = info
    ev.distribution = 0  # your organisation only: the analyst decides to share
    ev.threat_level_id = 2
    ev.analysis = 1
    ev.set_date((date or datetime.now(UTC)).date())
    classes: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for f in facts:
        classes.update(c for c in f.classes.split(";") if c)
        key = (f.kind, f.value)
        if key in seen and f.kind != "account":
            continue
        seen.add(key)
        when = {k: v for k, v in (("first_seen", _ts(f.first_seen)), ("last_seen", _ts(f.last_seen))) if v}
        chain = f.kind.split(":", 1)[1].upper() if f.kind.startswith("wallet:") else ""
        if chain in ("BTC", "XMR"):
            ev.add_attribute(chain.lower(), f.value, comment=_prov(f), to_ids=True, **when)
        elif chain:
            obj = MISPObject("coin-address")
            obj.add_attribute("address", value=f.value, comment=_prov(f), **when)
            obj.add_attribute("symbol", value="USDT" if chain == "TRX" else chain)
            obj.comment = f"actor {f.actor_id}"
            ev.add_object(obj)
        elif f.kind == "telegram":
            obj = MISPObject("telegram-account")
            obj.add_attribute("username", value=f.value.lstrip("@"), comment=_prov(f), **when)
            obj.comment = f"actor {f.actor_id}"
            ev.add_object(obj)
        elif f.kind == "onion":
            ev.add_attribute("domain", f.value, comment=_prov(f), **when)
        elif f.kind == "email":
            ev.add_attribute("email-src", f.value, comment=_prov(f), to_ids=True, **when)
        elif f.kind in ("pgp_fingerprint", "pgp_key"):
            ev.add_attribute("text", f.value, comment="PGP fingerprint; " + _prov(f), **when)
        else:
            label = "handle" if f.kind == "account" else f.kind
            ev.add_attribute("text", f.value, comment=f"{label} (actor {f.actor_id}); " + _prov(f), **when)
    for c in sorted(classes):
        ev.add_tag(f'{TAG_PREFIX}="{c}"')
    return ev
