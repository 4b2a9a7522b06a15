"""A local, seeded replica of the sources narcwatch crawls, served on 127.0.0.1.

>>> from narcwatch.sandbox import World, SandboxServer
>>> with SandboxServer(World(seed=1, size="demo")) as server:   # doctest: +SKIP
...     for s in server.sources: print(s.id, s.base_url)
...     server.clock.advance(hours=48)

Onion sources are reachable only through ``server.socks_url``; see ``server.py`` for the
addressing, ``world.py`` for the content and its evolution over simulated time,
``faults.py`` for the faults and ``truth.py`` for the ground truth.
"""

from __future__ import annotations

from narcwatch.sandbox.clock import Clock
from narcwatch.sandbox.faults import FaultConfig
from narcwatch.sandbox.server import SandboxServer, SandboxSource
from narcwatch.sandbox.truth import iter_truth, write_truth
from narcwatch.sandbox.world import World

__all__ = ["Clock", "FaultConfig", "SandboxServer", "SandboxSource", "World", "iter_truth", "write_truth"]
