"""Adapt any ``Store`` to the dashboard's ``DashboardReader``.

A store that implements the reader methods itself is used as it is. A store that only
has the base ``Store`` protocol still gets a working search page: its ``search()``
result is read tolerantly (mapping or attributes, the flat listing document of
``narcwatch.index.fields``); the views it cannot answer raise ``NotAvailable`` and the
page says so instead of crashing.

The last crawl of a source comes from the store when it knows it, else from the
crawler's status file ``<data>/jobs/<source>.status.json``::

    {"last_crawl_at": "2026-01-05T10:00:00+00:00", "finished": true, "items": 120,
     "errors": ["HTTP 503 on /page/4", "..."]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from narcwatch.crawler.models import Money
from narcwatch.dashboards.views import (
    CrawlStatus,
    DashboardReader,
    FacetValue,
    Hit,
    ListingView,
    NotAvailable,
    SearchPage,
    Trends,
    VendorView,
)
from narcwatch.index.models import Alert, AlertStatus

__all__ = ["StoreReader", "as_reader", "read_crawl_status"]

_MAX_STATUS_BYTES = 256 * 1024


def as_reader(store: Any, data_dir: Path) -> DashboardReader:
    """The store itself if it is a reader; the index adapter for index stores; else the
    tolerant base-protocol adapter."""
    if isinstance(store, DashboardReader):
        return store
    if all(callable(getattr(store, m, None)) for m in ("search", "listing", "vendor", "trends")):
        from narcwatch.dashboards.index_reader import IndexReader

        return IndexReader(store, data_dir)
    return StoreReader(store, data_dir)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _decimal(v: Any) -> Decimal | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        d = Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _strings(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    try:
        return tuple(str(x) for x in v)
    except TypeError:
        return (str(v),)


def _datetime(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(v)
        except ValueError:
            return None
    return None


def hit_from_document(doc: Any) -> Hit:
    """A result row from a flat listing document (dict or object); never raises."""
    price = _get(doc, "price")
    money: Money | None = None
    if isinstance(price, Money):
        money = price
    else:
        amount, currency = _decimal(price), _get(doc, "currency")
        if amount is not None and isinstance(currency, str) and 2 <= len(currency) <= 10:
            money = Money(amount=amount, currency=currency)
    return Hit(
        key=str(_get(doc, "key", "") or ""),
        title=str(_get(doc, "title", "") or ""),
        source=str(_get(doc, "source", "") or ""),
        vendor=(str(v) if (v := _get(doc, "vendor")) else None),
        kind=str(_get(doc, "type", "listing") or "listing"),
        price=money,
        usd_per_gram=_decimal(_get(doc, "usd_per_gram")),
        classes=_strings(_get(doc, "classes")),
        substances=_strings(_get(doc, "substances")),
        ships_from=_strings(_get(doc, "ships_from")),
        last_seen=_datetime(_get(doc, "last_seen")),
    )


def _facets(raw: Any) -> dict[str, list[FacetValue]]:
    out: dict[str, list[FacetValue]] = {}
    if not isinstance(raw, Mapping):
        return out
    for name, values in raw.items():
        rows: list[FacetValue] = []
        items = values.items() if isinstance(values, Mapping) else values
        for item in items or ():
            try:
                value, count = (item.value, item.count) if isinstance(item, FacetValue) else item
                rows.append(FacetValue(str(value), int(count)))
            except (TypeError, ValueError):
                continue
        out[str(name)] = rows
    return out


def read_crawl_status(data_dir: Path, source: str) -> CrawlStatus | None:
    """The crawler's status file for ``source``, or None when absent or unreadable."""
    path = data_dir / "jobs" / f"{source}.status.json"
    try:
        if path.stat().st_size > _MAX_STATUS_BYTES:
            return CrawlStatus(errors=("status file too large to read",))
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    errors = raw.get("errors") or []
    return CrawlStatus(
        last_crawl_at=_datetime(raw.get("last_crawl_at")),
        finished=bool(raw.get("finished", False)),
        items=int(raw["items"]) if isinstance(raw.get("items"), int) else 0,
        errors=tuple(str(e)[:500] for e in errors[:50]) if isinstance(errors, list) else (),
    )


class StoreReader:
    """A ``DashboardReader`` over a store that only implements the base ``Store``."""

    def __init__(self, store: Any, data_dir: Path):
        self.store = store
        self.data_dir = data_dir

    def search_page(self, query: str, *, limit: int = 20, offset: int = 0, sort: str | None = None,
                    facets: Sequence[str] = ()) -> SearchPage:
        result = self.store.search(query, limit=limit, offset=offset, sort=sort)
        hits = _get(result, "hits", result if isinstance(result, list) else [])
        total = _get(result, "total", None)
        return SearchPage(
            query=query,
            total=int(total) if isinstance(total, int) else len(hits),
            hits=[hit_from_document(h) for h in hits],
            facets=_facets(_get(result, "facets")),
            offset=offset,
            limit=limit,
        )

    def _missing(self, what: str) -> NotAvailable:
        return NotAvailable(f"the configured store ({type(self.store).__name__}) does not provide {what} yet")

    def listing_view(self, key: str) -> ListingView | None:
        raise self._missing("listing histories")

    def vendor_view(self, handle: str) -> VendorView | None:
        raise self._missing("vendor histories")

    def alert_list(self, status: AlertStatus | None = None, limit: int = 200) -> list[Alert]:
        raise self._missing("the alert list")

    def set_alert_status(self, alert_id: str, status: AlertStatus, by: str) -> Alert | None:
        raise self._missing("alert acknowledgement")

    def trends(self, weeks: int = 12) -> Trends:
        raise self._missing("trends")

    def crawl_status(self, source: str) -> CrawlStatus | None:
        return read_crawl_status(self.data_dir, source)
