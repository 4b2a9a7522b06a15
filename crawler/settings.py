"""Scrapy settings for one crawl of one source, built from the config: no I/O at import.

Extension points are ordered dicts with gaps, each entry commented, as Scrapy's own
``default_settings`` does. Our routing sits before Scrapy's HttpProxyMiddleware (750)
so its proxy choice is what that middleware turns into credentials; the leak guard
sits after everything (990) so nothing can change the route behind its back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from scrapy.settings.default_settings import RETRY_EXCEPTIONS as _DEFAULT_RETRY_EXCEPTIONS

from narcwatch.crawler.config import Config
from narcwatch.crawler.models import Network, Source
from narcwatch.crawler.paths import DataDir

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "DOWNLOADER_MIDDLEWARES", "ITEM_PIPELINES", "SPIDER_MIDDLEWARES",
           "build_settings", "politeness"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    # WebRTC may open UDP outside the proxy and reveal addresses: only proxied traffic.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    # No DNS prefetch or resolution outside the SOCKS proxy.
    "--dns-prefetch-disable",
]
# With a proxy, nothing may be resolved locally: every name goes to the SOCKS proxy.
CHROMIUM_PROXY_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
BROWSER_HANDLER = "narcwatch.crawler.playwright_handler.BrowserDownloadHandler"

_MW = "narcwatch.crawler.middlewares"

DOWNLOADER_MIDDLEWARES: dict[str, int | None] = {
    # 60: drop requests whose listing is already done in a resumed crawl (before anything costly)
    f"{_MW}.frontier.FrontierSkipMiddleware": 60,
    # 120: pagination-trap and redirect-loop guards, per-source page budget
    f"{_MW}.politeness.TrapGuardMiddleware": 120,
    # 560: honour Retry-After on 429/503 just after Scrapy's RetryMiddleware (550)
    f"{_MW}.politeness.RetryAfterMiddleware": 560,
    # 640: logged-out / queue / CAPTCHA detection after redirects (600) resolved the final page
    f"{_MW}.sessions.SessionMiddleware": 640,
    # 590: Scrapy's decompression, with bombs (over DOWNLOAD_MAXSIZE inflated) counted and closed
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    f"{_MW}.compression.CountedHttpCompressionMiddleware": 590,
    # 740: route every request (socks5h for dark hosts, per-source isolation) before HttpProxyMiddleware (750)
    f"{_MW}.routing.RoutingMiddleware": 740,
    # 870: archive every response (request + response records, sha256) next to DownloaderStats (850)
    "narcwatch.crawler.evidence.middleware.EvidenceMiddleware": 870,
    # 990: leak guard, the last thing before the download handler; not switchable
    f"{_MW}.routing.LeakGuardMiddleware": 990,
}

SPIDER_MIDDLEWARES: dict[str, int | None] = {
    # 950: record discovered requests and finished pages in the crawl frontier (kill -9 safe resume)
    f"{_MW}.frontier.FrontierSpiderMiddleware": 950,
}

ITEM_PIPELINES: dict[str, int] = {
    # 300: attach capture id + sha256 of the response each item came from
    "narcwatch.crawler.pipelines.capture.CapturePipeline": 300,
    # 900: spool (durable, idempotent); also ends each page in the frontier
    "narcwatch.crawler.pipelines.spool.SpoolPipeline": 900,
}


def _browser_settings(source: Source, config: Config, socks: list[str], dark: bool) -> dict[str, Any]:
    """scrapy-playwright with Debian's Chromium; proxied through a local relay that adds SOCKS auth."""
    upstream = socks[0] if socks else None
    if upstream and config.tor.isolate_per_source:
        parts = urlsplit(upstream)
        if not parts.username:  # same isolation as the httpx side: a circuit of this source's own
            creds = f"{quote(f'narcwatch-{source.id}')}:{quote('browser')}"
            upstream = parts._replace(netloc=f"{creds}@{parts.netloc}").geturl()
    launch: dict[str, Any] = {"executable_path": CHROMIUM, "headless": True, "args": list(CHROMIUM_ARGS)}
    if upstream:
        launch["args"] += CHROMIUM_PROXY_ARGS  # the relay's 127.0.0.1 is the only name Chromium may reach itself
    return {
        "DOWNLOAD_HANDLERS": {"http": BROWSER_HANDLER, "https": BROWSER_HANDLER},
        # 880: a screenshot of every rendered page, handed to the evidence record (870) of that page
        "DOWNLOADER_MIDDLEWARES": {**DOWNLOADER_MIDDLEWARES, f"{_MW}.playwright.BrowserScreenshotMiddleware": 880},
        "NARCWATCH_BROWSER_UPSTREAM": upstream,  # the handler starts a relay and gives Chromium its address
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 120_000 if dark else 30_000,
        # a page whose script never finished (its own fetch hit a 429 or a drop) is rendered again,
        # and so is one whose navigation failed outright (Playwright's base ``Error``, of which
        # ``TimeoutError`` is one: ``net::ERR_EMPTY_RESPONSE`` and the like when the connection
        # dropped mid-load), up to RETRY_TIMES like any other network error
        "RETRY_EXCEPTIONS": [*_DEFAULT_RETRY_EXCEPTIONS, "playwright._impl._errors.Error"],
        # Chromium's own background traffic and service workers stay off
        "PLAYWRIGHT_CONTEXTS": {"default": {"service_workers": "block", "java_script_enabled": True}},
    }


