"""``sandbox``: the local replica of the world the crawler faces."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from narcwatch.cli._common import console, fail

app = typer.Typer(help="Serve the sandbox and write its ground truth.", no_args_is_help=True)

_FAULTS_HELP = ("Comma-separated faults, e.g. 'queue,rate_limit_every=10,hostile_share=0.2' or 'all' "
                "(see narcwatch.sandbox.faults.FaultConfig for every knob).")


def _world(seed: int, size: str):  # type: ignore[no-untyped-def]
    from narcwatch.sandbox import World
    try:
        return World(seed=seed, size=size)
    except ValueError as exc:
        fail(str(exc))


def _faults(spec: str | None):  # type: ignore[no-untyped-def]
    from narcwatch.sandbox import FaultConfig
    try:
        return FaultConfig.parse(spec)
    except ValueError as exc:
        fail(str(exc))


@app.command(help="Serve all sandbox sources on 127.0.0.1 until interrupted.")
def serve(
    seed: Annotated[int, typer.Option(help="World seed: same seed, same pages.")] = 1,
    size: Annotated[str, typer.Option(help="demo (~2,000 listings), 1m, or a number of listings.")] = "demo",
    faults: Annotated[Optional[str], typer.Option(help=_FAULTS_HELP)] = None,
    port: Annotated[int, typer.Option(help="First port for clearnet sources (0 = ephemeral).")] = 8600,
    socks_port: Annotated[int, typer.Option(help="SOCKS5 port (0 = ephemeral).")] = 9650,
    at: Annotated[float, typer.Option("--at", help="Start the simulated clock at this hour.")] = 0.0,
    speed: Annotated[float, typer.Option(help="Simulated hours per real minute (0 = clock stands still).")] = 0.0,
    require_login: Annotated[bool, typer.Option("--require-login", help="Markets demand a session (login + CAPTCHA).")] = False,
) -> None:
    from narcwatch.sandbox import Clock, SandboxServer
    world, cfg = _world(seed, size), _faults(faults)
    server = SandboxServer(world, cfg, clock=Clock(at), require_login=require_login, port=port, socks_port=socks_port)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        fail(f"cannot start the sandbox: {exc} (try --port 0 --socks-port 0)")
    console.print(f"[bold]narcwatch sandbox[/bold] seed={seed} listings={world.size:,} clock={at:g} h", highlight=False, markup=True)
    for s in server.sources:
        console.print(f"  {s.id:<22} {s.kind:<9} {s.network:<9} {s.base_url}", highlight=False)
    console.print(f"  SOCKS5 (onion only)    {server.socks_url}", highlight=False)
    if cfg.any:
        console.print(f"  faults: {faults}", highlight=False)
    stop = threading.Event()
    # Both signals only set the event, and before the prompt is printed: a Ctrl-C that came
    # between the prompt and the loop once escaped as KeyboardInterrupt and skipped the stop.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    console.print("Ctrl-C to stop.", highlight=False)
    try:
        while not stop.wait(60 if speed else 3600):
            if speed:
                server.clock.advance(hours=speed)
    finally:
        server.stop()
        console.print(f"served {server.requests_served:,} requests", highlight=False)


@app.command(help="Write the ground truth of every sandbox page as JSONL.")
def truth(
    seed: Annotated[int, typer.Option(help="World seed.")] = 1,
    size: Annotated[str, typer.Option(help="demo, 1m, or a number of listings.")] = "demo",
    at: Annotated[float, typer.Option("--at", help="Simulated hour to describe.")] = 0.0,
    out: Annotated[Path, typer.Option("-o", "--out", help="Output file ('-' for stdout).")] = Path("-"),
    port: Annotated[int, typer.Option(help="First clearnet port, as given to 'sandbox serve'.")] = 8600,
    faults: Annotated[Optional[str], typer.Option(help="Faults that change content (hostile_share).")] = None,
) -> None:
    from narcwatch.sandbox import write_truth
    world, cfg = _world(seed, size), _faults(faults)
    if str(out) == "-":
        n = write_truth(sys.stdout, world, at, cfg, port)
    else:
        n = write_truth(out, world, at, cfg, port)
        console.print(f"wrote {n:,} records to {out}", highlight=False)


@app.command("telegram-export", help="Write a sandbox channel as a Telegram Desktop JSON export.")
def telegram_export(
    channel: Annotated[str, typer.Argument(help="Channel username (see 'sandbox serve').")],
    seed: Annotated[int, typer.Option(help="World seed.")] = 1,
    size: Annotated[str, typer.Option(help="demo, 1m, or a number of listings.")] = "demo",
    at: Annotated[float, typer.Option("--at", help="Export the channel as of this simulated hour.")] = 0.0,
    out: Annotated[Path, typer.Option("-o", "--out", help="Output file (result.json).")] = Path("result.json"),
) -> None:
    from narcwatch.sandbox.tgexport import write_export
    world = _world(seed, size)
    try:
        n = write_export(out, world, channel, at)
    except KeyError as exc:
        fail(str(exc.args[0]))
    console.print(f"wrote {n:,} messages to {out}", highlight=False)
