"""What every sandbox site shares: fault hooks, sessions, the login CAPTCHA, page chrome.

A site is a ``Request -> Response`` callable plus ``truth(hours)``, which yields the
ground-truth record of every page the site would serve at that simulated hour, built
from the same view functions as the HTML so the two cannot drift apart.
"""

from __future__ import annotations

import html as _html
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from narcwatch.sandbox._rng import h64, rng
from narcwatch.sandbox.clock import Clock
from narcwatch.sandbox.faults import FaultEngine
from narcwatch.sandbox.http import Request, Response, html, redirect, text
from narcwatch.sandbox.world import World

__all__ = ["Site", "esc", "hostile_payload"]

SESSION_HOURS = 12.0
_CAPTCHA_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_HOSTILE = [
    '<script>alert("xss")</script>',
    '<img src=x onerror="alert(document.cookie)">',
    '"><svg onload=alert(1)>',
    "<b>unclosed <i>markup <div class='x'",
    '<a href="javascript:alert(1)">click</a>',
    "<iframe src=//evil.invalid></iframe>",
]


def esc(value: object) -> str:
    return _html.escape(str(value), quote=True)


def hostile_payload(seed: int, key: str) -> str:
    return _HOSTILE[h64(seed, "hostile-kind", key) % len(_HOSTILE)]


@dataclass
class _Session:
    created: float
    requests: int = 0