# Conservative defaults per network: Tor circuits are slow and fragile, and a market that
# notices a crawler bans it. Faster crawling is a per-source decision (Source.concurrency,
# Source.delay, Source.autothrottle), e.g. for the sandbox or a site the operator runs.
_DEFAULTS: dict[bool, dict[str, Any]] = {
    True: {"concurrency": 8, "delay": 0.0, "autothrottle": True, "target": 4.0},   # tor / i2p
    False: {"concurrency": 4, "delay": 0.0, "autothrottle": True, "target": 2.0},  # clearnet
}


def politeness(source: Source) -> dict[str, Any]:
    """Concurrency, delay and AutoThrottle for one source: its own values over the network's defaults."""
    d = _DEFAULTS[source.network in (Network.TOR, Network.I2P)]
    concurrency = source.concurrency or d["concurrency"]
    autothrottle = d["autothrottle"] if source.autothrottle is None else source.autothrottle
    delay = d["delay"] if source.delay is None else source.delay
    return {
        # One crawl process crawls one source, so the per-domain limit is the source's limit.
        "CONCURRENT_REQUESTS": max(16, concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": delay,
        "AUTOTHROTTLE_ENABLED": autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(delay, 0.5),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(min(concurrency, d["target"])),
    }


def build_settings(source: Source, config: Config, data_dir: DataDir, crawl_id: str, *,
                   proxy_url: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings for crawling ``source``; ``extra`` (tests, benchmarks) wins over everything."""
    dark = source.network in (Network.TOR, Network.I2P)
    socks = [proxy_url] if proxy_url else [config.tor.socks_url, *config.tor.socks_urls]
    socks = list(dict.fromkeys(u for u in socks if u))
    s: dict[str, Any] = {
        "BOT_NAME": "narcwatch",
        "ROBOTSTXT_OBEY": False,  # dark markets serve no robots.txt; politeness is per source below
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,  # a crawl host opens no listening port of its own
        "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None},
        "LOG_LEVEL": "INFO",
        "USER_AGENT": "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0",  # Tor Browser's
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        # httpx is the Scrapy handler that speaks socks5h (remote DNS); the default one cannot.
        "DOWNLOAD_HANDLERS": {
            "http": "scrapy.core.downloader.handlers._httpx.HttpxDownloadHandler",
            "https": "scrapy.core.downloader.handlers._httpx.HttpxDownloadHandler",
        },
        "DOWNLOADER": "narcwatch.crawler.downloader.SlotReservingDownloader",  # per-site limit that holds
        "DOWNLOADER_MIDDLEWARES": dict(DOWNLOADER_MIDDLEWARES),
        "SPIDER_MIDDLEWARES": dict(SPIDER_MIDDLEWARES),
        "ITEM_PIPELINES": dict(ITEM_PIPELINES),
        **politeness(source),
        # Items are handled by synchronous pipelines: Scrapy's default of 100 concurrent items
        # only spawns 100 idle asyncio tasks per response (a measurable share of CPU per page).
        "CONCURRENT_ITEMS": 16,
        "DOWNLOAD_TIMEOUT": 120 if dark else 30,
        "DOWNLOAD_MAXSIZE": 16 * 1024 * 1024,
        "DOWNLOAD_WARNSIZE": 4 * 1024 * 1024,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 5 if dark else 3,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "NARCWATCH_BACKOFF_BASE": 1.0,  # seconds; doubled per retry, capped below
        "NARCWATCH_BACKOFF_MAX": 60.0,
        "NARCWATCH_RETRY_AFTER_MAX": 300.0,
        "REDIRECT_MAX_TIMES": 10,
        # Every "next page" counts one level of depth, so a category of 60 pages (1,200 listings
        # at 20 a page) ended at page 50, silently incomplete. Pagination is bounded by the
        # profile's max_pages and link loops by the trap guards and NARCWATCH_MAX_PAGES; this
        # only stops runaway chains longer than any profile allows.
        "DEPTH_LIMIT": 10_050,
        "MEMUSAGE_ENABLED": False,
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "DEPTH_PRIORITY": 0,
        "COOKIES_ENABLED": True,
        "HTTPPROXY_ENABLED": True,
        # narcwatch
        "NARCWATCH_SOURCE_ID": source.id,
        "NARCWATCH_SOURCE": source.model_dump(mode="json"),
        "NARCWATCH_NETWORK": source.network.value,
        "NARCWATCH_SOCKS_URLS": socks,
        "NARCWATCH_ISOLATE_PER_SOURCE": config.tor.isolate_per_source,
        "NARCWATCH_NEW_CIRCUIT_AFTER": config.tor.new_circuit_after_failures,
        "NARCWATCH_TOR_CONTROL": config.tor.control if not proxy_url else None,
        "NARCWATCH_TOR_CONTROL_PASSWORD_SECRET": config.tor.control_password,  # a secret's name, resolved at start
        "NARCWATCH_RENDER_JS": source.render_js,
        "NARCWATCH_DATA_DIR": str(data_dir.root),
        "NARCWATCH_CRAWL_ID": crawl_id,
        "NARCWATCH_PROFILES_DIRS": [str(p) for p in config.profiles_dirs],
        "NARCWATCH_SECRETS_FILE": str(config.secrets_file) if config.secrets_file else None,
        "NARCWATCH_EVIDENCE_ENABLED": True,
        "NARCWATCH_WARC_MAX_BYTES": 256 * 1024 * 1024,
        "NARCWATCH_MAX_PAGES": 200_000,
        "NARCWATCH_FULL_REFRESH_EVERY": 10,
    }
    if source.render_js:
        s.update(_browser_settings(source, config, socks, dark))
    s.update(extra or {})
    return s
