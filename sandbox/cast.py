"""The identity cast: labelled hard cases for vendor identity resolution.

Two kinds of people are added to a world after everything else is generated, from
their own seeded sub-RNG (``rng(seed, "identity-cast", ...)``), so the rest of the world
(persons, accounts, listings, forum, channels) is byte-identical with or without them:

* **style-only actors**: one person, two accounts on two markets, under unrelated
  handles, that share *no* PGP key, wallet or contact (the second account shows the
  identifiers of a separate *persona*). What gives them away is how they write (an
  unusual intro and sign-off on every listing and on the vendor page), the same product
  line and the same price levels (within a few per cent);
* **look-alike traps**: two *different* people on two markets with near-identical
  handles (``NordicPharm`` / ``NordicPharma``, ``n0rdic_pharm``), different keys, wallets
  and writing, half of them even in the same category, at clearly different prices.

Cast accounts are not among a category's round-robin sellers (that would move every
generated listing to another seller); their listings live at negative listing indices
(``j = -1, -2, ...`` per market) and are served after the generated ones on category
pages, in the API stream and on their vendor pages. Everything here is fictional.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from narcwatch.sandbox import lexicon
from narcwatch.sandbox._rng import rng

if TYPE_CHECKING:
    from narcwatch.sandbox.world import Account, Person, World

__all__ = ["Cast", "CastOffer", "Style", "build_cast", "cast_size"]

SALT = "identity-cast"
PERSONA_OFFSET = 50_000_000  # persona derivation indices: far above any person index (size <= 10M -> <= 300k persons)
STYLE_MARKETS = ("velvet-market", "nebula-market")  # English markets: a writer's phrasing survives there
STYLE_ONLY, LOOKALIKE = "style-only", "look-alike"
ALIAS_VIA = "style-alias"

# Handles: word lists the generated world does not use, so a cast handle never looks like a generated one.
_BRAND = ["Nordic", "Baltic", "Emerald", "Arctic", "Coastal", "Crimson", "Sapphire", "Atlas", "Vertex", "Orion",
          "Meridian", "Harbor", "Saffron", "Cobalt", "Juniper", "Granite"]
_TRADE = ["Pharm", "Meds", "Chem", "Remedy", "Botanics", "Supplies", "Trading", "Apotheke", "Lab", "Goods"]
_ALIAS_A = ["quiet", "paper", "velour", "marble", "willow", "ember", "tundra", "copper", "lantern", "harvest",
            "thistle", "pebble", "orchid", "riverbed", "cinder", "nimbus"]
_ALIAS_B = ["courier", "mill", "atelier", "corner", "garage", "pantry", "outpost", "kiosk", "yard", "workshop"]

# Writing styles: a skeleton and slot words per actor, so two actors rarely share a 4-word run.
_INTRO_SKELETONS = [
    "{a} {b} {n}, {c} {d} and weighed {e}.",
    "{n} from the {a} {b}: {c} {d}, {e} checked.",
    "Fresh {n} - {a} {b} grade, {c} {d} every time, {e}.",
    "Our {a} {b} {n} is back, {c} {d} and {e} as always.",
    "{n}, {a} and {b}, {c} {d} by hand, {e} promised.",
]
_SIGNOFF_SKELETONS = [
    "Every parcel leaves the {a} {b} {c}, {d} with our {e} note inside.",
    "We pack in the {a} {b} {c} and sign off with the {e}, {d}.",
    "Sealed {c} in the {a} {b}, {d}, look for the {e} sticker.",
    "Orders go out {c} from our {a} {b}, {d} and wrapped in {e} paper.",
    "No rush jobs at the {a} {b}: {c}, {d}, {e} stamp on every bag.",
]
_SLOT_A = ["moonlit", "foggy", "crooked", "lantern", "amber", "drizzly", "hollow", "sleepy", "windy", "velvet",
           "mossy", "rusty", "silver", "misty", "sunken", "quaint"]
_SLOT_B = ["attic", "cellar", "greenhouse", "boathouse", "chapel", "bakery", "loft", "barn", "workshop", "library",
           "lighthouse", "signal box", "pantry", "orchard", "mill", "studio"]
_SLOT_C = ["twice over", "before sunrise", "on tuesdays", "by candlelight", "in pairs", "after the tea break",
           "three times", "with gloves on", "on the hour", "in silence"]
_SLOT_D = ["no fuss", "no smell", "tidy as ever", "bone dry", "tight as a drum", "neat and plain", "dull as dishwater",
           "flat as a letter", "quiet as moss", "light as a feather"]
_SLOT_E = ["paper crane", "owl", "thistle", "blue fox", "acorn", "little anchor", "origami frog", "pine cone",
           "compass rose", "lemon slice", "red kite", "snail"]
_ABOUT = ["Small crew, slow hands, honest weights.", "We answer every message before the kettle boils.",
          "Same batch, same people, same {e} on the bag since day one.", "Ask us anything, we reply {c}."]


@dataclass(frozen=True)
class Style:
    """A writer's voice: the intro template (``{n}`` is the product), the sign-off, the vendor-page about line."""

    intro: str
    signoff: str
    about: str


