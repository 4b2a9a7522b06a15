"""``extract`` and ``reextract``: the extraction pipeline on text and on the archive.

``narcwatch extract`` reads stdin line by line: a line that is a JSON object with a
``text`` field (and optionally ``id``) is taken as such, any other line is the text
itself (its id is its 1-based line number). It writes exactly one JSON object per input
line, in order, flushing after each batch so it can sit in a pipe. The output is the
public interface documented in ``extract/README.md``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import Annotated, Any, Optional, TextIO

import typer

from narcwatch.cli._common import console, fail, state

__all__ = ["parse_line", "register", "run_extract"]


def parse_line(line: str, lineno: int) -> tuple[str, str, str | None]:
    """``(id, text, error)`` for one input line. Total: never raises."""
    line = line.rstrip("\r\n")
    if line.lstrip().startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError as exc:
            return str(lineno), "", f"invalid JSON: {exc}"
        if not isinstance(obj, dict):
            return str(lineno), "", "JSON line is not an object"
        text = obj.get("text")
        if not isinstance(text, str):
            return _id(obj.get("id"), lineno), "", 'JSON object has no string "text"'
        return _id(obj.get("id"), lineno), text, None
    return str(lineno), line, None


def _id(value: Any, lineno: int) -> str:
    if value is None or isinstance(value, (dict, list)):
        return str(lineno)
    return str(value)


def _batches(stream: TextIO, size: int) -> Iterator[list[tuple[str, str, str | None]]]:
    batch: list[tuple[str, str, str | None]] = []
    for lineno, line in enumerate(stream, start=1):
        batch.append(parse_line(line, lineno))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_extract(stdin: TextIO, stdout: TextIO, batch_size: int = 64, *, rates: Any = None,
                on: date | None = None) -> int:
    """Extract every line of ``stdin`` to ``stdout``; returns the number of lines. Prices
    convert to USD at the page's own rate, else at ``rates`` (a ``RateProvider``) of day ``on``."""
    from narcwatch.extract.pipeline import extract_many

    count = 0
    context = {"capture_date": on, "rates": rates}
    for batch in _batches(stdin, max(1, batch_size)):
        results = extract_many([(item_id, text) for item_id, text, _ in batch], batch_size=len(batch),
                               context=context)
        for (item_id, _, error), facts in zip(batch, results, strict=True):
            out = facts.model_dump(mode="json", by_alias=True)
            out["id"] = item_id
            if error:
                out["error"] = error
            stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            count += 1
        stdout.flush()
    return count


def register(app: typer.Typer) -> None:
    @app.command(help="Extract substances, offers, wallets and identifiers from text or JSONL on stdin "
                      "(one JSON object out per line in; fields documented in extract/README.md).")
    def extract(
        ctx: typer.Context,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Lines per batch (output is flushed per batch).")] = 64,
        on: Annotated[Optional[str], typer.Option("--on", help="Day the text was seen, YYYY-MM-DD, for exchange rates (default: today, UTC).")] = None,
    ) -> None:
        from narcwatch.extract.rates import RatesFileError, load_rates

        try:
            day = date.fromisoformat(on) if on else datetime.now(timezone.utc).date()
        except ValueError:
            fail(f"--on must be YYYY-MM-DD (got {on!r})", 2)
        cfg = state(ctx).config
        try:  # the configured rates files and <data>/rates/, without creating the data dir
            rates = load_rates(cfg.rates_files, cfg.data_dir)
        except RatesFileError as exc:
            fail(f"unusable rates file(s):\n{exc}")
        run_extract(sys.stdin, sys.stdout, batch_size, rates=rates, on=day)

    @app.command(help="Replay the stored documents through the current pipeline (each capture verified against "
                      "the evidence archive) and update the index; new matches are marked retroactive.")
    def reextract(
        ctx: typer.Context,
        verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Skip documents whose capture no longer hashes right.")] = True,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")] = False,
    ) -> None:
        from narcwatch.index import open_store
        from narcwatch.reextract import reextract as run

        from narcwatch.extract.rates import RatesFileError, load_rates

        st = state(ctx)
        try:  # prices convert at each capture day's rate from these files
            rates = load_rates(st.config.rates_files, st.data.root)
        except RatesFileError as exc:
            fail(f"unusable rates file(s):\n{exc}")
        store = open_store(st.config.store, st.data)
        try:
            if not hasattr(store, "iter_documents"):
                fail(f"re-extraction is not available for the {st.config.store.backend} backend yet")
            stats = run(store, st.data.evidence, verify=verify, dry_run=dry_run, rates=rates)  # type: ignore[arg-type]
        finally:
            store.close()
        skipped = sum(stats.skipped.values())
        console.print(f"{stats.documents} documents, {stats.verified if verify else stats.documents} verified, "
                      f"{stats.updated} updated, {stats.retroactive} retroactive matches, {stats.events} events, "
                      f"{skipped} skipped" + ("" if not skipped else f" {stats.skipped}")
                      + f", {stats.usd_filled} listings got USD per gram"
                      + (f"; prices left without USD: {rates.misses}" if rates is not None and rates.misses else "")
                      + (f", no rates for: {rates.unknown_currencies}" if rates is not None and rates.unknown_currencies else ""))
