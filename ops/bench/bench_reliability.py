"""Reliability benchmarks: extraction stays linear on hostile input.

``python -m ops.bench reliability-linearity`` runs every string of the hostile corpus
(tests/fixtures/hostile/corpus.py, whose runs are 20,000 characters) at 1x and 4x its
length through the whole extraction pipeline and reports, per input, the time ratio
4x/1x: about 4 is linear, 16 quadratic. The figure is the worst ratio over the corpus.
A tokenizer cache would hide the second call, so each size is a fresh, distinct string.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

from ops.bench.harness import Result

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "hostile" / "corpus.py"


def _corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("narcwatch_bench_hostile_corpus", CORPUS)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _time(fn, text: str) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn(text)
    return time.perf_counter() - t


def linearity() -> list[Result]:
    from narcwatch.extract.pipeline import extract

    corpus = _corpus()
    extract("warm up: 1 g metonitazene 50 USD")
    ratios: dict[str, float] = {}
    for name, text in corpus.STRINGS.items():
        if len(text) < 1000:
            continue
        small = _time(extract, text + " a")
        big = _time(extract, text * 4 + " b")
        ratios[name] = big / max(small, 1e-4)
    worst = max(ratios, key=ratios.__getitem__)
    return [Result("reliability-linearity-worst", round(ratios[worst], 2), "x time for 4x input",
                   note=f"worst: {worst}; 4 = linear, 16 = quadratic",
                   extra={k: round(v, 2) for k, v in sorted(ratios.items())}),
            Result("reliability-hostile-strings", len(corpus.STRINGS), "inputs",
                   note=f"{len(corpus.PAGES)} hostile pages + {len(corpus.LARGE)} resource attacks in the crawl test")]


BENCHMARKS = {"reliability-linearity": linearity}
