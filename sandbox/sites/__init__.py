"""The six sandbox sources, one module each, each with its own HTML structure."""

from __future__ import annotations

from narcwatch.sandbox.sites._base import Site
from narcwatch.sandbox.sites.classic import ClassicMarket

__all__ = ["SITE_CLASSES", "Site"]

SITE_CLASSES: list[type[Site]] = [ClassicMarket]
