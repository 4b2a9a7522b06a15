"""Which spider class crawls a source: the profile's ``spider`` name, ``profile`` by default."""

from __future__ import annotations

from narcwatch.crawler.config import Config
from narcwatch.crawler.models import Source

__all__ = ["SPIDERS", "spider_for"]

SPIDERS = {
    "profile": "narcwatch.spiders.profile_spider.ProfileSpider",
    "telegram": "narcwatch.spiders.telegram_preview.TelegramPreviewSpider",
    "nebula": "narcwatch.spiders.nebula.NebulaSpider",
}


def spider_for(source: Source, config: Config) -> type:
    from importlib import import_module

    from narcwatch.spiders.profile import ProfileRegistry

    profile = ProfileRegistry(config.profiles_dirs)[source.profile]
    try:
        path = SPIDERS[profile.spider]
    except KeyError:
        raise KeyError(f"unknown spider {profile.spider!r} in profile {profile.name}; "
                       f"available: {', '.join(sorted(SPIDERS))}") from None
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)
