"""Identity reads any store: the search-engine backend (osmem, a real OpenSearch-compatible
server) gives the same accounts, links and actors as SQLite for the same ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import stix2

from narcwatch.index.exports import facts_for, to_stix
from narcwatch.index.identity import Account, load_accounts, resolve
from narcwatch.index.sqlite import SqliteStore

from ..conftest import corpus, extraction, listing, week


def _more() -> list[tuple[Any, Any]]:
    """The corpus plus a migration: a new handle on another market with DrGreen's PGP fingerprint."""
    pgp = "ABCD1234ABCD1234ABCD1234ABCD1234ABCD1234"
    return [*corpus(), (listing("gamma", "8", "Etonitazene 5g", vendor="GreenDoc", at=week(1), crawl="c2"),
                        extraction("etonitazene", "nitazene", grams="5", usd="210", pgp=pgp))]


def _summary(accounts: dict[str, Account]) -> list[tuple[Any, ...]]:
    return [(aid, a.first_seen, a.last_seen, a.capture_id, a.pgp_key, sorted(a.identifiers), sorted(a.texts),
             sorted(a.substances.items()), sorted(a.price_levels().items()), a.listings, a.posts, a.vendor_page)
            for aid, a in sorted(accounts.items())]


def test_every_backend_gives_the_same_accounts_and_actors(store: Any, tmp_path: Path) -> None:
    store.ingest(_more())
    ref = SqliteStore(tmp_path / "ref.sqlite")
    ref.ingest(_more())
    ref.close()
    got, want = load_accounts(store), load_accounts(tmp_path / "ref.sqlite")
    assert got and _summary(got) == _summary(want)
    rg, rw = resolve(got), resolve(want)
    assert [(a.id, a.accounts) for a in rg.actors] == [(a.id, a.accounts) for a in rw.actors]
    assert [(l.pair, l.strength, l.confidence) for l in rg.links] == [(l.pair, l.strength, l.confidence) for l in rw.links]
    assert rg.actor_of["beta/drgreen"] == rg.actor_of["gamma/greendoc"]  # a strong link found on this backend
    facts = facts_for(rg)  # so exports work on this backend too
    assert facts and [f.row() for f in facts] == [f.row() for f in facts_for(rw)]
    assert stix2.parse(to_stix(facts).serialize(), allow_custom=True).objects
