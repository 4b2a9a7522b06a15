"""``reextract``: a listing ingested under a reduced lexicon is found after the update.

Real pieces throughout: a WARC capture written by ``EvidenceArchive``, a ``SqliteStore``,
the shipped lexicon and pipeline. The "old" extraction is the same pipeline's substance
matcher over the lexicon without xylazine - what the index held before the entry existed.
"""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from narcwatch.crawler.evidence.archive import EvidenceArchive
from narcwatch.crawler.models import Listing, Money
from narcwatch.extract.lexicon import load_lexicon
from narcwatch.extract.models import Extraction, SubstanceClass
from narcwatch.extract.pipeline import extract, extract_many
from narcwatch.extract.substances import find_substances
from narcwatch.index.models import EventType
from narcwatch.index.sqlite import SqliteStore
from narcwatch.reextract import reextract

SEEN = datetime(2025, 11, 3, 12, 0, tzinfo=timezone.utc)
TITLE = "Tranq dope 5g"
BODY = "Strong batch, xylazine cut. 5g 200$ | 10g 380$. Ships from NL."


def _listing(archive: EvidenceArchive, n: int, body: str = BODY, title: str = TITLE) -> Listing:
    url = f"http://sandboxmarketabcdefghijklmnop.onion/listing/{n}"
    page = f"<html><h1>{title}</h1><p>{body}</p></html>".encode()
    cap = archive.record(url=url, method="GET", request_headers=[], request_body=b"", status=200,
                         response_headers=[(b"Content-Type", b"text/html")], body=page, fetched_at=SEEN)
    return Listing(source="sandbox-market", url=url, site_id=str(n), crawl_id="c1", seen_at=SEEN,
                   capture_id=cap.id, capture_sha256=cap.sha256, title=title, description=body,
                   price=Money(amount=200, currency="USD"))


def _old_extraction(listing: Listing) -> Extraction:
    """What a pipeline without the xylazine entry extracted."""
    text = f"{listing.title}\n{listing.description}"
    ext = extract(text, id=listing.key)
    ext.substances = find_substances(text, lexicon=load_lexicon().without(["xylazine"]))
    return ext


@pytest.fixture
def world(tmp_path: Path) -> tuple[SqliteStore, Path, list[Listing]]:
    root = tmp_path / "evidence"
    archive = EvidenceArchive(root, "sandbox-market", "c1")
    listings = [_listing(archive, 1), _listing(archive, 2, "Plain heroin, 1g 60$.", title="No4 heroin 1g")]
    archive.close()
    store = SqliteStore(tmp_path / "store.sqlite")
    store.ingest([(item, _old_extraction(item)) for item in listings])
    return store, root, listings


def test_reduced_lexicon_misses_xylazine_full_lexicon_finds_it(world: tuple[SqliteStore, Path, list[Listing]]) -> None:
    store, root, listings = world
    key = listings[0].key
    assert "Xylazine" not in store.listing(key).current["substances"]  # type: ignore[union-attr]
    assert not store.search("substance:xylazine").hits

    stats = reextract(store, root)

    assert (stats.documents, stats.verified, stats.updated, stats.skipped) == (2, 2, 2, {})
    assert stats.retroactive == 1
    doc = store.listing(key).current  # type: ignore[union-attr]
    assert "Xylazine" in doc["substances"] and SubstanceClass.ADULTERANT.value in doc["classes"]
    assert doc["retroactive_substances"] == ["Xylazine"]
    assert [h.key for h in store.search("substance:xylazine").hits] == [key]
    events = store.events(types=[EventType.RETROACTIVE_MATCH.value])
    assert [(e.listing_key, e.details["substance"], e.capture_id) for e in events] == [
        (key, "Xylazine", listings[0].capture_id)]
    # The other listing had nothing new: no retroactive marks, no event.
    assert store.listing(listings[1].key).current["retroactive_substances"] == []  # type: ignore[union-attr]


