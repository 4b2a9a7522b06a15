"""Sandbox tests share one demo server (seed 1) per session; tests that change the clock
or faults build their own."""

from __future__ import annotations

# The ``sandbox`` fixture comes from narcwatch.sandbox.testing, registered in tests/conftest.py
# (pytest only honours pytest_plugins in the top-level conftest).
