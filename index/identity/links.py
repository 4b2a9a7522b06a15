"""Links between accounts, each with its evidence and a confidence.

Strong links: the two accounts show the same personal identifier (PGP fingerprint,
wallet, Telegram/Session/Wickr/Threema/Signal ID, email). An identifier shown by more
than ``max_shared`` accounts is not personal (an escrow wallet, a quoted scam contact)
and gives no strong link; neither does an identifier two *posters* share (forum users
quote a vendor's contact in warnings and reviews): one side must be a vendor account
(listings or a vendor page) or a channel. Weak evidence: similar handles, shared unusual phrasing
(MinHash over word shingles that few accounts use), the same product line and the same
price levels. Weak features are combined by a logistic score (``WeakModel``); a weak
link is kept when its confidence reaches ``WeakModel.threshold``.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from datasketch import MinHash, MinHashLSH

from narcwatch.index.identity.accounts import Account, Sighting
from narcwatch.index.identity.handles import fold, similarity

__all__ = ["STRONG_KINDS", "Evidence", "Link", "WeakModel", "strong_links", "weak_links"]

#: Identifier kinds that belong to one person. Onion addresses are not here: a market's
#: onion is shown by every vendor on it.
STRONG_KINDS = frozenset({"pgp_fingerprint", "pgp_key", "wallet", "telegram", "session", "wickr", "threema", "signal",
                          "email", "xmpp", "wire"})
_WORD = re.compile(r"\w{1,40}", re.UNICODE)  # bounded token: no super-linear matching on hostile text
_SHINGLE = 4
_PERM = 64


@dataclass(frozen=True)
class Evidence:
    kind: str  # pgp_fingerprint | wallet:BTC | telegram | ... | handle | phrasing | product_line | price_level
    value: str
    score: float  # the feature value in [0, 1] (1.0 for a shared identifier)
    sightings: tuple[Sighting, ...] = ()  # provenance of a shared identifier on both accounts


@dataclass
class Link:
    a: str
    b: str
    strength: str  # strong | weak
    confidence: float
    evidence: list[Evidence] = field(default_factory=list)
    decision: str = ""  # "" | confirmed | split (an analyst's, which wins)

    @property
    def pair(self) -> tuple[str, str]:
        return (self.a, self.b) if self.a <= self.b else (self.b, self.a)


def _strong_kind(kind: str) -> bool:
    return kind in STRONG_KINDS or kind.split(":", 1)[0] in STRONG_KINDS


def strong_links(accounts: dict[str, Account], max_shared: int = 4) -> list[Link]:
    """One link per account pair sharing at least one personal identifier."""
    by_value: dict[tuple[str, str], list[str]] = defaultdict(list)
    for aid, acc in accounts.items():
        for kv in acc.identifiers:
            if _strong_kind(kv[0]):
                kind = "pgp_fingerprint" if kv[0] == "pgp_key" else kv[0]
                by_value[(kind, _norm(kv[0], kv[1]))].append(aid)
    links: dict[tuple[str, str], Link] = {}
    for (kind, value), owners in sorted(by_value.items()):
        owners = sorted(set(owners))
        if len(owners) < 2 or len(owners) > max_shared:
            continue
        for a, b in combinations(owners, 2):
            if not (accounts[a].is_vendor or accounts[b].is_vendor):
                continue  # two posters quoting one contact (a scam warning) are not one person
            link = links.get((a, b)) or Link(a, b, "strong", 0.0)
            sights = tuple(s for acc in (accounts[a], accounts[b]) for (k, v), ss in acc.identifiers.items()
                           if (k == kind or (kind == "pgp_fingerprint" and k == "pgp_key")) and _norm(k, v) == value
                           for s in ss[:3])
            link.evidence.append(Evidence(kind, value, 1.0, sights))
            links[(a, b)] = link
    for link in links.values():
        # Independent identifiers multiply the odds; one shared PGP fingerprint alone is 0.99.
        link.confidence = round(1 - 0.01 ** len({e.kind for e in link.evidence}), 6)
    return [links[k] for k in sorted(links)]


def _norm(kind: str, value: str) -> str:
    v = value.strip()
    if kind in ("pgp_fingerprint", "pgp_key"):
        return "".join(v.split()).upper().removeprefix("0X")
    if kind in ("telegram", "wickr", "email", "xmpp", "threema", "signal", "wire"):
        return v.lstrip("@").casefold()
    if kind.startswith("wallet") and v.lower().startswith(("bc1", "ltc1", "tb1", "0x")):
        return v.lower()
    return v


@dataclass(frozen=True)
class WeakModel:
    """Logistic combination of weak features: ``sigmoid(bias + Σ weight·feature)``.

    The weights say how much each kind of evidence moves the odds: an identical
    storefront name is strong but not enough alone, nor with the same product line
    (look-alike names exist: the sandbox's look-alike traps sell the same category);
    a different product line counts against; shared rare phrasing (the same unusual
    intro and sign-off on every listing) is enough with the same product line, and with
    a similar handle. Tuned on sandbox seed 11 (``python -m ops.bench identity_tune``), never on
    the seeds whose figures are reported.
    """

    bias: float = -3.5
    handle: float = 3.0  # folded handles identical (scaled from Jaro-Winkler 0.88 .. 1.0)
    phrasing: float = 4.5  # Jaccard of rare shingles, saturating at ``phrasing_saturation``
    phrasing_saturation: float = 0.25
    product: float = 1.5  # substance-set Jaccard, centred: a different line counts against
    price: float = 1.0  # share of common substances priced within 20 %, centred
    threshold: float = 0.6
    handle_floor: float = 0.88

    def confidence(self, features: dict[str, float]) -> float:
        z = self.bias
        if "handle" in features:
            z += self.handle * max(0.0, (features["handle"] - self.handle_floor) / (1 - self.handle_floor))
        if "phrasing" in features:
            z += self.phrasing * min(1.0, features["phrasing"] / self.phrasing_saturation)
        if "product_line" in features:
            z += self.product * (features["product_line"] - 0.5)
        if "price_level" in features:
            z += self.price * (features["price_level"] - 0.5)
        return 1 / (1 + math.exp(-z))


def _shingles(texts: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for t in texts:
        words = _WORD.findall(t.casefold())
        out.update(" ".join(words[i:i + _SHINGLE]) for i in range(max(0, len(words) - _SHINGLE + 1)))
    return out


def _price_agreement(a: Account, b: Account) -> float | None:
    pa, pb = a.price_levels(), b.price_levels()
    common = set(pa) & set(pb)
    if not common:
        return None
    close = sum(1 for s in common if min(pa[s], pb[s]) / max(pa[s], pb[s]) >= 0.8)
    return close / len(common)


def _jaccard(a: Iterable[str], b: Iterable[str]) -> float | None:
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return None
    return len(sa & sb) / len(sa | sb)


def weak_links(accounts: dict[str, Account], model: WeakModel = WeakModel(), max_df: int = 3,
               lsh_threshold: float = 0.15) -> list[Link]:
    """Candidate pairs by folded-handle block and MinHash LSH, scored by ``model``."""
    ids = sorted(accounts)
    shingles = {aid: _shingles(accounts[aid].texts) for aid in ids}
    df = Counter(s for sh in shingles.values() for s in sh)
    rare = {aid: {s for s in sh if df[s] <= max_df} for aid, sh in shingles.items()}
    lsh = MinHashLSH(threshold=lsh_threshold, num_perm=_PERM)
    hashes: dict[str, MinHash] = {}
    for aid in ids:
        if len(rare[aid]) < 5:  # too little unusual text to say anything about style
            continue
        m = MinHash(num_perm=_PERM, seed=1)
        m.update_batch([s.encode("utf-8") for s in sorted(rare[aid])])
        hashes[aid] = m
        lsh.insert(aid, m)
    candidates: set[tuple[str, str]] = set()
    blocks: dict[str, list[str]] = defaultdict(list)
    for aid in ids:
        key = fold(accounts[aid].handle)
        if key:
            blocks[key[:3]].append(aid)
    for members in blocks.values():
        if len(members) <= 200:  # a huge block is a common prefix, not evidence
            candidates.update(combinations(sorted(members), 2))
    for aid, m in hashes.items():
        for other in lsh.query(m):
            if other != aid:
                candidates.add((min(aid, other), max(aid, other)))
    out: list[Link] = []
    for a, b in sorted(candidates):
        A, B = accounts[a], accounts[b]
        if A.source == B.source:
            continue  # a market addresses vendors by handle: two handles on one market are two accounts
        feats: dict[str, float] = {}
        ev: list[Evidence] = []
        h = similarity(A.handle, B.handle)
        if h >= model.handle_floor:
            feats["handle"] = h
            ev.append(Evidence("handle", f"{A.handle} ~ {B.handle}", round(h, 4)))
        if a in hashes and b in hashes:
            shared = len(rare[a] & rare[b])  # exact on the candidate pair; MinHash only proposed it
            j = shared / len(rare[a] | rare[b])
            if j >= 0.05:
                feats["phrasing"] = j
                ev.append(Evidence("phrasing", f"{shared} shared rare shingles", round(j, 4)))
        pl = _jaccard(A.substances, B.substances)
        if pl is not None:
            feats["product_line"] = pl
            ev.append(Evidence("product_line", ",".join(sorted(set(A.substances) & set(B.substances))[:10]),
                               round(pl, 4)))
        pr = _price_agreement(A, B)
        if pr is not None:
            feats["price_level"] = pr
            ev.append(Evidence("price_level", "USD per unit within 20 %", round(pr, 4)))
        if "handle" not in feats and "phrasing" not in feats:
            continue
        conf = model.confidence(feats)
        if conf >= model.threshold:
            out.append(Link(a, b, "weak", round(conf, 6), ev))
    return out
