"""Weekly vendor profiles: active actors only, changes of the week, escaped HTML."""

from __future__ import annotations

from datetime import UTC, datetime

from narcwatch.index.identity import Account, Sighting, resolve
from narcwatch.index.models import ChangeEvent, EventType
from narcwatch.index.reports import profiles, to_html, to_markdown

AT = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)


def _acc(source: str, handle: str, last: str, fpr: str) -> Account:
    a = Account(source=source, handle=handle, first_seen="2026-10-01T10:00:00Z", last_seen=last, capture_id="c",
                capture_sha256="f" * 64, vendor_page=True, listings=2, substances={"Isotonitazene": 2},
                classes={"nitazene"}, ships_from={"NL"}, ships_to={"EU"},
                usd_per_unit={"Isotonitazene": [9.0, 11.0]})
    a.identifiers[("pgp_fingerprint", fpr)] = [Sighting("pgp_fingerprint", fpr, f"{source}:1", last, last, "c", "f" * 64)]
    return a


def test_weekly_profiles() -> None:
    accs = [_acc("velvet-market", "<script>alert(1)</script>", "2026-11-08T10:00:00Z", "AB" * 20),
            _acc("taiga-market", "wildbear", "2026-11-08T11:00:00Z", "AB" * 20),
            _acc("nebula-market", "gone", "2026-10-02T10:00:00Z", "CD" * 20)]
    res = resolve({a.id: a for a in accs})
    ev = [ChangeEvent(id="e1", type=EventType.VENDOR_NEW_MARKET, at=datetime(2026, 11, 8, 11, tzinfo=UTC),
                      source="taiga-market", vendor="wildbear"),
          ChangeEvent(id="e0", type=EventType.NEW, at=datetime(2026, 10, 20, tzinfo=UTC), source="taiga-market",
                      vendor="wildbear")]
    rep = profiles(res, ev, AT)
    assert len(rep["actors"]) == 1  # "gone" was last seen weeks ago
    p = rep["actors"][0]
    assert p["markets"] == ["taiga-market", "velvet-market"]
    assert p["price_levels_usd"] == {"Isotonitazene/u": 10.0}
    assert p["changes_this_week"] == {"VENDOR_NEW_MARKET": 1}
    page = to_html(rep)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Isotonitazene/u 10.0" in to_markdown(rep)


HOSTILE = ["![](http://tracker.example/p.png)", "[click](http://evil.example)", "<img src=http://t.example/x>",
           "<http://evil.example>", "a | b", "two\nlines\r\u2028here", "*loud* _u_ `code` ~s~", "&amp;", "back\\slash",
           "wild[bear]"]


def test_markdown_shows_hostile_names_as_typed() -> None:
    """Parsed by a CommonMark parser (markdown-it, rich's own): no image, link or raw HTML
    from scraped text, and each name reads back as it was scraped (line breaks as spaces)."""
    from markdown_it import MarkdownIt

    accs = [_acc("velvet-market", h, "2026-11-08T10:00:00Z", f"{i:02d}" * 20) for i, h in enumerate(HOSTILE)]
    rep = profiles(resolve({a.id: a for a in accs}), [], AT)
    assert len(rep["actors"]) == len(HOSTILE)
    tokens = MarkdownIt("commonmark").enable("table").enable("strikethrough").parse(to_markdown(rep))
    inline = [c for t in tokens if t.type == "inline" for c in (t.children or [])]
    kinds = {c.type for c in inline if not (c.type == "code_inline" and c.content.startswith("actor--"))}
    assert not kinds & {"image", "link_open", "html_inline", "em_open", "strong_open", "code_inline", "s_open"}, kinds
    assert not {t.type for t in tokens} & {"html_block", "table_open"}
    headings = ["".join(c.content for c in t.children or []) for i, t in enumerate(tokens)
                if t.type == "inline" and tokens[i - 1].type == "heading_open"]
    shown = {h.rsplit(" (", 1)[0] for h in headings[1:]}
    assert shown == {" ".join(h.split()) for h in HOSTILE}
