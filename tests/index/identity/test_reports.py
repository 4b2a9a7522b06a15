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