def test_retroactive_mentions_are_marked(world: tuple[SqliteStore, Path, list[Listing]]) -> None:
    store, root, listings = world
    seen: list[Extraction] = []

    def spy(pairs: list[tuple[str, str]]) -> list[Extraction]:
        out = list(extract_many(list(pairs)))
        seen.extend(out)
        return out

    reextract(store, root, extractor=spy)
    by_id = {e.id: e for e in seen}
    marks = {(m.canonical, m.retroactive) for m in by_id[listings[0].key].substances}
    assert ("Xylazine", True) in marks
    assert all(not m.retroactive for m in by_id[listings[1].key].substances)


def test_second_run_finds_nothing_new(world: tuple[SqliteStore, Path, list[Listing]]) -> None:
    store, root, _ = world
    reextract(store, root)
    again = reextract(store, root)
    assert (again.retroactive, again.events) == (0, 0)
    assert len(store.events(types=[EventType.RETROACTIVE_MATCH.value])) == 1


def _delete_warc(root: Path, listing: Listing) -> None:
    for warc in root.rglob("*.warc.gz"):
        warc.unlink()


def _rewrite_manifest_digest(root: Path, listing: Listing) -> None:
    with sqlite3.connect(root / "manifest.sqlite") as db:
        db.execute("UPDATE captures SET sha256 = ? WHERE id = ?", ("0" * 64, listing.capture_id))


def _rewrite_payload(root: Path, listing: Listing) -> None:
    """Swap the record's payload bytes for others of the same length (digest left stale)."""
    warc = next(root.rglob("*.warc.gz"))
    raw = gzip.decompress(warc.read_bytes())
    raw = raw.replace(b"Strong batch", b"Weak!! batch", 1)
    warc.write_bytes(gzip.compress(raw))


@pytest.mark.parametrize(("tamper", "reason"), [
    (_delete_warc, "WARC file missing"),
    (_rewrite_manifest_digest, "cited sha256 differs from manifest"),
    (_rewrite_payload, None),  # offsets move when the file is recompressed: any problem, never a pass
])
def test_capture_that_no_longer_checks_out_is_skipped(world: tuple[SqliteStore, Path, list[Listing]],
                                                      tamper: Callable[[Path, Listing], None], reason: str | None) -> None:
    store, root, listings = world
    tamper(root, listings[0])

    stats = reextract(store, root)

    assert stats.verified <= 1 and stats.verified + sum(stats.skipped.values()) == 2
    if reason is not None:
        assert stats.skipped.get(reason, 0) >= 1
    assert "Xylazine" not in store.listing(listings[0].key).current["substances"]  # type: ignore[union-attr]


def test_dry_run_writes_nothing(world: tuple[SqliteStore, Path, list[Listing]]) -> None:
    store, root, listings = world
    stats = reextract(store, root, dry_run=True)
    assert stats.retroactive == 1
    assert "Xylazine" not in store.listing(listings[0].key).current["substances"]  # type: ignore[union-attr]
    assert not store.events(types=[EventType.RETROACTIVE_MATCH.value])


def test_verify_needs_an_archive(world: tuple[SqliteStore, Path, list[Listing]]) -> None:
    store, _, _ = world
    with pytest.raises(ValueError, match="evidence"):
        reextract(store, None)
    assert reextract(store, None, verify=False).verified == 0


def test_cli_reextract_on_a_data_dir(data_dir: Path) -> None:
    from typer.testing import CliRunner

    from narcwatch.cli import app
    from narcwatch.crawler.paths import DataDir

    data = DataDir.at(data_dir)
    archive = EvidenceArchive(data.evidence, "sandbox-market", "c1")
    listing = _listing(archive, 7)
    archive.close()
    store = SqliteStore(data.store)
    store.ingest([(listing, _old_extraction(listing))])
    store.close()

    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), "reextract"])

    assert result.exit_code == 0, result.output
    assert "1 documents, 1 verified, 1 updated, 1 retroactive matches" in result.output
    store = SqliteStore(data.store)
    try:
        assert "Xylazine" in store.listing(listing.key).current["substances"]  # type: ignore[union-attr]
    finally:
        store.close()
