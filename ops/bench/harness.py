"""The benchmark harness: ``python -m ops.bench [NAME ...]`` runs named benchmarks.

A benchmark module is ``ops/bench/bench_<area>.py`` exposing ``BENCHMARKS``: a dict of
name -> callable returning a list of ``Result``. The harness prints one table (name,
figure, unit, machine, date) and appends every row to ``ops/bench/results.jsonl`` so the
README's figures can be traced to a run.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Result:
    name: str
    figure: float
    unit: str
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)


Benchmark = Callable[[], list[Result]]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores {cpu}{mem}, Python {platform.python_version()}"


def discover() -> dict[str, Benchmark]:
    found: dict[str, Benchmark] = {}
    sys.path.insert(0, str(HERE.parent.parent))
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(f"ops.bench.{path.stem}")
        for name, fn in getattr(module, "BENCHMARKS", {}).items():
            found[name] = fn
    return found


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    benches = discover()
    if not argv or argv == ["--list"]:
        print("benchmarks:", ", ".join(sorted(benches)) or "(none)")
        if not argv:
            print("usage: python -m ops.bench NAME [NAME ...] | all")
        return 0
    names = sorted(benches) if argv == ["all"] else argv
    unknown = [n for n in names if n not in benches]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(sorted(benches))}", file=sys.stderr)
        return 2
    mach, date = machine(), datetime.now(timezone.utc).strftime("%Y-%m-%d")
    rows: list[Result] = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += benches[name]()
    width = max([len(r.name) for r in rows] + [4])
    print(f"{'name':<{width}}  {'figure':>14}  {'unit':<16}  machine | date")
    with (HERE / "results.jsonl").open("a", encoding="utf-8") as out:
        for r in rows:
            print(f"{r.name:<{width}}  {r.figure:>14,.2f}  {r.unit:<16}  {mach} | {date}" + (f"  ({r.note})" if r.note else ""))
            out.write(json.dumps({**asdict(r), "machine": mach, "date": date}) + "\n")
    return 0
