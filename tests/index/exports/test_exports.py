"""Exports round-trip: STIX re-parses with stix2, MISP loads with pymisp, CSV has the documented header."""

from __future__ import annotations

import csv
import io

import stix2
from pymisp import MISPEvent

from narcwatch.index.exports import COLUMNS, facts_for, to_csv, to_misp, to_stix
from narcwatch.index.identity import Account, Sighting, resolve

XMR = "4" + "A" * 94


def _res():  # type: ignore[no-untyped-def]
    accs = {}
    for src, h, ids in [("velvet-market", "GreenShop", {"pgp_fingerprint": "AB" * 20, "wallet:BTC": "1Btc", "telegram": "@green_shop"}),
                        ("taiga-market", "wildbear61", {"pgp_fingerprint": "AB" * 20, "wallet:XMR": XMR, "wallet:TRX": "TTrx",
                                                         "email": "=cmd|x@y.invalid", "onion": "a" * 56 + ".onion"})]:
        a = Account(source=src, handle=h, first_seen="2026-11-02T10:00:00Z", last_seen="2026-11-09T10:00:00Z",
                    capture_id="cap1", capture_sha256="f" * 64, vendor_page=True, listings=1,
                    substances={"Isotonitazene": 1}, classes={"nitazene"})
        for k, v in ids.items():
            a.identifiers[(k, v)] = [Sighting(k, v, f"{src}:7", a.first_seen, a.last_seen, "cap7", "e" * 64)]
        accs[a.id] = a
    return resolve(accs)


def test_stix_round_trip() -> None:
    facts = facts_for(_res())
    bundle = to_stix(facts)
    parsed = stix2.parse(bundle.serialize(), allow_custom=True)
    types = {o["type"] for o in parsed.objects}
    assert {"threat-actor", "user-account", "observed-data", "note", "x-narcwatch-wallet", "x-narcwatch-pgp-key",
            "email-addr", "domain-name", "relationship"} <= types
    note = next(o for o in parsed.objects if o["type"] == "note")
    assert "cap7" in note["content"] and "e" * 64 in note["content"]


def test_misp_round_trip() -> None:
    ev = to_misp(facts_for(_res()))
    loaded = MISPEvent()
    loaded.load(ev.to_json())
    types = {a.type for a in loaded.attributes}
    assert {"btc", "xmr", "domain", "email-src", "text"} <= types
    assert {o.name for o in loaded.objects} == {"coin-address", "telegram-account"}
    assert [t.name for t in loaded.tags] == ['narcwatch:substance-class="nitazene"']
    assert all("sha256" in a.comment for a in loaded.attributes)


def test_csv_columns_and_formula_escape() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(facts_for(_res())))))
    assert tuple(rows[0]) == COLUMNS
    email = next(r for r in rows if r["kind"] == "email")
    assert email["value"].startswith("'=") and email["capture_sha256"] == "e" * 64
