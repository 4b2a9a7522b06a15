"""The document a rule sees for a change event.

A rule filters on the *current listing* as much as on the change itself
(``class:nitazene AND ships_from:DE`` on a PRICE_CHANGED event), so the document is the
store's event document (``narcwatch.index.documents.event_document``: the listing's flat
document, ``event``, ``event_at``, ``details``), with the details also laid flat (the
listing's own fields win) and derived change figures added for conditions. The store is
reached only through ``DocumentLookup``; ``StoreDocuments`` adapts a ``Store``.

Derived figures (see ``derived_change``): ``price_change_pct`` (signed),
``price_drop_pct`` and ``price_rise_pct`` (>= 0), from USD per gram, else USD per unit,
else the displayed price when both sides are in the same currency. Every
``old_X``/``new_X`` detail is also available as ``X_old``/``X_new``
(``usd_per_unit_new < 20``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from narcwatch.index.alerts.conditions import to_decimal
from narcwatch.index.documents import event_document as store_event_document
from narcwatch.index.models import ChangeEvent

__all__ = ["DictDocuments", "DocumentLookup", "StoreDocuments", "derived_change", "event_document"]


@runtime_checkable
class DocumentLookup(Protocol):
    def document(self, listing_key: str) -> dict[str, Any] | None:
        """The current flat document of a listing (or post) key, None if unknown."""


class DictDocuments:
    """A ``DocumentLookup`` over an in-memory dict: a test double, and the lookup for
    dry-runs fed from an events file."""

    def __init__(self, docs: Mapping[str, dict[str, Any]] | None = None):
        self.docs: dict[str, dict[str, Any]] = dict(docs or {})

    def document(self, listing_key: str) -> dict[str, Any] | None:
        return self.docs.get(listing_key)


class StoreDocuments:
    """``DocumentLookup`` over a ``Store``: its ``document(key)`` when the backend has one,
    else the ``current`` document of ``listing(key)``."""

    def __init__(self, store: Any):
        self.store = store

    def document(self, listing_key: str) -> dict[str, Any] | None:
        direct = getattr(self.store, "document", None)
        if callable(direct):
            found = direct(listing_key)
            return dict(found) if isinstance(found, Mapping) else None
        history = self.store.listing(listing_key)
        current = getattr(history, "current", None)
        return dict(current) if isinstance(current, Mapping) else None


def _amount(value: Any) -> tuple[Decimal | None, str | None]:
    if isinstance(value, Mapping):
        return to_decimal(value.get("amount")), (str(value.get("currency") or "").upper() or None)
    if isinstance(value, str) and " " in value.strip():
        num, _, cur = value.strip().partition(" ")
        return to_decimal(num), cur.strip().upper() or None
    return to_decimal(value), None


def _pct(old: Decimal, new: Decimal) -> Decimal | None:
    if old <= 0 or new < 0:
        return None
    return ((new - old) / old * 100).quantize(Decimal("0.01"))


_PAIRS = ("usd_per_gram", "usd_per_unit", "usd", "price_usd", "price")


def derived_change(details: Mapping[str, Any]) -> dict[str, Any]:
    """Percent change of the price between the old and new values in ``details``."""
    flat = dict(details)
    for k, v in details.items():  # old_price -> price_old
        if isinstance(k, str) and k[:4] in ("old_", "new_"):
            flat.setdefault(f"{k[4:]}_{k[:3]}", v)
    out: dict[str, Any] = {}
    for name in _PAIRS:
        if f"{name}_old" not in flat or f"{name}_new" not in flat:
            continue
        old, cur_old = _amount(flat[f"{name}_old"])
        new, cur_new = _amount(flat[f"{name}_new"])
        if name == "price":
            cur_old = cur_old or (str(flat.get("currency_old") or "").upper() or None)
            cur_new = cur_new or (str(flat.get("currency_new") or "").upper() or None)
            if cur_old != cur_new:
                continue
        if old is None or new is None:
            continue
        pct = _pct(old, new)
        if pct is None:
            continue
        out["price_change_pct"] = pct
        out["price_drop_pct"] = max(-pct, Decimal(0))
        out["price_rise_pct"] = max(pct, Decimal(0))
        out["price_change_basis"] = name
        break
    return out


def event_document(event: ChangeEvent, lookup: DocumentLookup | None) -> dict[str, Any]:
    """Listing document + event fields + flat details + derived change figures."""
    listing = lookup.document(event.listing_key) if lookup is not None and event.listing_key else None
    doc = store_event_document(event, listing if isinstance(listing, Mapping) else None)
    for k, v in event.details.items():
        if v is None or not isinstance(k, str):
            continue
        doc.setdefault(k, v)
        if k[:4] in ("old_", "new_"):
            doc.setdefault(f"{k[4:]}_{k[:3]}", v)
    doc.update(derived_change(event.details))
    doc["event_type"] = event.type.value
    doc["event_id"] = event.id
    doc["listing_key"] = event.listing_key or doc.get("key")
    doc.setdefault("market", doc.get("source") or event.source)
    if not doc.get("capture_id"):
        doc["capture_id"], doc["capture_sha256"] = event.capture_id, event.capture_sha256
    return doc
