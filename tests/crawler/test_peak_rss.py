"""A crawl child's peak RSS is its own, not its parent's (ru_maxrss survives exec on Linux)."""

from __future__ import annotations

import subprocess
import sys


def test_child_peak_rss_ignores_a_large_parent():
    ballast = bytearray(300 * 1024 * 1024)  # the parent grows to 300+ MB before spawning
    ballast[::4096] = b"x" * len(ballast[::4096])
    code = "from narcwatch.crawler.runner import peak_rss_kb; print(peak_rss_kb())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    del ballast
    assert int(out.stdout) < 200 * 1024  # an interpreter importing the runner, not the parent's 300 MB