@dataclass(frozen=True)
class CastOffer:
    """One cast listing: the account, the substance and its price level in USD per unit."""

    account: "Account"
    substance: lexicon.Substance
    usd_per_unit: float
    ships_from: tuple[str, str]
    ships_to: tuple[str, tuple[str, ...]]
    created: float


@dataclass
class Cast:
    persons: list["Person"] = field(default_factory=list)
    case: dict[int, str] = field(default_factory=dict)  # person index -> style-only | look-alike
    lookalike_of: dict[int, int] = field(default_factory=dict)
    personas: dict[str, "Person"] = field(default_factory=dict)  # account id -> identifiers it shows
    styles: dict[str, Style] = field(default_factory=dict)  # account id -> voice
    offers: dict[str, list[CastOffer]] = field(default_factory=dict)  # market -> offers; offer i is j = -(i+1)
    by_account: dict[str, list[int]] = field(default_factory=dict)  # account id -> its listing indices (negative)
    first_index: int = 0  # person index of persons[0]

    def person(self, index: int) -> "Person":
        return self.persons[index - self.first_index]

    def is_cast(self, acc: "Account") -> bool:
        return acc.id in self.by_account

    def offer(self, market: str, j: int) -> CastOffer | None:
        offers = self.offers.get(market, [])
        return offers[-j - 1] if -len(offers) <= j < 0 else None

    def indices(self, market: str, category: str | None = None) -> list[int]:
        """Negative listing indices of ``market``'s cast offers (of one category, if given), in order."""
        return [-(i + 1) for i, o in enumerate(self.offers.get(market, []))
                if category is None or o.substance.category == category]


