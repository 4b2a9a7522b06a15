"""Sandbox tests share one demo server (seed 1) per session; tests that change the clock
or faults build their own."""

from __future__ import annotations

pytest_plugins = ["narcwatch.sandbox.testing"]
