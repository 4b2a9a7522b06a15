"""The sandbox world: sources, the people behind vendor accounts, and their identifiers.

``World(seed, size)`` is cheap to build even at 1,000,000 listings: only persons and
accounts (a few per 100 listings) are materialised; listings, forum threads and channel
messages are derived on demand from ``hash(seed, ...)`` (see ``listings.py`` and
``social.py``). Same seed and same clock give the same content, byte for byte.

Time dynamics (all deterministic in (seed, hours)):

* new listings are created at a steady rate per market (``Market.rate`` per hour);
* each listing may sell out (shown as sold out for a day) and is then removed;
* prices move in per-listing epochs of a few days;
* some persons migrate: their account on one market closes and a new account under a
  new handle opens on another market, with the same PGP key or the same wallet;
* markets have outages of a few hours, and one exits for good (``Market.exit_at``);
* forum threads and channel messages are posted over time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from narcwatch.sandbox import lexicon
from narcwatch.sandbox._rng import h64, material, rng, unit
from narcwatch.sandbox.clock import EPOCH
from narcwatch.sandbox.ids import wallets
from narcwatch.sandbox.ids.onion import onion_v3
from narcwatch.sandbox.ids.pgp import PgpKey, make_key

if TYPE_CHECKING:
    from narcwatch.sandbox.listings import Listings
    from narcwatch.sandbox.social import Social

__all__ = ["SIZES", "Account", "Market", "Person", "World", "parse_size"]

SIZES = {"tiny": 400, "demo": 2_000, "large": 100_000, "1m": 1_000_000}
NEVER = float("inf")

_ADJ = ["dark", "silent", "lucky", "royal", "frosty", "green", "golden", "wild", "happy", "crazy", "noble",
        "mellow", "swift", "shadow", "cosmic", "candy", "velvet", "north", "dutch", "alpine", "urban", "pure",
        "blue", "neon", "iron", "lunar", "sunny", "polar", "rapid", "honest"]
_NOUN = ["panda", "chemist", "farmer", "pharma", "dragon", "tiger", "wizard", "baron", "express", "labs",
         "garden", "kings", "connect", "plug", "supply", "depot", "brothers", "cartel", "cloud", "fox",
         "owl", "shop", "direct", "works", "factory", "bear", "rabbit", "monk", "pilot", "crew"]
_RU_HANDLE = ["Барон", "Химик", "Шаман", "Кот", "Лис", "Сибиряк", "Мастер", "Снегирь", "Волк", "Граф"]


def parse_size(size: str | int) -> int:
    """Listings in the world: a named size (``demo``, ``1m``, ...) or a number."""
    if isinstance(size, int):
        n = size
    elif size.lower() in SIZES:
        n = SIZES[size.lower()]
    else:
        text = size.lower().replace("_", "")
        mult = 1_000_000 if text.endswith("m") else 1_000 if text.endswith("k") else 1
        try:
            n = int(float(text.rstrip("mk")) * mult)
        except ValueError:
            raise ValueError(f"unknown size {size!r}; use a number or one of {', '.join(SIZES)}") from None
    if not 50 <= n <= 10_000_000:
        raise ValueError(f"size must be between 50 and 10,000,000 listings, got {n}")
    return n


@dataclass(frozen=True)
class Market:
    """A market source. ``share`` of all listings; ``n0`` listings exist at hour 0."""

    id: str
    name: str
    style: str  # classic | spa | ru
    language: str
    currency: str
    share: float
    n0: int
    rate: float  # new listings per simulated hour
    onion: str
    outages: tuple[tuple[float, float], ...]
    exit_at: float = NEVER

    def up(self, hours: float) -> bool:
        if hours >= self.exit_at:
            return False
        return not any(a <= hours < b for a, b in self.outages)

    def created_count(self, hours: float) -> int:
        """How many listing indices exist by ``hours`` (created time is monotone in index)."""
        if hours <= 0:
            return self.n0
        return self.n0 + int(hours * self.rate) + 1


@dataclass(frozen=True)
class Account:
    """One vendor account on one market: the handle the site shows."""

    id: str
    market: str
    handle: str
    person: int
    categories: tuple[str, ...]
    active_from: float = -NEVER
    active_until: float = NEVER
    joined: float = 0.0  # hours relative to the epoch (negative: before it)
    via: str = ""  # "" | "cross-listed" | "migrated-pgp" | "migrated-wallet" | "style-alias" (identity cast)

    def active(self, hours: float) -> bool:
        return self.active_from <= hours < self.active_until


@dataclass
class Person:
    """The human behind accounts; identifiers link the accounts (ground truth only)."""

    index: int
    seed: int
    handle: str
    accounts: list[Account] = field(default_factory=list)
    channel: str | None = None

    @property
    def id(self) -> str:
        return f"p{self.index}"

    @cached_property
    def pgp(self) -> PgpKey:
        return self.pgp_for(0)

    def pgp_for(self, generation: int) -> PgpKey:
        """Generation 0 is the long-lived key; a wallet-only migration uses generation 1."""
        created = int(EPOCH.timestamp()) - 3600 * (200 + h64(self.seed, "pgp-age", self.index) % 20_000)
        handle = self.handle if generation == 0 else f"{self.handle}{generation}"
        return make_key(material(self.seed, "pgp", self.index, generation, n=32),
                        f"{handle} <{handle.lower()}@sandbox.invalid>", created)

    @cached_property
    def wallets(self) -> dict[str, wallets.WalletAddress]:
        r = rng(self.seed, "wallet-kinds", self.index)
        out: dict[str, wallets.WalletAddress] = {}
        for chain in ("BTC", "XMR", "LTC", "ETH", "TRX"):
            kind = r.choice(wallets.KINDS[chain])
            out[chain] = wallets.make_address(chain, kind, material(self.seed, "wallet", self.index, chain))
        return out

    def decoy(self, chain: str, salt: int = 0) -> str:
        return wallets.decoy(self.wallets[chain], h64(self.seed, "decoy", self.index, chain, salt))

    @cached_property
    def contacts(self) -> dict[str, str]:
        r = rng(self.seed, "contacts", self.index)
        # Telegram and Wickr names are ASCII (a-z, 0-9, _): a Cyrillic market handle is
        # transliterated, as Russian-speaking vendors do for their messenger names.
        base = _messenger_name(self.handle)
        out = {"telegram": f"@{base}_{r.choice(['shop', 'official', 'bot', 'support', 'eu'])}"}
        if r.random() < 0.5:
            out["wickr"] = f"{base}{r.randint(10, 99)}"
        if r.random() < 0.4:
            out["session"] = "05" + material(self.seed, "session", self.index, n=32).hex()
        if r.random() < 0.3:
            out["threema"] = "".join(r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
        return out


_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
                      "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"]))


def _messenger_name(handle: str) -> str:
    """A handle as a messenger username: lower case, Cyrillic transliterated, [a-z0-9_] only."""
    out = "".join(_TRANSLIT.get(c, c) for c in handle.lower().replace(" ", "_"))
    out = "".join(c for c in out if c.isascii() and (c.isalnum() or c == "_"))
    return out if out[:1].isalpha() else f"v{out}"


class World:
    """A deterministic world of ``size`` listings (``"demo"`` ≈ 2,000) from ``seed``."""

    MARKETS = (
        # id, name, style, language, currency, share
        ("velvet-market", "Velvet Bazaar", "classic", "en", "USD", 0.45),
        ("nebula-market", "Nebula Market", "spa", "en", "EUR", 0.30),
        ("taiga-market", "Тайга", "ru", "ru", "RUB", 0.25),
    )

    def __init__(self, seed: int = 1, size: str | int = "demo", *, cast: bool = True) -> None:
        self.seed = int(seed)
        self.size = parse_size(size)
        self.markets: dict[str, Market] = {}
        for idx, (mid, name, style, lang, cur, share) in enumerate(self.MARKETS):
            n0 = max(50, int(self.size * share))
            r = rng(self.seed, "market", mid)
            start = 20 + r.random() * 100
            outages = ((start, start + 2 + r.random() * 6), (start + 150 + r.random() * 100, start + 153 + r.random() * 100))
            outages = tuple((a, b) for a, b in outages if b > a)
            exit_at = 400 + r.random() * 200 if style == "spa" else NEVER
            self.markets[mid] = Market(mid, name, style, lang, cur, share, n0, rate=max(0.25, n0 / 400),
                                       onion=onion_v3(material(self.seed, "onion", mid, n=32)),
                                       outages=outages, exit_at=exit_at)
        self.forum_onion = onion_v3(material(self.seed, "onion", "dredge-forum", n=32))
        self.persons: list[Person] = []
        self._accounts: dict[str, list[Account]] = {m: [] for m in self.markets}
        self._by_cat: dict[tuple[str, str], list[Account]] = {}
        self._handles: dict[tuple[str, str], list[Account]] = {}
        self._taken: set[tuple[str, str]] = set()
        self._build_people()
        # The identity cast comes last, from its own sub-RNG: without it the world is byte-identical.
        from narcwatch.sandbox.cast import Cast, build_cast
        self.cast: Cast = build_cast(self) if cast else Cast(first_index=len(self.persons))

    # -- people -----------------------------------------------------------------------------
    def _build_people(self) -> None:
        n_persons = max(12, round(self.size * 0.03))
        market_ids = list(self.markets)
        shares = [self.markets[m].share for m in market_ids]
        cats = list(lexicon.CATEGORY_SLOTS)
        weights = list(lexicon.CATEGORY_SLOTS.values())
        for p in range(n_persons):
            r = rng(self.seed, "person", p)
            home = r.choices(market_ids, shares)[0]
            handle = self._unique(home, self._handle(r, home))
            person = Person(p, self.seed, handle)
            primary = r.choices(cats, weights)[0]
            mine = (primary,) if r.random() < 0.6 else tuple(dict.fromkeys([primary, r.choices(cats, weights)[0]]))
            joined = -24.0 * r.randint(30, 1500)
            roll = r.random()
            if roll < 0.12 and len(market_ids) > 1:  # migrates to another market
                other = r.choice([m for m in market_ids if m != home])
                when = 24 + r.random() * 400
                via = "migrated-pgp" if r.random() < 0.7 else "migrated-wallet"
                person.accounts.append(Account(f"{home}:{p}", home, handle, p, mine, joined=joined, active_until=when))
                new = self._unique(other, self._handle(r, other))
                person.accounts.append(Account(f"{other}:{p}m", other, new, p, mine, active_from=when, joined=when, via=via))
            else:
                person.accounts.append(Account(f"{home}:{p}", home, handle, p, mine, joined=joined))
                if roll > 0.75 and len(market_ids) > 1:  # cross-listed under the same or a similar handle
                    other = r.choice([m for m in market_ids if m != home])
                    h2 = handle if r.random() < 0.5 else f"{handle}{r.choice(['_official', 'Shop', '2', '_EU'])}"
                    h2 = self._unique(other, h2)
                    person.accounts.append(Account(f"{other}:{p}x", other, h2, p, mine, joined=joined / 2, via="cross-listed"))
            self.persons.append(person)
            for acc in person.accounts:
                self._accounts[acc.market].append(acc)
                self._handles.setdefault((acc.market, acc.handle), []).append(acc)
                for c in acc.categories:
                    self._by_cat.setdefault((acc.market, c), []).append(acc)
        for mid in market_ids:  # every category of every market has at least one seller
            for i, c in enumerate(cats):
                if (mid, c) not in self._by_cat:
                    donor = self._accounts[mid][i % len(self._accounts[mid])] if self._accounts[mid] else None
                    if donor is None:
                        continue
                    self._by_cat[(mid, c)] = [donor]
        self.persons[0].channel = "candyflip_drops"
        if len(self.persons) > 1:
            self.persons[1].channel = "sibir_kladmen"

    def _handle(self, r: random.Random, market: str) -> str:
        if self.markets[market].style == "ru" and r.random() < 0.5:
            return f"{r.choice(_RU_HANDLE)}{r.randint(1, 999)}"
        a, n = r.choice(_ADJ), r.choice(_NOUN)
        style = r.randint(0, 3)
        if style == 0:
            return f"{a.capitalize()}{n.capitalize()}"
        if style == 1:
            return f"{a}_{n}"
        if style == 2:
            return f"{a}{n}{r.randint(1, 99)}"
        return f"{n.capitalize()}{a.capitalize()}"

    def _unique(self, market: str, handle: str) -> str:
        """Handles are unique per market (the site addresses vendors by handle)."""
        out, n = handle, 1
        while (market, out) in self._taken:
            n += 1
            out = f"{handle}{n}"
        self._taken.add((market, out))
        return out

    def accounts(self, market: str) -> list[Account]:
        return self._accounts[market]

    def sellers(self, market: str, category: str) -> list[Account]:
        return self._by_cat.get((market, category), [])

    def account(self, account_id: str) -> Account:
        market = account_id.split(":", 1)[0]
        for acc in self._accounts.get(market, []):
            if acc.id == account_id:
                return acc
        raise KeyError(f"unknown account {account_id!r}")

    def account_by_handle(self, market: str, handle: str) -> Account | None:
        """The account showing ``handle`` on ``market`` (the active one if a handle was reused)."""
        found = self._handles.get((market, handle))
        return found[-1] if found else None

    @property
    def all_persons(self) -> list[Person]:
        """The generated persons, then the identity cast (``persons`` alone drives forum and channel content)."""
        return self.persons + self.cast.persons

    def person_of(self, acc: Account) -> Person:
        return self.persons[acc.person] if acc.person < len(self.persons) else self.cast.person(acc.person)

    def persona_of(self, acc: Account) -> Person:
        """Whose identifiers (contacts, wallets, key) the account shows: its person's, or a
        style-only actor's separate persona (the same person, nothing shared)."""
        return self.cast.personas.get(acc.id) or self.person_of(acc)

    def pgp_of(self, acc: Account) -> PgpKey:
        """The key an account shows: a wallet-only migration shows a fresh key."""
        person = self.persona_of(acc)
        return person.pgp_for(1) if acc.via == "migrated-wallet" else person.pgp

    # -- listings ---------------------------------------------------------------------------
    @cached_property
    def listings(self) -> "Listings":
        from narcwatch.sandbox.listings import Listings
        return Listings(self)

    @cached_property
    def social(self) -> "Social":
        from narcwatch.sandbox.social import Social
        return Social(self)

    # -- rates -----------------------------------------------------------------------------
    def rate(self, currency: str, hours: float) -> float:
        """Units of ``currency`` per USD on the day of ``hours`` (what markets display)."""
        day = int(hours // 24)
        base = {"USD": 1.0, "EUR": 0.92, "RUB": 92.0, "BTC": 1 / 64_000, "XMR": 1 / 165, "LTC": 1 / 85, "USDT": 1.0}[currency]
        if currency in ("USD", "USDT"):
            return base
        return base * (1 + (unit(self.seed, "fx", currency, day) - 0.5) * 0.08)