def cast_size(size: int) -> int:
    """Style-only actors (and as many look-alike pairs) for a world of ``size`` listings."""
    return 3 + min(5, size // 2000)


def _voice(r: random.Random) -> Style:
    slots = {k: r.choice(words) for k, words in
             (("a", _SLOT_A), ("b", _SLOT_B), ("c", _SLOT_C), ("d", _SLOT_D), ("e", _SLOT_E))}
    intro = r.choice(_INTRO_SKELETONS).format(n="{n}", **slots)
    slots2 = {**slots, "a": r.choice(_SLOT_A), "b": r.choice(_SLOT_B)}
    return Style(intro, r.choice(_SIGNOFF_SKELETONS).format(**slots2), r.choice(_ABOUT).format(**slots))


def _lookalike(r: random.Random, handle: str) -> str:
    """A different person's handle one edit (or one fold) away from ``handle``."""
    kind = r.randrange(5)
    if kind == 0:
        return handle + "a" if not handle.endswith("a") else handle + "s"
    if kind == 1:  # a doubled letter
        i = r.randrange(2, len(handle) - 1)
        return handle[:i] + handle[i] + handle[i:]
    if kind == 2:  # leetspeak on one vowel
        for ch, digit in (("o", "0"), ("e", "3"), ("a", "4"), ("i", "1")):
            if ch in handle[1:]:
                return handle[0] + handle[1:].replace(ch, digit, 1)
        return handle + "x"
    if kind == 3:  # separators and case
        cut = next((i for i in range(1, len(handle)) if handle[i].isupper()), len(handle) // 2)
        return f"{handle[:cut]}_{handle[cut:]}".lower()
    return handle + r.choice(["Official", "Shop", "_EU"])


def build_cast(world: "World") -> Cast:
    """The cast of ``world``; registers its accounts on the world's markets (never as category sellers)."""
    from narcwatch.sandbox.world import Account, Person, _messenger_name

    cast = Cast(first_index=len(world.persons))
    markets = [m for m in STYLE_MARKETS if m in world.markets]
    if len(markets) < 2:
        return cast
    n = cast_size(world.size)
    cats = [c for c in lexicon.CATEGORY_SLOTS if any(s.category == c for s in lexicon.SUBSTANCES)]
    from narcwatch.sandbox.listings import SHIPS_FROM, SHIPS_TO

    def new_person(handle: str, market: str) -> "Person":
        p = Person(cast.first_index + len(cast.persons), world.seed, world._unique(market, handle))
        cast.persons.append(p)
        return p

    def register(p: "Person", acc: "Account") -> None:
        p.accounts.append(acc)
        world._accounts[acc.market].append(acc)
        world._handles.setdefault((acc.market, acc.handle), []).append(acc)
        cast.by_account[acc.id] = []

    def product_line(r: random.Random, category: str | None = None) -> list[lexicon.Substance]:
        cat = category or r.choice(cats)
        subs = [s for s in lexicon.SUBSTANCES if s.category == cat]
        return r.sample(subs, min(len(subs), r.randint(2, 3)))

    def list_offers(r: random.Random, acc: "Account", line: list[tuple[lexicon.Substance, float]],
                    ships: tuple[tuple[str, str], tuple[str, tuple[str, ...]]], jitter: float) -> None:
        offers = cast.offers.setdefault(acc.market, [])
        for i in range(r.randint(4, 6)):
            sub, usd = line[i % len(line)]
            offers.append(CastOffer(acc, sub, round(usd * (1 + r.uniform(-jitter, jitter)), 4), ships[0], ships[1],
                                    created=-24.0 * r.uniform(3, 90)))
            cast.by_account[acc.id].append(-len(offers))

    for i in range(n):  # style-only actors
        r = rng(world.seed, SALT, "style", i)
        home, other = r.sample(markets, 2)
        person = new_person(f"{r.choice(_BRAND)}{r.choice(_TRADE)}", home)
        cast.case[person.index] = STYLE_ONLY
        alias_handle = world._unique(other, f"{r.choice(_ALIAS_A)}_{r.choice(_ALIAS_B)}{r.randint(10, 99)}")
        cats_ = (r.choice(cats),)
        joined = -24.0 * r.randint(60, 900)
        a = Account(f"{home}:c{person.index}", home, person.handle, person.index, cats_, joined=joined)
        b = Account(f"{other}:c{person.index}s", other, alias_handle, person.index, cats_, joined=joined / 2,
                    via=ALIAS_VIA)
        register(person, a)
        register(person, b)
        cast.personas[b.id] = Person(PERSONA_OFFSET + person.index, world.seed, alias_handle)
        voice = _voice(r)
        cast.styles[a.id] = cast.styles[b.id] = voice
        line = [(s, s.usd[0] + r.random() * (s.usd[1] - s.usd[0])) for s in product_line(r, cats_[0])]
        ships = (r.choice(SHIPS_FROM), r.choice(SHIPS_TO))
        list_offers(r, a, line, ships, 0.04)
        list_offers(r, b, line, ships, 0.04)

    for i in range(n):  # look-alike traps: two people, one edit apart
        r = rng(world.seed, SALT, "lookalike", i)
        m1, m2 = r.sample(markets, 2)
        base = f"{r.choice(_BRAND)}{r.choice(_TRADE)}"
        twin = _lookalike(r, base)
        while _messenger_name(twin) == _messenger_name(base):  # messenger ids are unique: never the same one
            twin += "x"
        p1, p2 = new_person(base, m1), new_person(twin, m2)
        cast.case[p1.index] = cast.case[p2.index] = LOOKALIKE
        cast.lookalike_of[p1.index], cast.lookalike_of[p2.index] = p2.index, p1.index
        same_cat = r.random() < 0.5  # half of the traps even sell the same kind of product
        line1 = product_line(r)
        line2 = product_line(r, line1[0].category if same_cat else None)
        level = {s.canonical + s.unit: s.usd[0] + r.random() * (s.usd[1] - s.usd[0]) for s in line1 + line2}
        for p, market, line, factor in ((p1, m1, line1, 1.0), (p2, m2, line2, r.choice([0.55, 0.6, 1.6, 1.8]))):
            acc = Account(f"{market}:c{p.index}", market, p.handle, p.index, (line[0].category,),
                          joined=-24.0 * r.randint(60, 900))
            register(p, acc)
            cast.styles[acc.id] = _voice(r)
            priced = [(s, factor * level[s.canonical + s.unit]) for s in line]  # a shared product, priced apart
            list_offers(r, acc, priced, (r.choice(SHIPS_FROM), r.choice(SHIPS_TO)), 0.04)
    return cast
