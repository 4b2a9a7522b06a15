"""A vendor account's profile as markets show it: join date, sales, feedback, about, PGP.

Shared by the market sites; ``vendor_truth`` records the identifiers the page shows and
the person behind the account (which accounts are the same person).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from narcwatch.sandbox._rng import h64, rng
from narcwatch.sandbox.clock import at
from narcwatch.sandbox.world import Account, World

if TYPE_CHECKING:
    from narcwatch.sandbox.listings import ListingData
    from narcwatch.sandbox.sites._base import Site

__all__ = ["market_truth", "vendor_truth", "vendor_view"]


def market_truth(site: "Site", hours: float, listing: "Callable[[ListingData], dict[str, object]]",
                 vendor_url: Callable[[Account], str]) -> Iterator[dict[str, object]]:
    """A market's ground truth at ``hours``: the record of each listing it shows then (from
    ``listing``, which knows the market's currency and URLs), then each active vendor's
    profile at ``vendor_url``; nothing while the market is down."""
    ls = site.world.listings
    if not site.world.markets[site.id].up(hours):
        return
    for j in ls.truth_indices(site.id, hours):
        d = ls.get(site.id, j)
        if d is not None and ls.visible(d, hours):
            yield listing(d)
    for acc in site.world.accounts(site.id):
        if acc.active(hours):
            yield vendor_truth(site, acc, hours, vendor_url(acc))


def vendor_view(world: World, acc: Account, hours: float) -> dict[str, object]:
    person = world.persona_of(acc)
    r = rng(world.seed, "vendor-page", acc.id)
    age_days = max(0.0, (hours - acc.joined) / 24)
    sales = int(age_days * (0.5 + r.random() * 4))
    fb = 95 + (h64(world.seed, "fb", acc.id) % 50) / 10
    ru = world.markets[acc.market].style == "ru"
    style = world.cast.styles.get(acc.id)  # an identity-cast account writes in its own voice
    if style is not None:
        lines = [f"{style.about} {style.signoff}"]
    elif not ru:
        lines = [r.choice(["Quality first. Stealth shipping worldwide.", "Reliable vendor since years. No reships on FE.",
                           "Top products, fair prices, fast dispatch.", "Family business, lab-tested products."])]
    else:
        lines = [r.choice(["Работаем честно, клады по всему городу.", "Качество проверено, перезаклад при ненаходе."])]
    contacts = person.contacts
    shown = sorted(contacts)[: 1 + h64(world.seed, "shown", acc.id) % len(contacts)]
    for kind in shown:
        lines.append(f"{kind.capitalize()}: {contacts[kind]}")
    chains = ["XMR", "BTC"] if acc.via != "migrated-pgp" else ["BTC"]
    wallets = []
    if acc.via == "migrated-wallet" or r.random() < 0.35:
        for chain in chains[: 1 + r.randint(0, 1)]:
            wallets.append(person.wallets[chain])
            lines.append(f"Direct {chain}: {person.wallets[chain].address}")
    decoy = None
    if r.random() < 0.1:
        decoy = ("BTC", person.decoy("BTC", 7))
        lines.append(f"(old address, do not send) {decoy[1]}")
    key = world.pgp_of(acc)
    return {"joined": at(acc.joined).strftime("%Y-%m-%d"), "sales": sales, "feedback": f"{fb:.1f}%",
            "about": "\n".join(lines), "pgp": key.public_block, "fingerprint": key.fingerprint,
            "wallets": wallets, "decoy": decoy, "contacts": {k: contacts[k] for k in shown}}


def vendor_truth(site: object, acc: Account, hours: float, url: str) -> dict[str, object]:
    world: World = site.world  # type: ignore[attr-defined]
    v = vendor_view(world, acc, hours)
    idents = [{"kind": "pgp_fingerprint", "value": v["fingerprint"]}]
    idents += [{"kind": k, "value": val} for k, val in v["contacts"].items()]  # type: ignore[union-attr]
    return {
        "source": acc.market, "url": url, "kind": "vendor", "site_id": acc.handle,
        "fields": {"handle": acc.handle, "joined": v["joined"], "sales": v["sales"], "feedback": v["feedback"],
                   "about": v["about"], "pgp_key": v["pgp"]},
        "substances": [], "offers": [],
        "wallets": [{"chain": w.chain, "network": w.network, "address": w.address, "kind": w.kind} for w in v["wallets"]],  # type: ignore[attr-defined,union-attr]
        "decoys": [{"chain": v["decoy"][0], "address": v["decoy"][1]}] if v["decoy"] else [],  # type: ignore[index]
        "identifiers": idents, "cas": [], "vendor_account": acc.id, "person": f"p{acc.person}", "via": acc.via,
    }
