"""Weekly vendor profiles: one per actor active in the week ending ``at``.

A profile says where the actor sells (markets and channels), what (substances, classes),
at which price levels (median USD per gram or per unit, per substance), from and to
where, under which identifiers, first/last seen, and what changed this week (the store's
change events for the actor's accounts). Rendered as JSON (``profiles``), Markdown and
HTML (every scraped string escaped).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from narcwatch.index.identity import Resolution, account_id

__all__ = ["profiles", "to_html", "to_markdown"]


def _iso(d: datetime) -> str:
    return d.astimezone(UTC).isoformat().replace("+00:00", "Z")


def profiles(res: Resolution, events: list[Any], at: datetime, days: int = 7) -> dict[str, Any]:
    """The week ``(at - days, at]``: profiles of actors with an account seen in it."""
    start, end = _iso(at - timedelta(days=days)), _iso(at)
    by_account: dict[str, list[Any]] = {}
    for e in events:
        when = _iso(e.at)
        if e.vendor and start < when <= end:
            by_account.setdefault(account_id(e.source, e.vendor), []).append(e)
    out = []
    for actor in res.actors:
        accs = [res.accounts[a] for a in actor.accounts]
        if not any(a.is_vendor for a in accs):
            continue  # forum users who only post are not vendors
        if not any(start < (a.last_seen or "") <= end for a in accs):
            continue
        prices: dict[str, list[float]] = {}
        subs: Counter[str] = Counter()
        for a in accs:
            subs.update(a.substances)
            for s, v in a.price_levels().items():
                prices.setdefault(s, []).append(v)
        changes = Counter(str(e.type) for a in actor.accounts for e in by_account.get(a, []))
        out.append({
            "actor_id": actor.id, "name": actor.name,
            "accounts": [{"source": a.source, "handle": a.handle, "first_seen": a.first_seen, "last_seen": a.last_seen}
                         for a in accs],
            "markets": sorted({a.source for a in accs}),
            "substances": [s for s, _ in subs.most_common()],
            "classes": sorted({c for a in accs for c in a.classes}),
            "price_levels_usd": {s: round(sorted(v)[len(v) // 2], 2) for s, v in sorted(prices.items())},
            "ships_from": sorted({c for a in accs for c in a.ships_from}),
            "ships_to": sorted({c for a in accs for c in a.ships_to}),
            "identifiers": sorted({f"{k}:{v}" for a in accs for (k, v) in a.identifiers}),
            "first_seen": min((a.first_seen for a in accs if a.first_seen), default=None),
            "last_seen": max((a.last_seen for a in accs if a.last_seen), default=None),
            "changes_this_week": dict(sorted(changes.items())),
            "links": [{"a": l.a, "b": l.b, "strength": l.strength, "confidence": l.confidence,
                       "evidence": [e.kind for e in l.evidence]} for l in actor.links],
        })
    return {"week_start": start, "week_end": end, "actors": out}


#: what Markdown acts on inside a line: emphasis, code, links and images ([ ]), raw HTML
#: and autolinks (< >), table cells (|), strikethrough (~), entities (&), the escape itself
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")


def _md(s: Any) -> str:
    """Scraped text as literal Markdown on one line. Escaped, a vendor named
    ``![](http://x.example/p.png)`` is shown as typed; unescaped, the reader's Markdown
    viewer would fetch that image and tell the vendor an investigator is reading."""
    return _MD_INLINE.sub(r"\\\1", " ".join(str(s).split()))


def to_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Vendor profiles, week {report['week_start'][:10]} to {report['week_end'][:10]}", ""]
    for p in report["actors"]:
        lines += [f"## {_md(p['name'])} (`{p['actor_id']}`)", "",
                  f"- markets and channels: {_md(', '.join(p['markets']))}",
                  f"- accounts: {_md(', '.join(a['source'] + '/' + a['handle'] for a in p['accounts']))}",
                  f"- substances: {_md(', '.join(p['substances'][:20]))}; classes: {_md(', '.join(p['classes']))}",
                  f"- price levels (USD per g, or per unit where marked /u): "
                  f"{_md(', '.join(f'{k} {v}' for k, v in p['price_levels_usd'].items()))}",
                  f"- ships from {_md(', '.join(p['ships_from']) or '-')} to {_md(', '.join(p['ships_to']) or '-')}",
                  f"- identifiers: {_md(', '.join(p['identifiers'][:30]) or '-')}",
                  f"- first seen {p['first_seen']}, last seen {p['last_seen']}",
                  f"- this week: {_md(', '.join(f'{k} {v}' for k, v in p['changes_this_week'].items()) or 'no change')}",
                  ""]
    return "\n".join(lines)


def to_html(report: dict[str, Any]) -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Vendor profiles {e(report['week_end'][:10])}</title>"
             "</head><body>", f"<h1>Vendor profiles, week {e(report['week_start'][:10])} to {e(report['week_end'][:10])}</h1>"]
    for p in report["actors"]:
        rows = [("markets and channels", ", ".join(p["markets"])),
                ("accounts", ", ".join(a["source"] + "/" + a["handle"] for a in p["accounts"])),
                ("substances", ", ".join(p["substances"][:20])), ("classes", ", ".join(p["classes"])),
                ("price levels (USD)", ", ".join(f"{k} {v}" for k, v in p["price_levels_usd"].items())),
                ("ships from / to", f"{', '.join(p['ships_from'])} / {', '.join(p['ships_to'])}"),
                ("identifiers", ", ".join(p["identifiers"][:30])),
                ("first / last seen", f"{p['first_seen']} / {p['last_seen']}"),
                ("this week", ", ".join(f"{k} {v}" for k, v in p["changes_this_week"].items()) or "no change")]
        parts.append(f"<section><h2>{e(p['name'])} <code>{e(p['actor_id'])}</code></h2><table>")
        parts += [f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in rows]
        parts.append("</table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)
