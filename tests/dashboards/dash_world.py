"""A small fictional world for the dashboard tests: markets, vendors, listings over
twelve weeks, alerts, one hostile listing, and a real WARC record per capture.

Everything is invented (vendor handles, market ids, ``.onion`` names that are not
valid v3 addresses). Nothing here describes how to make or use a drug.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from narcwatch.crawler.models import Capture, Listing, Money
from narcwatch.dashboards.views import CrawlStatus, Snapshot
from narcwatch.extract.models import Extraction, Identifier, IdentifierKind, Offer, SubstanceMention, Wallet
from narcwatch.index.models import Alert, Severity


@dataclass
class Doc:
    """One fictional listing: its item and extraction, each observation, each capture."""

    listing: Listing
    extraction: Extraction | None
    snapshots: list[Snapshot] = field(default_factory=list)
    captures: list[Capture] = field(default_factory=list)


@dataclass
class World:
    """The world before ingest; ``dash_index_world.build_index`` writes it where a crawl,
    ingest and the alert engine would (the real store, outbox, manifest, status files)."""

    docs: dict[str, Doc] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)
    crawl: dict[str, CrawlStatus] = field(default_factory=dict)

    def add(self, doc: Doc) -> None:
        self.docs[doc.listing.key] = doc

    def save_alerts(self, alerts: Sequence[Alert]) -> None:
        self.alerts.update((a.id, a) for a in alerts)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # a Monday
XSS_TITLE = '<img src=x onerror="window.__pwned=1;alert(1)"><script>window.__pwned=2</script> Oxy 80 "bulk"'
XSS_KEY = "market-b:666"
HOSTILE_PAGE = (b"<html><head><script>window.parent.__pwned=3;alert(3)</script></head><body>"
                b"<h1>Fictional listing page</h1><img src='http://tracker.invalid/pixel.png'>"
                b"<p>N-pyrrolidino etonitazene 1g</p></body></html>")
BTC = "bc1qfictionalwalletxxxxxxxxxxxxxxxxxxxxxx"  # not a valid address; display only

SUBSTANCES = [
    ("protonitazene", "nitazene", Decimal("120")),
    ("metonitazene", "nitazene", Decimal("95")),
    ("cocaine", "stimulant", Decimal("80")),
    ("3-MMC", "cathinone", Decimal("14")),
]


def _warc(evidence: Path, name: str, url: str, body: bytes) -> tuple[str, int]:
    evidence.mkdir(parents=True, exist_ok=True)
    path = evidence / name
    with path.open("ab") as f:
        offset = f.tell()
        writer = WARCWriter(f, gzip=True)
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                           http_headers=headers)
        writer.write_record(record)
        record.raw_stream.close()
    return name, offset


def build(data_dir: Path, *, listings_per_vendor: int = 3) -> World:
    store = World()
    evidence = data_dir / "evidence"
    vendors = [("GreenLeafPharma", ["market-a", "market-b"]), ("NordicChem", ["market-a"]),
               ("QuietHarbor", ["market-c", "tg-harbor"])]
    n = 0
    for vendor, sources in vendors:
        for j in range(listings_per_vendor):
            sub, cls, base = SUBSTANCES[(n + j) % len(SUBSTANCES)]
            source = sources[j % len(sources)]
            site_id = str(100 + n)
            n += 1
            title = f"{sub} {1 + j}g premium quality"
            snaps, caps = [], []
            for week in range(0, 12, 2):
                at = T0 + timedelta(weeks=week, hours=j)
                ppg = base + Decimal(week) - Decimal(j)
                body = f"<html><body><h1>{title}</h1><p>{ppg} USD</p></body></html>".encode()
                cap_id = f"cap-{site_id}-{week}"
                warc, off = _warc(evidence, "crawl-test.warc.gz", f"http://{source}.fictional.onion/item/{site_id}", body)
                caps.append(Capture(id=cap_id, source=source, url=f"http://{source}.fictional.onion/item/{site_id}",
                                    status=200, fetched_at=at, sha256=hashlib.sha256(body).hexdigest(),
                                    content_type="text/html", length=len(body), warc_file=warc, warc_offset=off))
                snaps.append(Snapshot(seen_at=at, title=title, price=Money(amount=ppg * (1 + j), currency="USD"),
                                      usd=ppg * (1 + j), usd_per_gram=ppg, capture_id=cap_id,
                                      capture_sha256=caps[-1].sha256))
            listing = Listing(source=source, url=caps[-1].url, site_id=site_id, title=title, vendor=vendor,
                              price=snaps[-1].price, ships_from=["NL", "DE", "CA"][n % 3], ships_to="WW",
                              description=f"Fictional test listing by {vendor}. Stealth shipping.",
                              capture_id=caps[-1].id, capture_sha256=caps[-1].sha256, seen_at=snaps[-1].seen_at)
            extraction = Extraction(
                substances=[SubstanceMention(text=sub, start=0, end=len(sub), canonical=sub, **{"class": cls})],
                offers=[Offer(text=f"{1 + j}g", start=0, end=2, quantity=Decimal(1 + j), unit="g",
                              price=snaps[-1].usd, currency="USD", usd=snaps[-1].usd, usd_per_unit=snaps[-1].usd_per_gram)],
                wallets=[Wallet(text=BTC, start=0, end=len(BTC), chain="BTC", address=BTC, kind="p2wpkh")],
                identifiers=[Identifier(text=f"@{vendor.lower()}", start=0, end=5, kind=IdentifierKind.TELEGRAM,
                                        value=f"@{vendor.lower()}")])
            store.add(Doc(listing, extraction, snaps, caps))
    # The hostile listing: script payloads in the title, a hostile captured page.
    warc, off = _warc(evidence, "crawl-hostile.warc.gz", "http://market-b.fictional.onion/item/666", HOSTILE_PAGE)
    cap = Capture(id="cap-666", source="market-b", url="http://market-b.fictional.onion/item/666", status=200,
                  fetched_at=T0 + timedelta(weeks=10), sha256=hashlib.sha256(HOSTILE_PAGE).hexdigest(),
                  warc_file=warc, warc_offset=off)
    hostile = Listing(source="market-b", url=cap.url, site_id="666", title=XSS_TITLE, vendor="<b>EvilVendor</b>",
                      price=Money(amount=Decimal("300"), currency="USD"), ships_from="NL",
                      description="<script>window.__pwned=4</script>javascript:alert(5)", capture_id=cap.id)
    store.add(Doc(hostile, Extraction(substances=[SubstanceMention(text="Oxy", start=0, end=3, canonical="oxycodone",
                                                                 **{"class": "other_opioid"})]),
                  [Snapshot(seen_at=cap.fetched_at, title=XSS_TITLE, price=hostile.price, capture_id=cap.id,
                            capture_sha256=cap.sha256)], [cap]))
    store.save_alerts([
        Alert(id="al-1", rule_id="r-nitazene", rule_name="New nitazene listing", severity=Severity.HIGH,
              created_at=T0 + timedelta(weeks=11), event_ids=["ev-1"], summary="protonitazene listed by GreenLeafPharma on market-a"),
        Alert(id="al-2", rule_id="r-wallet", rule_name="Wallet seen on a new market", severity=Severity.MEDIUM,
              created_at=T0 + timedelta(weeks=11, days=1), event_ids=["ev-2"], summary='<script>window.__pwned=6</script>wallet reuse'),
    ])
    store.crawl["market-a"] = CrawlStatus(last_crawl_at=T0 + timedelta(weeks=11), finished=True, items=42,
                                          errors=("HTTP 503 on /page/4",))
    return store
