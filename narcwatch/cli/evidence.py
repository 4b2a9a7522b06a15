"""``evidence``: verify the archive's hashes, show a capture."""

from __future__ import annotations

import typer

from narcwatch.cli._common import console, err_console, fail, state, styled

app = typer.Typer(help="Verify and inspect the evidence archive.", no_args_is_help=True)


@app.command(help="Re-hash every archived payload and report any mismatch (exit 1 on any).")
def verify(ctx: typer.Context) -> None:
    from narcwatch.crawler.evidence.verify import Mismatch, verify_archive

    root = state(ctx).data.evidence
    if not (root / "manifest.sqlite").exists():
        fail(f"no evidence archive at {root}")
    ok = bad = 0
    for outcome in verify_archive(root):
        if isinstance(outcome, Mismatch):
            bad += 1
            err_console.print(styled(("MISMATCH", "red"), f" {outcome}"), highlight=False)
        else:
            ok += 1
    console.print(f"{ok} capture(s) verified, {bad} mismatch(es)")
    if bad:
        raise typer.Exit(1)


@app.command(help="Print what a capture holds and when it was taken.")
def show(ctx: typer.Context, capture: str,
         body: bool = typer.Option(False, "--body", help="Also print the archived payload (text).")) -> None:
    from narcwatch.crawler.evidence.manifest import Manifest
    from narcwatch.crawler.evidence.verify import read_payload

    root = state(ctx).data.evidence
    manifest = Manifest(root / "manifest.sqlite")
    try:
        cap = manifest.get(capture)
        if cap is None:
            matches = manifest.find(capture)
            if len(matches) != 1:
                fail(f"unknown capture {capture!r}" + (f"; candidates: {', '.join(m.id for m in matches)}" if matches else ""))
            cap = matches[0]
    finally:
        manifest.close()
    for key, value in cap.model_dump(mode="json").items():
        console.print(f"{key:>13}: {value}", highlight=False, markup=False)
    if body:
        payload, _ = read_payload(root, cap)
        console.print(payload.decode("utf-8", "replace"), highlight=False, markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="evidence", help="Verify the evidence archive and show captures.")
