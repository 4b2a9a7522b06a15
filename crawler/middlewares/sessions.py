"""Sessions: cookies.txt import, logged-out detection and re-login, DDoS-queue waits, CAPTCHA pauses.

Detectors come from the site profile: a value starting with ``text:`` is a substring of
the page, anything else a CSS selector. A CAPTCHA is never guessed: the source pauses
(every request of this crawl waits) until a human answers through ``crawler.captcha``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from urllib.parse import urljoin
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


def load_cookies_txt(path: Path, limit: int = 10_000) -> list[dict[str, Any]]:
    """Netscape cookies.txt (what browser extensions export) -> Scrapy cookie dicts.

    Total: unreadable lines are skipped, not fatal (``http.cookiejar`` raises on them).
    ``#HttpOnly_`` prefixed lines are cookies, other ``#`` lines comments."""
    out: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines()[: limit * 2]:
        line = line.strip()
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_"):]
        elif not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 7 or not parts[0] or not parts[5]:
            continue
        domain, _, cpath, _, _, name, value = parts
        out.append({"name": name[:256], "value": value[:4096], "domain": domain[:253], "path": cpath or "/"})
        if len(out) >= limit:
            break
    return out


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
        seconds = self._queue_seconds(response)
        self.stats.inc_value("narcwatch/session/queue_waits")
        await asyncio.sleep(seconds)
        retry = _original(request)
        retry.meta["narcwatch_queue_waits"] = waits
        return retry

    async def _fetch(self, request: Request) -> Response:
        """A session request (login page, form post, CAPTCHA image), waiting out a DDoS queue."""
        request.meta["narcwatch_session"] = True
        for waits in range(self.max_queue_waits + 1):
            response = await self.crawler.engine.download_async(request)
            if not detect(response, self.profile.detect.queue):
                return response
            self.stats.inc_value("narcwatch/session/queue_waits")
            await asyncio.sleep(self._queue_seconds(response))
            request = request.replace(dont_filter=True)
        raise IgnoreRequest("queue_timeout: session request still queued")

    def _queue_seconds(self, response: Response) -> float:
        seconds = 5.0
        if self.profile.detect.queue_wait_re and hasattr(response, "text"):
            m = re.search(self.profile.detect.queue_wait_re, response.text[:_BODY_LIMIT])
            if m:
                try:
                    seconds = float(m.group(1) if m.groups() else m.group(0))
                except ValueError:
                    pass
        return max(0.0, min(seconds, self.queue_wait_cap))

    async def _ask_human(self, page: Response) -> tuple[str, str | None]:
        """Save the CAPTCHA image, write the request, wait for the answer. Never guessed."""
        login = self.profile.login
        selector = login.captcha_image if login and login.captcha_image else "img"
        src = page.css(selector).xpath("@src").get() if hasattr(page, "css") else None
        image, ext, image_url = None, "png", None
        if src:
            image_url = page.urljoin(src)
            try:
                got = await self._fetch(Request(image_url, dont_filter=True))
                image = got.body
                ctype = (got.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
                ext = "svg" if "svg" in ctype else "jpg" if "jpeg" in ctype else "gif" if "gif" in ctype else "png"
            except Exception as exc:  # the image is a courtesy to the human; the page URL is enough
                log.warning("could not fetch CAPTCHA image %s: %s", src, exc)
        req = captcha.ask(self.data.root, self.source.id, page.url, image, ext, image_url=image_url)
        self.stats.inc_value("narcwatch/session/captcha")
        log.warning("CAPTCHA on %s: source %s paused; write the answer to %s (image %s)", page.url, self.source.id,
                    req.path.with_suffix(".answer"), req.image)
        waited = 0.0
        while (text := captcha.poll(req)) is None:
            if waited >= self.captcha_timeout:
                self.stats.inc_value("narcwatch/session/captcha_timeout")
                raise IgnoreRequest("captcha_unanswered: no human answer in time")
            await asyncio.sleep(self.captcha_poll)
            waited += self.captcha_poll
        self.stats.inc_value("narcwatch/session/captcha_answered")
        return text, self._captcha_field(page)

    def _captcha_field(self, page: Response) -> str | None:
        """The form input the answer goes in: the profile's name if the form has it, else the
        one text input that is neither username nor password (sites rename it: ``captcha_changed``)."""
        login = self.profile.login
        form = page.css(login.form if login and login.form else "form")[:1] if hasattr(page, "css") else []
        if not form:
            return None
        names = [n for n in form.css("input::attr(name)").getall() if n]
        if login and login.captcha_field and login.captcha_field in names:
            return login.captcha_field
        skip = {login.username_field, login.password_field} if login else set()
        for inp in form.css("input"):
            name = inp.attrib.get("name")
            kind = (inp.attrib.get("type") or "text").lower()
            if name and name not in skip and kind in ("text", "number", "tel", ""):
                if login and login.captcha_field and name != login.captcha_field:
                    self.stats.inc_value("narcwatch/session/captcha_field_changed")
                return name
        return None

    async def _captcha(self, request: Request, response: Response) -> Request:
        """A CAPTCHA wall in front of a page: pause the source, ask a human, submit the page's form."""
        self.resume.clear()
        try:
            text, field = await self._ask_human(response)
            form = FormRequest.from_response(response, formdata={field or "captcha": text}, dont_filter=True,
                                             meta={"narcwatch_session": True})
            await self._fetch(form)
        finally:
            self.resume.set()
        return _original(request)

    async def _relogin(self, request: Request) -> Request:
        login = self.profile.login
        self.stats.inc_value("narcwatch/session/logged_out")
        if login is None or not self.source.credentials:
            raise IgnoreRequest("logged_out: no login configured")
        try:
            user = self.secrets.get(f"{self.source.credentials}_username").get_secret_value()
            password = self.secrets.get(f"{self.source.credentials}_password").get_secret_value()
        except SecretNotFound as exc:
            raise IgnoreRequest(f"login_failed: {exc}") from None
        if self.resume.is_set():
            await self._login(request, login, user, password)
        else:  # another request is logging in already: wait for it, then retry with the new session
            await self.resume.wait()
        return _original(request)

    async def _login(self, request: Request, login: Any, user: str, password: str) -> None:
        self.resume.clear()
        try:
            for _ in range(self.max_logins):
                self.logins += 1
                page = await self._fetch(Request(urljoin(request.url, login.url), dont_filter=True))
                data = {login.username_field: user, login.password_field: password}
                if login.captcha_image and hasattr(page, "css") and page.css(login.captcha_image):
                    text, field = await self._ask_human(page)
                    data[field or login.captcha_field or "captcha"] = text
                # The body carries the password: the evidence archive records it redacted.
                form = FormRequest.from_response(page, formcss=login.form, formdata=data, dont_filter=True,
                                                 meta={"narcwatch_redact_body": True})
                after = await self._fetch(form)
                if not (detect(after, self.profile.detect.logged_out) or _login_form_again(after, login.form)):
                    self.stats.inc_value("narcwatch/session/logins")
                    return
                self.stats.inc_value("narcwatch/session/login_rejected")
            raise IgnoreRequest("login_failed: rejected after retries")
        finally:
            self.resume.set()


def _login_form_again(response: Response, form_css: str | None) -> bool:
    """The site answered the login post with its login form again (wrong CAPTCHA or password)."""
    if not hasattr(response, "css"):
        return False
    try:
        return bool(response.css(form_css or "form").css("input[type=password]"))
    except Exception:
        return False


def _original(request: Request) -> Request:
    """The request as first asked for: a logged-out redirect to /login is not the page we want."""
    urls = request.meta.get("redirect_urls") or []
    meta = {k: v for k, v in request.meta.items()
            if k not in ("redirect_urls", "redirect_times", "redirect_ttl", "redirect_reasons", "narcwatch_session")}
    if urls:
        return request.replace(url=urls[0], method="GET", body=b"", meta=meta, dont_filter=True)
    return request.replace(meta=meta, dont_filter=True)
