"""Store fixtures: one contract suite, parametrized over every backend that can run here.

``sqlite`` always; ``osmem`` (a real in-memory OpenSearch-compatible server from the
``osmem-server`` wheel, started on port 0) through opensearch-py; ``elasticsearch``
only when NARCWATCH_ES_URL points at a real cluster (skipped with the reason otherwise).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from narcwatch.crawler.models import Listing, Money, Post, VendorProfile
from narcwatch.extract.models import Extraction, Identifier, IdentifierKind, Offer, SubstanceMention, Wallet

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)


def week(n: int) -> datetime:
    return T0 + timedelta(days=7 * n)


def listing(source: str, site_id: str, title: str, *, crawl: str = "c1", at: datetime = T0, vendor: str | None = "DrGreen",
            price: str | None = "200", currency: str = "USD", description: str = "", ships_from: str | None = None,
            **kw: Any) -> Listing:
    return Listing(source=source, site_id=site_id, url=f"http://{source}.example/item/{site_id}", crawl_id=crawl,
                   seen_at=at, title=title, vendor=vendor, description=description, ships_from=ships_from,
                   price=Money(amount=Decimal(price), currency=currency) if price else None,
                   capture_id=f"cap-{source}-{site_id}-{crawl}", capture_sha256=hashlib.sha256(f"{source}/{site_id}/{crawl}".encode()).hexdigest(),
                   **kw)


def extraction(substance: str | None = None, cls: str = "other", *, grams: str | None = None, usd: str | None = None,
               novel: bool = False, wallet: str | None = None, pgp: str | None = None,
               ships_from: tuple[str, ...] = (), ships_to: tuple[str, ...] = ()) -> Extraction:
    subs = [SubstanceMention(canonical=substance, start=0, end=1, novel=novel, **{"class": cls})] if substance else []
    offers = []
    if grams and usd:
        offers.append(Offer(start=0, end=1, quantity=Decimal(grams), unit="g", price=Decimal(usd), currency="USD",
                            usd=Decimal(usd), usd_per_unit=Decimal(usd) / Decimal(grams)))
    return Extraction(
        substances=subs, offers=offers,
        wallets=[Wallet(start=0, end=1, chain="BTC", address=wallet)] if wallet else [],
        identifiers=[Identifier(start=0, end=1, kind=IdentifierKind.PGP_FINGERPRINT, value=pgp)] if pgp else [],
        ships_from=list(ships_from), ships_to=list(ships_to))


def corpus() -> list[tuple[Any, Extraction | None]]:
    """A small fictional world: three markets, four vendors, one forum post."""
    return [
        (listing("alpha", "1", "Etonitazene powder 5g lab grade", price="200", description="Stealth shipping, NL stock"),
         extraction("etonitazene", "nitazene", grams="5", usd="200", novel=True, wallet="bc1qfictionalwalletaaaa",
                    ships_from=("NL", "EU"), ships_to=("WW",))),
        (listing("alpha", "2", "Protonitazene 1g", price="90", vendor="NitroLab"),
         extraction("protonitazene", "nitazene", grams="1", usd="90", ships_from=("DE", "EU"))),
        (listing("alpha", "3", "Cocaine 1g fishscale", price="80", vendor="SnowWhite", ships_from="CO"),
         extraction("cocaine", "stimulant", grams="1", usd="80")),
        (listing("beta", "9", "Etonitazene 10g bulk", price="350", description="same lab, new market"),
         extraction("etonitazene", "nitazene", grams="10", usd="350", ships_from=("NL",), pgp="ABCD1234ABCD1234ABCD1234ABCD1234ABCD1234")),
        (listing("beta", "10", "Ketamine shards 5g", price="120", vendor="KetKing", currency="EUR"),
         extraction("ketamine", "dissociative", ships_from=("UK",))),
        (listing("gamma", "7", "Alprazolam 2mg x100", price="150", vendor="BenzoBarn", available=False),
         extraction("alprazolam", "benzodiazepine")),
        (Post(source="forum", site_id="p1", url="http://forum.example/t/1#p1", crawl_id="c1", seen_at=T0,
              author="DrGreen", title="Review", text="Got the etonitazene from DrGreen, stealth was good",
              capture_id="cap-forum-p1", capture_sha256="b" * 64),
         extraction("etonitazene", "nitazene")),
        (VendorProfile(source="alpha", url="http://alpha.example/v/drgreen", site_id="v-drgreen", crawl_id="c1",
                       seen_at=T0, handle="DrGreen", pgp_key="-----BEGIN PGP PUBLIC KEY BLOCK----- (fictional)",
                       sales=120, capture_id="cap-alpha-v", capture_sha256="c" * 64), None),
    ]


def _sqlite(tmp_path: Path) -> Any:
    from narcwatch.index.sqlite import SqliteStore

    return SqliteStore(tmp_path / "store.sqlite")


def _search_engine() -> Any:
    try:
        from narcwatch.index.search_engine import SearchEngineStore
    except ImportError:
        pytest.skip("the Elasticsearch/OpenSearch backend (index/search_engine.py) has not landed yet")
    return SearchEngineStore


@pytest.fixture(scope="session")
def osmem() -> Iterator[Any]:
    try:
        from osmem_server import OsmemServer
    except ImportError:  # pragma: no cover - test extra not installed
        pytest.skip("osmem-server not installed (pip install -e '.[test]')")
    server = OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    yield server
    server.close()
    for stream in (server.process.stdout, server.process.stdin):  # the launcher leaves its pipes open
        if stream is not None and not stream.closed:
            stream.close()


@pytest.fixture(params=["sqlite", pytest.param("osmem", marks=pytest.mark.server),
                        pytest.param("elasticsearch", marks=pytest.mark.server)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    kind = request.param
    if kind == "sqlite":
        s = _sqlite(tmp_path)
    elif kind == "osmem":
        SearchEngineStore = _search_engine()

        clone = request.getfixturevalue("osmem").clone()
        request.addfinalizer(clone.close)
        s = SearchEngineStore.connect("opensearch", clone.url, prefix=f"nw{uuid.uuid4().hex[:8]}", refresh=True)
    else:
        url = os.environ.get("NARCWATCH_ES_URL")
        if not url:
            pytest.skip("NARCWATCH_ES_URL not set: no real Elasticsearch to test against")
        SearchEngineStore = _search_engine()
        s = SearchEngineStore.connect("elasticsearch", url, prefix=f"nwtest{uuid.uuid4().hex[:8]}", refresh=True)
        request.addfinalizer(s.drop_all)
    yield s
    s.close()
