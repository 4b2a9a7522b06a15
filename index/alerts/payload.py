"""What an alert carries: everything an analyst needs to act without opening the store.

``item_from_document`` reduces one event document to the facts that matter (listing or
message title and URL, substance and class, offer and USD per unit, vendor and market,
the change, the capture to show in court); ``render_text`` is the plain-text form used by
email, chat and the console. Store documents vary in naming, so several common keys are
accepted for each fact; missing facts are simply absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from narcwatch.index.alerts.conditions import to_decimal

__all__ = ["capture_link", "item_from_document", "render_subject", "render_text"]

_MAX_TEXT = 300


def _first(doc: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        v = doc.get(k)
        if v not in (None, "", [], {}):
            return v
    return None


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v[:_MAX_TEXT * 4] if isinstance(v, str) else v
    return str(v)


def _substances(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    raw = _first(doc, "substances", "substance")
    classes = _first(doc, "classes", "class")
    out: list[dict[str, str]] = []
    for s in raw if isinstance(raw, list) else ([raw] if raw else []):
        if isinstance(s, Mapping):
            name = s.get("canonical") or s.get("name") or s.get("text")
            cls = s.get("class") or s.get("cls")
            if name:
                out.append({"name": str(name), **({"class": str(cls)} if cls else {})})
        else:
            out.append({"name": str(s)})
    cls_list = classes if isinstance(classes, list) else ([classes] if classes else [])
    if len(out) == 1 and "class" not in out[0] and len(cls_list) == 1:
        out[0]["class"] = str(cls_list[0])
    return out


def _money2(v: Any) -> str | None:
    """Display form of an amount: two decimals (stored values keep full precision)."""
    d = to_decimal(v)
    if d is None:
        return None
    return str(d.quantize(Decimal("0.01"))) if abs(d) < Decimal("1e15") else str(d)


def _offer(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Price as displayed (amount + currency), its USD value, USD per gram / per unit."""
    offers = doc.get("offers")
    first = offers[0] if isinstance(offers, list) and offers and isinstance(offers[0], Mapping) else {}
    out: dict[str, Any] = {
        "price": _money2(_first(doc, "price", "new_price") or first.get("price")),
        "currency": _first(doc, "currency", "new_currency") or first.get("currency"),
        "usd": _money2(_first(doc, "price_usd", "usd") or first.get("usd")),
        "usd_per_gram": _money2(_first(doc, "usd_per_gram", "new_usd_per_gram")),
        "usd_per_unit": _money2(_first(doc, "usd_per_unit", "new_usd_per_unit") or first.get("usd_per_unit")),
        "quantity": _jsonable(first.get("quantity")),
        "unit": first.get("unit"),
    }
    return {k: v for k, v in out.items() if v not in (None, "")}


def capture_link(capture_id: str, sha256: str, base_url: str | None = None) -> dict[str, str]:
    """Where the evidence is: id + sha256, and a dashboard URL when one is configured."""
    link = {"id": capture_id, "sha256": sha256}
    if capture_id:
        link["cli"] = f"narcwatch evidence show {capture_id}"
        if base_url:
            link["url"] = f"{base_url.rstrip('/')}/evidence/{capture_id}"
    return link


def item_from_document(doc: Mapping[str, Any], base_url: str | None = None) -> dict[str, Any]:
    """The analyst-facing facts of one matched event document."""
    item: dict[str, Any] = {
        "event_id": doc.get("event_id"),
        "event_type": doc.get("event_type"),
        "listing_key": doc.get("listing_key") or doc.get("key"),
        "title": _first(doc, "title", "text", "value"),
        "url": doc.get("url"),
        "vendor": _first(doc, "vendor", "author", "handle"),
        "market": _first(doc, "market", "source"),
        "ships_from": doc.get("ships_from"),
        "substances": _substances(doc),
        "offer": _offer(doc),
        "capture": capture_link(str(doc.get("capture_id") or ""), str(doc.get("capture_sha256") or ""), base_url),
    }
    change = {k: doc[k] for k in ("price_change_pct", "price_drop_pct", "price_old", "price_new", "currency_old",
                                  "currency_new", "usd_per_gram_old", "usd_per_gram_new", "usd_per_unit_old",
                                  "usd_per_unit_new", "new_market", "known_markets", "value", "kind", "handle",
                                  "missed_crawls", "removed_since")
              if doc.get(k) is not None}
    if change:
        item["change"] = change
    if isinstance(item["title"], str):
        item["title"] = item["title"][:_MAX_TEXT]
    return {k: _jsonable(v) for k, v in item.items() if v not in (None, [], {})}


def _line(item: Mapping[str, Any]) -> str:
    subs = ", ".join(f"{s['name']} ({s['class']})" if "class" in s else s["name"] for s in item.get("substances", []))
    offer = item.get("offer") or {}
    prices = []
    if "price" in offer:
        prices.append(f"{offer['price']} {offer.get('currency', '')}".strip())
    if "usd_per_gram" in offer:
        prices.append(f"{offer['usd_per_gram']} USD/g")
    if "usd_per_unit" in offer:
        prices.append(f"{offer['usd_per_unit']} USD/unit")
    price = ", ".join(prices)
    ships = item.get("ships_from")
    ships = ", ".join(map(str, ships)) if isinstance(ships, list) else ships
    parts = [str(item.get("title") or item.get("listing_key") or item.get("event_id") or "?")]
    for label, value in (("substance", subs), ("offer", price), ("vendor", item.get("vendor")),
                         ("market", item.get("market")), ("ships from", ships),
                         ("url", item.get("url"))):
        if value:
            parts.append(f"{label}: {value}")
    cap = item.get("capture") or {}
    if cap.get("id"):
        parts.append(f"capture: {cap['id']} sha256:{cap.get('sha256', '')[:16]}")
    return " | ".join(parts)


def render_subject(payload: Mapping[str, Any]) -> str:
    rule = payload.get("rule", {})
    n = len(payload.get("items", []))
    sev = str(rule.get("severity", "")).upper()
    head = f"[narcwatch {sev}] {rule.get('name', rule.get('id', 'alert'))}"
    if payload.get("throttled"):
        total = payload.get("matches", n)
        return (f"{head}: {total} further match{'es' if total != 1 else ''} during the throttle window"
                + (f" ({payload.get('group')})" if payload.get("group") else ""))
    if payload.get("digest"):
        return f"{head}: digest of {n} matches" + (f" ({payload.get('group')})" if payload.get("group") else "")
    first = (payload.get("items") or [{}])[0]
    title = first.get("title") or first.get("listing_key") or ""
    return f"{head}: {title}"[:200]


def render_text(payload: Mapping[str, Any]) -> str:
    rule = payload.get("rule", {})
    lines = [render_subject(payload), "",
             f"rule: {rule.get('id')} ({rule.get('name')}), severity {rule.get('severity')}",
             f"alert: {payload.get('alert_id')}"]
    if payload.get("suppressed_before"):  # alerts stored before throttled matches were delivered as digests
        lines.append(f"note: {payload['suppressed_before']} earlier matches were throttled")
    window = payload.get("window")
    if payload.get("throttled") and isinstance(window, Mapping):
        lines.append(f"throttle window: {window.get('from')} .. {window.get('to')}: every match the throttle "
                     "held back, listed below")
    lines.append("")
    items: Sequence[Mapping[str, Any]] = payload.get("items", [])
    for i, item in enumerate(items, 1):
        lines.append(f"{i}. {_line(item)}")
    if payload.get("items_omitted"):
        lines.append(f"... and {payload['items_omitted']} more")
    return "\n".join(lines) + "\n"
