"""Sessions: cookies.txt import, logged-out detection and re-login, DDoS-queue waits, CAPTCHA pauses.

Detectors come from the site profile: a value starting with ``text:`` is a substring of
the page, anything else a CSS selector. A CAPTCHA is never guessed: the source pauses
(every request of this crawl waits) until a human answers through ``crawler.captcha``.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import FormRequest
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached

from narcwatch.crawler import captcha
from narcwatch.crawler.models import Source
from narcwatch.crawler.paths import DataDir
from narcwatch.crawler.secrets import SecretNotFound, Secrets

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from narcwatch.spiders.profile import Profile

__all__ = ["SessionMiddleware", "detect", "load_cookies_txt"]

log = logging.getLogger(__name__)
_BODY_LIMIT = 512 * 1024


def detect(response: Response, detector: str | None) -> bool:
    """Total: a bad selector or a binary page is simply "no match"."""
    if not detector:
        return False
    if detector.startswith("text:"):
        return detector[5:].encode("utf-8") in response.body[:_BODY_LIMIT]
    if not hasattr(response, "css"):
        return False
    try:
        return bool(response.css(detector))
    except Exception:  # cssselect raises several types on a malformed selector
        return False


def load_cookies_txt(path: Path) -> list[dict[str, Any]]:
    """Netscape cookies.txt -> Scrapy cookie dicts; unreadable lines are skipped."""
    jar = http.cookiejar.MozillaCookieJar()
    jar.load(str(path), ignore_discard=True, ignore_expires=True)
    return [{"name": c.name, "value": c.value or "", "domain": c.domain, "path": c.path or "/"} for c in jar]


class SessionMiddleware:
    def __init__(self, crawler: Crawler, source: Source, profile: Profile, data: DataDir, secrets: Secrets):
        s = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.source = source
        self.profile = profile
        self.data = data
        self.secrets = secrets
        self.max_queue_waits = s.getint("NARCWATCH_QUEUE_MAX_WAITS", 20)
        self.queue_wait_cap = s.getfloat("NARCWATCH_QUEUE_WAIT_MAX", 120.0)
        self.captcha_timeout = s.getfloat("NARCWATCH_CAPTCHA_TIMEOUT", 3600.0)
        self.captcha_poll = s.getfloat("NARCWATCH_CAPTCHA_POLL", 1.0)
        self.max_logins = s.getint("NARCWATCH_MAX_LOGINS", 3)
        self.logins = 0
        self.resume = asyncio.Event()
        self.resume.set()
        self.cookies: list[dict[str, Any]] = []
        cookie_file = s.get("NARCWATCH_COOKIES_FILE") or str(data.root / "cookies" / f"{source.id}.txt")
        if Path(cookie_file).is_file():
            self.cookies = load_cookies_txt(Path(cookie_file))
            self.stats.set_value("narcwatch/session/cookies_imported", len(self.cookies))
        self._cookies_sent: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "SessionMiddleware":
        from narcwatch.spiders.profile import ProfileRegistry

        s = crawler.settings
        if not s.getdict("NARCWATCH_SOURCE"):
            raise NotConfigured("no NARCWATCH_SOURCE")
        source = Source(**s.getdict("NARCWATCH_SOURCE"))
        profile = ProfileRegistry(s.getlist("NARCWATCH_PROFILES_DIRS"))[source.profile]
        secrets_file = s.get("NARCWATCH_SECRETS_FILE")
        return cls(crawler, source, profile, DataDir.at(s.get("NARCWATCH_DATA_DIR")),
                   Secrets(Path(secrets_file) if secrets_file else None))

    async def process_request(self, request: Request) -> None:
        if not self.resume.is_set() and not request.meta.get("narcwatch_session"):
            self.stats.inc_value("narcwatch/session/paused_requests")
            await self.resume.wait()
        host = urlparse_cached(request).hostname or ""
        if self.cookies and host not in self._cookies_sent:
            self._cookies_sent.add(host)
            mine = [c for c in self.cookies if host.endswith(c["domain"].lstrip("."))]
            if mine and isinstance(request.cookies, dict):
                request.cookies = {**{c["name"]: c["value"] for c in mine}, **request.cookies}
            elif mine:
                request.cookies = [*mine, *list(request.cookies)]

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("narcwatch_session"):
            return response
        det = self.profile.detect
        if detect(response, det.queue):
            return await self._queue(request, response)
        if detect(response, det.captcha):
            return await self._captcha(request, response)
        if detect(response, det.logged_out):
            return await self._relogin(request)
        return response

    async def _queue(self, request: Request, response: Response) -> Request:
        waits = int(request.meta.get("narcwatch_queue_waits", 0)) + 1
        if waits > self.max_queue_waits:
            self.stats.inc_value("narcwatch/session/queue_timeout")
            raise IgnoreRequest("queue_timeout: still queued")
        seconds = 5.0
        if self.profile.detect.queue_wait_re:
            m = re.search(self.profile.detect.queue_wait_re, response.text[:_BODY_LIMIT] if hasattr(response, "text") else "")
            if m:
                try:
                    seconds = float(m.group(1) if m.groups() else m.group(0))
                except ValueError:
                    pass
        seconds = max(0.0, min(seconds, self.queue_wait_cap))
        self.stats.inc_value("narcwatch/session/queue_waits")
        await asyncio.sleep(seconds)
        return request.replace(dont_filter=True, meta={**request.meta, "narcwatch_queue_waits": waits})

    async def _fetch(self, request: Request) -> Response:
        request.meta["narcwatch_session"] = True
        return await self.crawler.engine.download_async(request)

    async def _captcha(self, request: Request, response: Response) -> Request:
        """Pause the source, ask a human, submit the answer with the page's form."""
        self.stats.inc_value("narcwatch/session/captcha")
        login = self.profile.login
        image: bytes | None = None
        selector = (login.captcha_image if login and login.captcha_image else "img")
        src = response.css(selector).xpath("@src").get() if hasattr(response, "css") else None
        if src:
            try:
                image = (await self._fetch(Request(response.urljoin(src), dont_filter=True))).body
            except Exception as exc:  # the image is a courtesy to the human; the page URL is enough
                log.warning("could not fetch CAPTCHA image %s: %s", src, exc)
        self.resume.clear()
        try:
            req = captcha.ask(self.data.root, self.source.id, response.url, image)
            log.warning("CAPTCHA on %s: source %s paused; answer %s (image %s)", response.url, self.source.id,
                        req.path.with_suffix(".answer"), req.image)
            waited = 0.0
            while (text := captcha.poll(req)) is None:
                if waited >= self.captcha_timeout:
                    self.stats.inc_value("narcwatch/session/captcha_timeout")
                    raise IgnoreRequest("captcha_unanswered: no human answer in time")
                await asyncio.sleep(self.captcha_poll)
                waited += self.captcha_poll
            field = (login.captcha_field if login and login.captcha_field else "captcha")
            form = FormRequest.from_response(response, formdata={field: text}, dont_filter=True,
                                             meta={"narcwatch_session": True})
            await self._fetch(form)
            self.stats.inc_value("narcwatch/session/captcha_answered")
        finally:
            self.resume.set()
        return request.replace(dont_filter=True)

    async def _relogin(self, request: Request) -> Request:
        login = self.profile.login
        self.stats.inc_value("narcwatch/session/logged_out")
        if login is None or not self.source.credentials:
            raise IgnoreRequest("logged_out: no login configured")
        self.logins += 1
        if self.logins > self.max_logins:
            raise IgnoreRequest("login_failed: too many logins")
        try:
            user = self.secrets.get(f"{self.source.credentials}_username").get_secret_value()
            password = self.secrets.get(f"{self.source.credentials}_password").get_secret_value()
        except SecretNotFound as exc:
            raise IgnoreRequest(f"login_failed: {exc}") from None
        self.resume.clear()
        try:
            page = await self._fetch(Request(request.urljoin(login.url), dont_filter=True))
            if detect(page, self.profile.detect.captcha):
                await self._captcha(Request(page.url, dont_filter=True), page)
                self.resume.clear()
                page = await self._fetch(Request(request.urljoin(login.url), dont_filter=True))
            form = FormRequest.from_response(page, formcss=login.form,
                                             formdata={login.username_field: user, login.password_field: password},
                                             dont_filter=True)
            await self._fetch(form)
            self.stats.inc_value("narcwatch/session/logins")
        finally:
            self.resume.set()
        return request.replace(dont_filter=True)
