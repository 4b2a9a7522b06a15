"""The document a rule sees for a change event.

A rule filters on the *current listing* as much as on the change itself
(``class:nitazene AND ships_from:DE`` on a PRICE_CHANGED event), so the document is the
event's details merged over the listing document the store holds for the event's listing
key, plus derived change figures (``price_drop_pct``). The store implements
``DocumentLookup``; alerting never reads the store's tables directly.

Details keys that derived figures read (whichever are present):
``usd_per_unit_old``/``usd_per_unit_new``, ``usd_old``/``usd_new``,
``price_old``/``price_new`` (a number, or a ``{"amount", "currency"}`` mapping, or a
``"12.50 USD"`` string) with optional ``currency_old``/``currency_new``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from narcwatch.index.alerts.conditions import to_decimal
from narcwatch.index.models import ChangeEvent

__all__ = ["DictDocuments", "DocumentLookup", "derived_change", "event_document"]


@runtime_checkable
class DocumentLookup(Protocol):
    def document(self, listing_key: str) -> dict[str, Any] | None:
        """The current flat document of a listing (or post/vendor) key, None if unknown."""


class DictDocuments:
    """A ``DocumentLookup`` over an in-memory dict.

    Used as a test double and for dry-runs fed from files; production lookups come from
    the store.
    """

    def __init__(self, docs: Mapping[str, dict[str, Any]] | None = None):
        self.docs: dict[str, dict[str, Any]] = dict(docs or {})

    def document(self, listing_key: str) -> dict[str, Any] | None:
        return self.docs.get(listing_key)


def _amount(value: Any) -> tuple[Decimal | None, str | None]:
    if isinstance(value, Mapping):
        return to_decimal(value.get("amount")), (str(value.get("currency") or "").upper() or None)
    if isinstance(value, str) and " " in value.strip():
        num, _, cur = value.strip().partition(" ")
        return to_decimal(num), cur.strip().upper() or None
    return to_decimal(value), None


def _pct(old: Decimal, new: Decimal) -> Decimal | None:
    if old <= 0:
        return None
    return ((new - old) / old * 100).quantize(Decimal("0.01"))


def derived_change(details: Mapping[str, Any]) -> dict[str, Any]:
    """``price_change_pct`` (signed), ``price_drop_pct`` and ``price_rise_pct`` (>= 0).

    USD per unit is preferred (it survives a currency switch), then USD, then the
    displayed price when both sides are in the same currency.
    """
    out: dict[str, Any] = {}
    for old_key, new_key in (("usd_per_unit_old", "usd_per_unit_new"), ("usd_old", "usd_new"),
                             ("price_old", "price_new")):
        if old_key not in details or new_key not in details:
            continue
        old, cur_old = _amount(details[old_key])
        new, cur_new = _amount(details[new_key])
        cur_old = cur_old or (str(details.get("currency_old") or "").upper() or None)
        cur_new = cur_new or (str(details.get("currency_new") or "").upper() or None)
        if old is None or new is None or (old_key == "price_old" and cur_old != cur_new):
            continue
        pct = _pct(old, new)
        if pct is None:
            continue
        out["price_change_pct"] = pct
        out["price_drop_pct"] = max(-pct, Decimal(0))
        out["price_rise_pct"] = max(pct, Decimal(0))
        break
    return out


def event_document(event: ChangeEvent, lookup: DocumentLookup | None) -> dict[str, Any]:
    """Listing document, overlaid by event fields, details and derived change figures."""
    doc: dict[str, Any] = {}
    if lookup is not None and event.listing_key:
        found = lookup.document(event.listing_key)
        if isinstance(found, Mapping):
            doc.update(found)
    doc.update({k: v for k, v in event.details.items() if v is not None})
    doc.update(derived_change(event.details))
    doc["event_type"] = event.type.value
    doc["event_id"] = event.id
    doc.setdefault("source", event.source)
    doc.setdefault("market", event.source)
    if event.vendor:
        doc.setdefault("vendor", event.vendor)
    if event.listing_key:
        doc.setdefault("listing_key", event.listing_key)
    doc.setdefault("capture_id", event.capture_id)
    doc.setdefault("capture_sha256", event.capture_sha256)
    return doc
