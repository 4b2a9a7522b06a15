"""Simulated time: hours since the sandbox epoch, advanced explicitly, never by the wall clock.

Everything time-dependent in the world is a pure function of (seed, hours), so a test
that advances the clock by 48 h sees exactly what the ground truth at ``--at 48`` says.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

__all__ = ["EPOCH", "Clock", "at"]

EPOCH = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, hours: float = 0.0) -> None:
        self._hours = float(hours)
        self._lock = threading.Lock()

    @property
    def hours(self) -> float:
        return self._hours

    @property
    def now(self) -> datetime:
        return EPOCH + timedelta(hours=self._hours)

    def advance(self, hours: float = 0.0, days: float = 0.0) -> float:
        if hours < 0 or days < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._hours += hours + 24 * days
            return self._hours

    def set(self, hours: float) -> None:
        with self._lock:
            self._hours = float(hours)

    def __repr__(self) -> str:
        return f"Clock(hours={self._hours:g})"


def at(hours: float) -> datetime:
    """The moment of simulated ``hours``, to the whole second (pages never show fractions)."""
    return EPOCH + timedelta(seconds=round(hours * 3600))
