"""Offers, wallets and identifiers against the sandbox ground truth (held-out seed 2).

The whole pipeline runs on the text a spider reads (a listing's title and description, a
post's or message's text, a vendor's about and PGP key) and is compared with the facts the
truth record says that text carries. Fair comparison, decided after reading the
disagreements:

* offers: (quantity, unit, price, currency) as Decimals, counted as a multiset; "exact"
  is the share of truth offers found with all four right;
* wallets: (chain, address); a truth wallet whose address is not in the text (a shop
  product's wallet sits in page chrome the record's fields do not carry) is not counted;
* identifiers: (kind, value) with values normalised the way analysts compare them
  (case-folded handles, phone digits, fingerprints without spaces); a PGP key block is
  reported as ``pgp_key`` with its computed fingerprint, which is the fingerprint fact;
  a Telegram channel's messages are extracted with ``source_kind="telegram"`` context;
  truth handles that cannot exist (non-ASCII Telegram/Wickr names) are set apart.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from narcwatch.extract.models import Extraction
from narcwatch.extract.pipeline import extract_many

sandbox = pytest.importorskip("narcwatch.sandbox")

TEXT_FIELDS = {"listing": ("title", "description"), "post": ("title", "text"), "message": ("text",),
               "vendor": ("about", "pgp_key")}


def _text(rec: dict[str, Any]) -> str:
    f = rec["fields"]
    return "\n".join(str(f[k]) for k in TEXT_FIELDS[rec["kind"]] if isinstance(f.get(k), str))


def _dec(v: object) -> Decimal | None:
    try:
        return None if v is None else Decimal(str(v)).normalize()
    except InvalidOperation:
        return None


def _ident(kind: str, value: str) -> tuple[str, str]:
    kind = "pgp_fingerprint" if kind == "pgp_key" else kind
    v = value.strip()
    if kind == "phone":
        v = re.sub(r"[^\d+]", "", v)
    elif kind == "pgp_fingerprint":
        v = v.replace(" ", "").upper()
    else:
        v = v.lstrip("@").casefold()
    return kind, v


def _can_exist(kind: str, value: str) -> bool:
    """The sandbox names some Russian-speaking vendors ``@снегирь361_shop`` on Telegram and
    Wickr: usernames there are ASCII (Telegram: a-z, 0-9, _), so no extractor should report
    one. Such truth facts are counted apart (``ids_impossible``), not as misses."""
    return not (kind in ("telegram", "wickr") and not value.isascii())


class Score:
    def __init__(self) -> None:
        self.c: Counter[str] = Counter()
        self.misses: dict[str, Counter[Any]] = {"offers": Counter(), "identifiers": Counter()}

    def add(self, rec: dict[str, Any], text: str, ext: Extraction) -> None:
        c = self.c
        truth_o = Counter((_dec(o["quantity"]), o["unit"], _dec(o["price"]), o["currency"]) for o in rec["offers"])
        got_o = Counter((_dec(o.quantity), o.unit, _dec(o.price), o.currency) for o in ext.offers)
        c["offers_truth"] += sum(truth_o.values())
        c["offers_exact"] += sum((truth_o & got_o).values())
        for q, u, _, _ in truth_o - got_o:
            self.misses["offers"][(rec["kind"], u)] += 1
        truth_w = {(w["chain"], w["address"]) for w in rec["wallets"] if w["address"] in text}
        got_w = {(w.chain, w.address) for w in ext.wallets}
        c["wallets_tp"] += len(truth_w & got_w)
        c["wallets_fp"] += len(got_w - truth_w)
        c["wallets_fn"] += len(truth_w - got_w)
        possible = [i for i in rec["identifiers"] if _can_exist(i["kind"], i["value"])]
        c["ids_impossible"] += len(rec["identifiers"]) - len(possible)
        truth_i = {_ident(i["kind"], i["value"]) for i in possible}
        got_i = {_ident(i.kind.value, i.value) for i in ext.identifiers}
        c["ids_tp"] += len(truth_i & got_i)
        c["ids_fp"] += len(got_i - truth_i)
        c["ids_fn"] += len(truth_i - got_i)
        for kind, _ in truth_i - got_i:
            self.misses["identifiers"][(rec["kind"], kind)] += 1

    def ratio(self, a: str, *b: str) -> float:
        den = sum(self.c[k] for k in (a, *b))
        return self.c[a] / den if den else 1.0


@pytest.fixture(scope="module")
def score() -> Score:
    recs = [r for r in sandbox.iter_truth(sandbox.World(seed=2, size="demo"), 0.0) if r["kind"] in TEXT_FIELDS]
    s = Score()
    # A channel's messages are extracted knowing they are Telegram messages, as ingest
    # would pass the source's kind; everything else without context.
    for in_channel in (False, True):
        group = [r for r in recs if (r["kind"] == "message") == in_channel]
        texts = [_text(r) for r in group]
        context = {"source_kind": "telegram"} if in_channel else None
        pairs = [(str(i), t) for i, t in enumerate(texts)]
        for rec, text, ext in zip(group, texts, extract_many(pairs, context=context), strict=True):
            s.add(rec, text, ext)
    print(f"sandbox seed 2 facts: {dict(s.c)}; offer misses {s.misses['offers'].most_common(5)}; "
          f"identifier misses {s.misses['identifiers'].most_common(6)}")
    return s


def test_wallets_precision_is_exact_and_recall_at_least_99(score: Score) -> None:
    assert score.c["wallets_tp"] > 100  # the measurement measured something
    assert score.ratio("wallets_tp", "wallets_fp") == 1.0
    assert score.ratio("wallets_tp", "wallets_fn") >= 0.99


def test_identifier_precision_at_least_98(score: Score) -> None:
    assert score.c["ids_tp"] > 100
    assert score.ratio("ids_tp", "ids_fp") >= 0.98


def test_identifier_recall_at_least_98(score: Score) -> None:
    """1.0 (892/892, plus 34 impossible non-ASCII handles set apart) on seed 2; was 0.60
    before Telegram channel context, contact labels and signature issuer fingerprints."""
    assert score.c["ids_impossible"] == 0  # the sandbox now transliterates messenger names
    assert score.ratio("ids_tp", "ids_fn") >= 0.98


def test_offers_exact_at_least_95(score: Score) -> None:
    """0.997 (9627/9658) on seed 2 (9623 before numbers inside tokens stopped being prices);
    was 0.84 before a row of bare counts ("5x 32$ | 10x 59$") was read as counts of pieces."""
    assert score.c["offers_truth"] > 1000
    assert score.c["offers_exact"] >= 0.95 * score.c["offers_truth"]
