"""The six sandbox sources, one module each, each with its own HTML structure."""

from __future__ import annotations

from narcwatch.sandbox.sites._base import Site
from narcwatch.sandbox.sites.classic import ClassicMarket
from narcwatch.sandbox.sites.forum import Forum
from narcwatch.sandbox.sites.ru import RuMarket
from narcwatch.sandbox.sites.shop import PrecursorShop
from narcwatch.sandbox.sites.spa import SpaMarket
from narcwatch.sandbox.sites.telegram import TelegramPreview

__all__ = ["SITE_CLASSES", "Site"]

# Order fixes the clearnet ports: telegram = --port, shop = --port + 1.
SITE_CLASSES: list[type[Site]] = [ClassicMarket, SpaMarket, RuMarket, Forum, TelegramPreview, PrecursorShop]