class Site:
    """Base class: ``id``, ``kind`` (market/forum/telegram/shop), ``network``, ``profile``."""

    id = ""
    name = ""
    kind = "market"
    network = "tor"
    profile = ""
    language = "en"
    cookie = "sid"

    def __init__(self, world: World, clock: Clock, faults: FaultEngine, require_login: bool = False) -> None:
        self.world = world
        self.clock = clock
        self.faults = faults
        self.require_login = require_login
        self.seed = world.seed
        self._sessions: dict[str, _Session] = {}
        self._captchas: dict[str, str] = {}
        self._counter = 0
        self._lock = threading.Lock()
        self.host = ""  # set by the server: onion name or 127.0.0.1:port
        self.base_url = ""

    # -- request path ------------------------------------------------------------------------
    def __call__(self, req: Request) -> Response:
        early = self.faults.before(self.id, req, onion=self.network == "tor")
        if early is not None:
            return early
        resp = self.route(req)
        return self.faults.after(self.id, req, resp)

    def route(self, req: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def truth(self, hours: float) -> Iterator[dict[str, object]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def start_urls(self) -> list[str]:
        return [self.base_url]

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    @property
    def hours(self) -> float:
        return self.clock.hours

    def hostile(self, key: str) -> str | None:
        share = self.faults.config.hostile_share
        if share <= 0 or not self.faults.applies(self.id):
            return None
        if (h64(self.seed, "hostile", key) % 10_000) / 10_000 >= share:
            return None
        return hostile_payload(self.seed, key)

    # -- sessions and login ------------------------------------------------------------------
    def session_ok(self, req: Request) -> bool:
        """True when the request carries a live session (and counts it against expiry)."""
        token = req.cookies.get(self.cookie)
        with self._lock:
            s = self._sessions.get(token or "")
            if s is None:
                return False
            s.requests += 1
            limit = self.faults.config.session_expiry_after if self.faults.applies(self.id) else 0
            expired = self.hours - s.created >= SESSION_HOURS or (limit and s.requests > limit)
            if expired:
                del self._sessions[token or ""]
        if expired and limit and s.requests > limit:
            self.faults.fire(self.id, "session_expiry")
        return not expired

    def login_redirect(self, req: Request) -> Response:
        return redirect(f"/login?next={req.path}", headers=[("Set-Cookie", f"{self.cookie}=; Path=/; Max-Age=0")])

    def gate(self, req: Request) -> Response | None:
        """Redirect to login when this site requires a session and the request has none."""
        if req.path.startswith(("/login", "/captcha", "/static")):
            return None
        if self.require_login or (req.cookies.get(self.cookie) and self.faults.config.session_expiry_after):
            if not self.session_ok(req):
                return self.login_redirect(req)
        return None

    def captcha_answer(self, challenge: str) -> str | None:
        """What a human would read from the CAPTCHA image (tests and trainers use this)."""
        with self._lock:
            return self._captchas.get(challenge)

    @property
    def captcha_field(self) -> str:
        return "captcha_answer" if self.faults.config.captcha_changed and self.faults.applies(self.id) else "captcha"

    def new_captcha(self) -> str:
        with self._lock:
            self._counter += 1
            cid = f"{h64(self.seed, self.id, 'captcha', self._counter):016x}"
            r = rng(self.seed, "captcha", cid)
            if self.captcha_field == "captcha":
                answer = "".join(r.choice(_CAPTCHA_ALPHABET) for _ in range(5))
            else:
                a, b = r.randint(2, 20), r.randint(2, 20)
                answer = str(a + b)
                cid = f"m{cid[1:]}"
                r = rng(self.seed, "captcha", cid)
                self._captchas[cid + ":q"] = f"{a} + {b} = ?"
            self._captchas[cid] = answer
            return cid

    def captcha_svg(self, cid: str) -> Response:
        answer = self.captcha_answer(cid)
        if answer is None:
            return text("unknown captcha", 404)
        shown = self._captchas.get(cid + ":q", answer)
        r = rng(self.seed, "captcha-svg", cid)
        parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60" viewBox="0 0 200 60">',
                 '<rect width="200" height="60" fill="#eee"/>']
        for _ in range(6):
            parts.append(f'<line x1="{r.randint(0, 200)}" y1="{r.randint(0, 60)}" x2="{r.randint(0, 200)}" '
                         f'y2="{r.randint(0, 60)}" stroke="#999"/>')
        for i, ch in enumerate(shown):
            x = 12 + i * (170 // max(1, len(shown)))
            parts.append(f'<text x="{x}" y="{38 + r.randint(-6, 6)}" font-size="28" '
                         f'transform="rotate({r.randint(-20, 20)} {x} 30)">{esc(ch)}</text>')
        parts.append("</svg>")
        return Response(200, "".join(parts).encode(), [], "image/svg+xml")

    def login(self, req: Request, page: "callable") -> Response:  # type: ignore[valid-type]
        """GET shows the form with a fresh CAPTCHA; POST checks it and sets the session cookie."""
        nxt = req.query.get("next", "/")
        if not nxt.startswith("/"):
            nxt = "/"
        if req.method == "POST":
            form = req.form
            cid = form.get("challenge", "")
            expected = self.captcha_answer(cid)
            field = self.captcha_field
            if not form.get("username") or not form.get("password"):
                return page(self._login_form(nxt, "Username and password required"), status=200)
            if expected is None or form.get(field, "").strip().upper() != expected:
                return page(self._login_form(nxt, "Wrong captcha, try again"), status=200)
            with self._lock:
                self._counter += 1
                token = f"{h64(self.seed, self.id, 'session', self._counter):016x}"
                self._sessions[token] = _Session(self.hours)
            with self._lock:
                self._captchas.pop(cid, None)
            return redirect(nxt, 303, [("Set-Cookie", f"{self.cookie}={token}; Path=/; HttpOnly")])
        return page(self._login_form(nxt, ""), status=200)

    def _login_form(self, nxt: str, error: str) -> str:
        cid = self.new_captcha()
        field = self.captcha_field
        if field != "captcha":
            self.faults.fire(self.id, "captcha_changed")
        label = "Solve the sum" if field != "captcha" else "Enter the characters"
        return (f'<div class="login-box"><h2>Login</h2>'
                + (f'<p class="error">{esc(error)}</p>' if error else "")
                + f'<form method="post" action="/login?next={esc(nxt)}" class="login-form" id="login">'
                '<label>Username <input name="username" type="text"></label>'
                '<label>Password <input name="password" type="password"></label>'
                f'<div class="captcha {"captcha-math" if field != "captcha" else "captcha-text"}">'
                f'<img src="/captcha/{cid}.svg" alt="captcha" class="captcha-image">'
                f'<input type="hidden" name="challenge" value="{cid}">'
                f'<label>{label} <input name="{field}" type="text" autocomplete="off"></label></div>'
                '<button type="submit">Login</button></form></div>')

    def unavailable(self) -> Response:
        return html("<html><head><title>Maintenance</title></head><body><h1>Market is down for maintenance</h1>"
                    "<p>We'll be back soon. Stay safe.</p></body></html>", 503)
