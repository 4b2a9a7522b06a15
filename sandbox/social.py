"""Forum threads and Telegram channel messages, derived on demand like listings.

Thread ``i`` and message ``k`` are pure functions of (seed, i|k); their posting times are
monotone in the index, so "what exists at hour h" is a prefix and pagination is
arithmetic. Vendor announcements are clear-signed with the person's real PGP key and
name their accounts on the sandbox markets, which is how "same person" shows in pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from narcwatch.sandbox import lexicon
from narcwatch.sandbox._rng import h64, material, rng, unit
from narcwatch.sandbox.clock import at
from narcwatch.sandbox.ids.onion import onion_v3, onion_v3_decoy
from narcwatch.sandbox.world import Person, World

__all__ = ["ChannelMessage", "ForumPost", "Social", "SUBFORUMS", "Thread"]

SUBFORUMS = {"DarkNetMarkets": "Market news and discussion", "Vendors": "Vendor announcements (PGP signed)",
             "MarketLinks": "Verified market links", "Opiates": "Opioid market reviews", "Scams": "Scam reports"}
_SUB_WEIGHTS = {"DarkNetMarkets": 30, "Vendors": 25, "MarketLinks": 10, "Opiates": 20, "Scams": 15}
_USERS = ["throwaway", "anon", "dnm_user", "quietbuyer", "harm_aware", "crypto_kid", "modteam", "oldtimer", "newbie",
          "reviewer", "night_owl", "greyhat", "opsec_first", "lurker"]
_OTHER_MARKETS = ["Orchid Hub", "Pelican Row", "Granite Market", "Mistral Exchange"]


@dataclass(frozen=True)
class Thread:
    index: int
    site_id: str
    sub: str
    title: str
    author: str
    author_person: int | None
    created: float
    kind: str  # announcement | links | review | discussion | scam
    gap: float  # hours between replies
    cap: int  # replies stop at this many posts

    def posts(self, hours: float) -> int:
        if hours < self.created:
            return 0
        return min(self.cap, 1 + int((hours - self.created) / self.gap))


@dataclass
class ForumPost:
    thread: Thread
    n: int
    author: str
    posted: float
    text: str
    links: list[str] = field(default_factory=list)
    facts: dict[str, list[dict[str, object]]] = field(default_factory=dict)


@dataclass
class ChannelMessage:
    channel: str
    msg_id: int
    posted: float
    text: str
    views: int
    facts: dict[str, list[dict[str, object]]] = field(default_factory=dict)


def _empty_facts() -> dict[str, list[dict[str, object]]]:
    return {"substances": [], "offers": [], "wallets": [], "decoys": [], "identifiers": [], "cas": []}


def _wallet_fact(w: object) -> dict[str, object]:
    return {"chain": w.chain, "network": w.network, "address": w.address, "kind": w.kind}  # type: ignore[attr-defined]


class Social:
    def __init__(self, world: World) -> None:
        self.w = world
        self.seed = world.seed
        scale = max(1.0, world.size / 2000)
        self.threads0 = int(120 * min(scale, 50))
        self.thread_rate = 0.4 * min(scale, 50)  # threads per hour
        self.messages0 = 150
        self.message_rate = 0.25  # messages per hour per channel
        self.channels = {p.channel: p for p in world.persons if p.channel}

    # -- forum --------------------------------------------------------------------------------
    def thread_count(self, hours: float) -> int:
        return self.threads0 + (int(hours * self.thread_rate) + 1 if hours > 0 else 0)

    def thread(self, i: int) -> Thread:
        r = rng(self.seed, "thread", i)
        sub = r.choices(list(_SUB_WEIGHTS), list(_SUB_WEIGHTS.values()))[0]
        created = -unit(self.seed, "thread-age", i) * 1500 if i < self.threads0 else (i - self.threads0 + r.random()) / self.thread_rate
        person = r.randrange(len(self.w.persons))
        p = self.w.persons[person]
        if sub == "Vendors":
            kind, title, author = "announcement", f"[{p.handle}] official announcement - PGP signed", p.handle
        elif sub == "MarketLinks":
            m = r.choice(list(self.w.markets.values()))
            kind, title, author, person = "links", f"{m.name} - current links (verify PGP!)", "modteam", None  # type: ignore[assignment]
        elif sub == "Opiates":
            sub_ = r.choice([s for s in lexicon.SUBSTANCES if s.cls in ("nitazene", "fentanyl_analogue", "other_opioid")])
            kind, title, author, person = "review", f"Review: {sub_.names[0]} from {p.handle}", r.choice(_USERS), None  # type: ignore[assignment]
        elif sub == "Scams":
            kind, title, author, person = "scam", f"SCAM WARNING: fake {p.handle} on Telegram", r.choice(_USERS), None  # type: ignore[assignment]
        else:
            m = r.choice(list(self.w.markets.values()))
            kind, title, author, person = "discussion", r.choice([f"Is {m.name} down?", f"{m.name} withdrawals slow",
                                                                   f"Best market for EU buyers?", f"{m.name} new vendor rules"]), r.choice(_USERS), None  # type: ignore[assignment]
        return Thread(i, f"{h64(self.seed, 'tid', i) % 36**6:06x}"[:6] + f"{i:x}", sub, title, author,
                      person if kind == "announcement" else None, created, kind, 2 + r.random() * 20, r.randint(1, 35))

    def thread_by_site_id(self, site_id: str, hours: float) -> Thread | None:
        try:
            i = int(site_id[6:], 16) if len(site_id) > 6 else -1
        except ValueError:
            return None
        if i < 0 or i >= self.thread_count(hours):
            return None
        t = self.thread(i)
        return t if t.site_id == site_id and t.created <= hours else None

    def threads_in(self, sub: str, hours: float, page: int, per_page: int) -> tuple[list[Thread], int]:
        """Newest first. Scans the recent window only (subforums are capped at 2,000 threads)."""
        n = self.thread_count(hours)
        found: list[Thread] = []
        for i in range(n - 1, max(-1, n - 1 - 10_000), -1):
            t = self.thread(i)
            if t.sub == sub and t.created <= hours:
                found.append(t)
                if len(found) >= 2000:
                    break
        pages = max(1, math.ceil(len(found) / per_page))
        return found[page * per_page:(page + 1) * per_page], pages

    def post(self, t: Thread, n: int) -> ForumPost:
        r = rng(self.seed, "post", t.index, n)
        posted = t.created + n * t.gap
        facts = _empty_facts()
        links: list[str] = []
        if n == 0 and t.kind == "announcement" and t.author_person is not None:
            p = self.w.persons[t.author_person]
            text = self._announcement(p, posted, facts, links)
            author = p.handle
        elif n == 0 and t.kind == "links":
            text, author = self._links(t, r, facts, links), t.author
        elif t.kind == "review" and n == 0:
            text, author = self._review(t, r, facts), t.author
        elif t.kind == "scam" and n == 0:
            p = self.w.persons[h64(self.seed, "scam", t.index) % len(self.w.persons)]
            fake = p.contacts["telegram"] + "_real"
            text = (f"Someone is impersonating {p.handle} on Telegram as {fake}. The real contact is in the signed "
                    f"announcement only. Fake BTC they send: {p.decoy('BTC', t.index)}")
            facts["identifiers"].append({"kind": "telegram", "value": fake})
            facts["decoys"].append({"chain": "BTC", "address": p.decoy("BTC", t.index)})
            author = t.author
        else:
            author = r.choice(_USERS) + str(r.randint(1, 99))
            text = r.choice(["+1, same experience here.", "Thanks for the heads up.", "Any update on this?",
                             "Stay safe everyone, always verify PGP.", "Can confirm, ordered last week, all good.",
                             "Mods please pin this.", "Bump."])
        return ForumPost(t, n, author, posted, text, links, facts)

    def _announcement(self, p: Person, posted: float, facts: dict[str, list[dict[str, object]]], links: list[str]) -> str:
        live = [a for a in p.accounts if a.active(posted)] or p.accounts[:1]
        lines = [f"Hello everyone, this is {p.handle}.", "Where to find us:"]
        for a in live:
            m = self.w.markets[a.market]
            url = f"http://{m.onion}/"
            lines.append(f"* {m.name}: {a.handle} ({url})")
            links.append(url)
            facts["identifiers"].append({"kind": "onion", "value": m.onion})
        chains = ["XMR", "BTC"]
        for chain in chains:
            w = p.wallets[chain]
            lines.append(f"Direct deals {chain}: {w.address}")
            facts["wallets"].append(_wallet_fact(w))
        lines.append(f"Telegram: {p.contacts['telegram']}")
        facts["identifiers"].append({"kind": "telegram", "value": p.contacts["telegram"]})
        lines.append("Never trust a link or address that is not signed with this key.")
        key = p.pgp
        created = int(at(posted).timestamp())
        facts["identifiers"].append({"kind": "pgp_fingerprint", "value": key.fingerprint})
        return key.clearsign("\n".join(lines), created)

    def _links(self, t: Thread, r: "object", facts: dict[str, list[dict[str, object]]], links: list[str]) -> str:
        name = t.title.split(" - ")[0]
        market = next((m for m in self.w.markets.values() if m.name == name), None)
        lines = [f"Official {name} mirrors:"]
        if market is not None:
            lines.append(f"http://{market.onion}/")
            links.append(f"http://{market.onion}/")
            facts["identifiers"].append({"kind": "onion", "value": market.onion})
            phish = onion_v3_decoy(market.onion, t.index)
            lines.append(f"PHISHING, do not use: http://{phish}/")
            facts["decoys"].append({"kind": "onion", "value": phish})
        other = onion_v3(material(self.seed, "other-onion", t.index, n=32))
        lines.append(f"Also up: {_OTHER_MARKETS[t.index % len(_OTHER_MARKETS)]} http://{other}/")
        links.append(f"http://{other}/")
        facts["identifiers"].append({"kind": "onion", "value": other})
        return "\n".join(lines)

    def _review(self, t: Thread, r: "object", facts: dict[str, list[dict[str, object]]]) -> str:
        name = t.title[len("Review: "):].split(" from ")[0]
        sub = next(s for s in lexicon.SUBSTANCES if s.names[0] == name)
        facts["substances"].append({"canonical": sub.canonical, "class": sub.cls, "surface": name, "plain": name,
                                    "evasion": None, "cas": sub.cas})
        return (f"Ordered {name} last week. Stealth was good, arrived in 4 days, weight was correct. "
                "Vendor answered messages fast. Be careful out there, test your stuff.")

    # -- telegram -----------------------------------------------------------------------------
    FIRST_ID = 100

    def message_count(self, channel: str, hours: float) -> int:
        return self.messages0 + (int(hours * self.message_rate) + 1 if hours > 0 else 0)

    def message(self, channel: str, k: int) -> ChannelMessage:
        p = self.channels[channel]
        r = rng(self.seed, "tg", channel, k)
        posted = -(self.messages0 - k) * 6.0 + r.random() * 5 if k < self.messages0 else (k - self.messages0 + r.random()) / self.message_rate
        ru = channel == "sibir_kladmen"
        facts = _empty_facts()
        lines: list[str] = []
        roll = r.random()
        if roll < 0.75:
            cats = ["cannabis", "stimulants", "ecstasy", "cathinones", "benzos"]
            if k >= self.messages0 and r.random() < 0.35:  # new drops now and then: analogues
                cats = ["nitazenes", "fentanyl"]
            chosen = r.sample([s for s in lexicon.SUBSTANCES if s.category in cats], min(3, r.randint(1, 3)))
            lines.append("🔥 НОВОЕ ПОСТУПЛЕНИЕ 🔥" if ru else "🔥 NEW DROP 🔥")
            cur, sym = ("RUB", "₽") if ru else ("EUR", "€")
            for s in chosen:
                name = (s.ru or s.names)[0] if ru else r.choice(s.names)
                qs = (1, 2, 5) if s.unit == "g" else (10, 25, 50)
                ppu = (s.usd[0] + r.random() * (s.usd[1] - s.usd[0])) * self.w.rate(cur, posted)
                tiers = []
                for q in qs:
                    price = int(round(ppu * q * (1 - 0.05 * qs.index(q)) / (50 if ru else 1))) * (50 if ru else 1)
                    price = max(price, 1)
                    label = f"{q}{'г' if ru else 'g'}" if s.unit == "g" else f"{q}{'шт' if ru else 'x'}"
                    tiers.append(f"{label} {price}{sym}")
                    facts["offers"].append({"quantity": str(q), "unit": s.unit, "purity": None, "price": str(price), "currency": cur})
                lines.append(f"▪️ {name} — " + " | ".join(tiers))
                facts["substances"].append({"canonical": s.canonical, "class": s.cls, "surface": name, "plain": name,
                                            "evasion": None, "cas": s.cas})
            lines.append(("Заказ: " if ru else "Order: ") + p.contacts["telegram"])
            facts["identifiers"].append({"kind": "telegram", "value": p.contacts["telegram"]})
            if r.random() < 0.5:
                chain = r.choice(["BTC", "XMR", "TRX", "LTC"])
                lines.append(f"{'Оплата' if ru else 'Pay'} {chain if chain != 'TRX' else 'USDT TRC20'}: {p.wallets[chain].address}")
                facts["wallets"].append(_wallet_fact(p.wallets[chain]))
        elif roll < 0.9:
            acc = p.accounts[0]
            m = self.w.markets[acc.market]
            lines.append(f"Мы на {m.name}: http://{m.onion}/ — ник {acc.handle}" if ru else f"Also on {m.name} as {acc.handle}: http://{m.onion}/")
            facts["identifiers"].append({"kind": "onion", "value": m.onion})
        else:
            lines.append("Осторожно, фейки! Единственный контакт в описании канала." if ru
                         else "Beware of fake channels copying us. Only contact: " + p.contacts["telegram"])
            if not ru:
                facts["identifiers"].append({"kind": "telegram", "value": p.contacts["telegram"]})
        views = 200 + h64(self.seed, "views", channel, k) % 5000
        return ChannelMessage(channel, self.FIRST_ID + k, posted, "\n".join(lines), views, facts)
