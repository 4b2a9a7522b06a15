"""``reextract`` with rates files configured fills USD for documents ingested without them.

Real pieces: WARC captures from ``EvidenceArchive``, a ``SqliteStore``, the shipped
pipeline, a rates CSV on disk; and the CLI end to end on the same data directory.
"""

from __future__ import annotations

import sys
import subprocess
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from narcwatch.crawler.evidence.archive import EvidenceArchive
from narcwatch.crawler.models import Listing, Money
from narcwatch.crawler.paths import DataDir
from narcwatch.extract.rates import RatesFileProvider
from narcwatch.index.sqlite import SqliteStore
from narcwatch.ingest import ingest_items
from narcwatch.reextract import reextract

SEEN = datetime(2025, 11, 3, 12, 0, tzinfo=timezone.utc)
RATES = "date,currency,usd\n2025-11-01,EUR,1.10\n2025-11-03,RUB,0.0125\n2025-11-05,EUR,9.99\n"


def _listings(data: DataDir) -> list[Listing]:
    archive = EvidenceArchive(data.evidence, "sandbox-market", "c1")
    out = []
    for n, (body, price) in enumerate([("Speed paste 5g 100€ | 10g 180€", Money(amount=100, currency="EUR")),
                                        ("Шишки 2г 3000₽", Money(amount=3000, currency="RUB")),
                                        ("Old stock 1g 5 XMR", Money(amount=5, currency="XMR"))]):
        url = f"http://sandboxmarketabcdefghijklmnop.onion/listing/{n}"
        cap = archive.record(url=url, method="GET", request_headers=[], request_body=b"", status=200,
                             response_headers=[(b"Content-Type", b"text/html")], body=f"<p>{body}</p>".encode(),
                             fetched_at=SEEN)
        out.append(Listing(source="sandbox-market", url=url, site_id=str(n), crawl_id="c1", seen_at=SEEN,
                           capture_id=cap.id, capture_sha256=cap.sha256, title=f"listing {n}", description=body,
                           price=price))
    archive.close()
    return out


def test_reextract_fills_usd_at_the_capture_days_rate(tmp_path: Path) -> None:
    data = DataDir.at(tmp_path / "data")
    items = _listings(data)
    store = SqliteStore(data.store)
    try:
        ingest_items(store, items)  # no rates configured yet
        assert [store.listing(i.key).current["usd_per_gram"] for i in items] == [None, None, None]  # type: ignore[union-attr]
        assert not store.search("usd_per_gram:<50").hits
        (data.root / "rates").mkdir()
        (data.root / "rates" / "feed.csv").write_text(RATES, encoding="utf-8")
        rates = RatesFileProvider.from_path(data.root / "rates" / "feed.csv")

        stats = reextract(store, data.evidence, rates=rates)

        assert stats.usd_filled == 2 and stats.skipped == {}
        eur, rub, xmr = (store.listing(i.key).current for i in items)  # type: ignore[union-attr]
        # 10g 180€ at the 2025-11-01 rate (the nearest earlier day), never the later 9.99
        assert Decimal(str(eur["usd_per_gram"])) == Decimal("19.8") and Decimal(str(eur["price_usd"])) == Decimal("110")
        assert Decimal(str(rub["usd_per_gram"])) == Decimal("18.75")
        assert xmr["usd_per_gram"] is None  # no XMR rate: counted, not invented
        assert rates.misses == {"no_rates_for_currency": 1}
        assert {o.get("currency") for o in eur["offers"]} == {"EUR"} and all("usd" in o for o in eur["offers"])
        assert sorted(h.key for h in store.search("usd_per_gram:<20").hits) == sorted([items[0].key, items[1].key])
        # the observation history keeps what was seen then
        assert store.listing(items[0].key).snapshots[0]["usd_per_gram"] is None  # type: ignore[union-attr]
    finally:
        store.close()

    # The CLI picks <data>/rates/ up by itself; a second run changes nothing.
    out = subprocess.run([sys.executable, "-m", "narcwatch", "--data-dir", str(data.root), "reextract"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "0 listings got USD per gram" in text and "'no_rates_for_currency': 1" in text  # rates were loaded
