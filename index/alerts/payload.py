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


def _offer(doc: Mapping[str, Any]) -> dict[str, Any]:
    offers = doc.get("offers")
    first = offers[0] if isinstance(offers, list) and offers and isinstance(offers[0], Mapping) else {}
    offer = dict(first) if first else (dict(doc["offer"]) if isinstance(doc.get("offer"), Mapping) else {})
    usd_pu = _first(doc, "usd_per_unit", "usd_per_gram", "usd_per_unit_new") or offer.get("usd_per_unit")
    if usd_pu is not None:
        offer["usd_per_unit"] = usd_pu
    price = _first(doc, "price", "price_new")
    if price is not None and "price" not in offer:
        offer["price"] = price
    keep = ("quantity", "unit", "purity", "price", "currency", "usd", "usd_per_unit")
    return {k: _jsonable(offer[k]) for k in keep if offer.get(k) not in (None, "")}


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
        "listing_key": doc.get("listing_key"),
        "title": _first(doc, "title", "text", "value"),
        "url": doc.get("url"),
        "vendor": _first(doc, "vendor", "author", "handle"),
        "market": _first(doc, "market", "source"),
        "ships_from": doc.get("ships_from"),
        "substances": _substances(doc),
        "offer": _offer(doc),
        "capture": capture_link(str(doc.get("capture_id") or ""), str(doc.get("capture_sha256") or ""), base_url),
    }
    change = {k: doc[k] for k in ("price_change_pct", "price_drop_pct", "price_old", "price_new",
                                  "usd_per_unit_old", "usd_per_unit_new", "market_old", "value", "kind")
              if doc.get(k) is not None}
    if change:
        item["change"] = change
    if isinstance(item["title"], str):
        item["title"] = item["title"][:_MAX_TEXT]
    return {k: _jsonable(v) for k, v in item.items() if v not in (None, [], {})}


def _line(item: Mapping[str, Any]) -> str:
    subs = ", ".join(f"{s['name']} ({s['class']})" if "class" in s else s["name"] for s in item.get("substances", []))
    offer = item.get("offer") or {}
    price = f"{offer['usd_per_unit']} USD/unit" if "usd_per_unit" in offer else (str(offer.get("price", "")) or "")
    parts = [str(item.get("title") or item.get("listing_key") or item.get("event_id") or "?")]
    for label, value in (("substance", subs), ("offer", price), ("vendor", item.get("vendor")),
                         ("market", item.get("market")), ("ships from", item.get("ships_from")),
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
    if payload.get("suppressed_before"):
        lines.append(f"note: {payload['suppressed_before']} earlier matches were throttled")
    lines.append("")
    items: Sequence[Mapping[str, Any]] = payload.get("items", [])
    for i, item in enumerate(items, 1):
        lines.append(f"{i}. {_line(item)}")
    if payload.get("items_omitted"):
        lines.append(f"... and {payload['items_omitted']} more")
    return "\n".join(lines) + "\n"
