"""Dredge: a Dread-style onion forum.

``/`` lists subforums; ``/d/<sub>?page=N`` lists threads (newest first, 25 a page);
``/post/<id>?page=N`` shows a thread, 10 posts a page. Vendor announcements are
PGP clear-signed and carry wallets and market links; link threads carry fictional v3
onion links and phishing look-alikes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from narcwatch.sandbox.clock import at
from narcwatch.sandbox.http import Request, Response, html
from narcwatch.sandbox.sites._base import Site, esc
from narcwatch.sandbox.social import SUBFORUMS, ForumPost

__all__ = ["Forum"]

THREADS_PER_PAGE = 25
POSTS_PER_PAGE = 10


def _page(n: str | None) -> int:
    try:
        return max(1, min(int(n or 1), 10**6))
    except ValueError:
        return 1


class Forum(Site):
    id = "dredge-forum"
    name = "Dredge"
    kind = "forum"
    network = "tor"
    profile = "sandbox_forum"
    cookie = "dr_session"

    def page(self, body: str, title: str, status: int = 200) -> Response:
        subs = "".join(f'<a class="sub-link" href="/d/{s}">/d/{s}</a>' for s in SUBFORUMS)
        return html(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)} - Dredge</title></head>"
                    f"<body><nav class='topbar'><a href='/' class='home'>Dredge</a>{subs}</nav>"
                    f"<main class='container'>{body}</main></body></html>", status)

    def route(self, req: Request) -> Response:
        gated = self.gate(req)
        if gated is not None:
            return gated
        path = req.path.rstrip("/") or "/"
        if path == "/":
            items = "".join(f'<li class="subforum"><a href="/d/{s}">/d/{s}</a><p class="desc">{esc(d)}</p></li>' for s, d in SUBFORUMS.items())
            return self.page(f"<h1>Dredge</h1><ul class='subforums'>{items}</ul>", "Home")
        if path.startswith("/d/"):
            return self.subforum(path[3:], _page(req.query.get("page")))
        if path.startswith("/post/"):
            return self.thread_page(path[6:], _page(req.query.get("page")))
        if path == "/login":
            return self.login(req, lambda body, status=200: self.page(body, "Login", status))
        if path.startswith("/captcha/") and path.endswith(".svg"):
            return self.captcha_svg(path[len("/captcha/"):-4])
        return self.page("<h1>404</h1>", "Not found", 404)

    def subforum(self, sub: str, page: int) -> Response:
        if sub not in SUBFORUMS:
            return self.page("<h1>No such subforum</h1>", "Not found", 404)
        threads, pages = self.world.social.threads_in(sub, self.hours, page - 1, THREADS_PER_PAGE)
        rows = "".join(
            f'<div class="post-item" data-thread="{t.site_id}"><a class="post-title" href="/post/{t.site_id}">{esc(t.title)}</a>'
            f'<span class="post-meta">by <a class="user" href="/u/{esc(t.author)}">/u/{esc(t.author)}</a> · '
            f'<time datetime="{at(t.created).isoformat()}">{at(t.created):%Y-%m-%d %H:%M}</time> · '
            f'<span class="replies">{t.posts(self.hours) - 1} comments</span></span></div>' for t in threads)
        nav = self._nav(f"/d/{sub}?", page, pages)
        return self.page(f'<h1 class="sub-title">/d/{sub}</h1><p>{esc(SUBFORUMS[sub])}</p><div class="post-list">{rows}</div>{nav}', f"/d/{sub}")

    def _nav(self, base: str, page: int, pages: int) -> str:
        out = []
        if page > 1:
            out.append(f'<a class="prev-page" href="{base}page={page - 1}">prev</a>')
        trap = self.faults.config.pagination_trap and self.faults.applies(self.id)
        if page < pages or trap:
            if page >= pages:
                self.faults.fire(self.id, "pagination_trap")
            out.append(f'<a class="next-page" href="{base}page={page + 1}">next</a>')
        return f'<div class="pager">{"".join(out)} <span class="of">page {page}/{pages}</span></div>'

    def thread_page(self, site_id: str, page: int) -> Response:
        t = self.world.social.thread_by_site_id(site_id, self.hours)
        if t is None:
            return self.page("<h1>Post not found</h1>", "Not found", 404)
        n = t.posts(self.hours)
        pages = max(1, math.ceil(n / POSTS_PER_PAGE))
        if page > pages:
            return self.page("<h1>No such page</h1>", "Not found", 404)
        posts = [self.world.social.post(t, i) for i in range((page - 1) * POSTS_PER_PAGE, min(n, page * POSTS_PER_PAGE))]
        body = "".join(self._post(p) for p in posts)
        return self.page(f'<article class="thread" data-thread="{t.site_id}"><h1 class="thread-title">{esc(t.title)}</h1>'
                         f'<a class="sub" href="/d/{t.sub}">/d/{t.sub}</a>{body}</article>'
                         + self._nav(f"/post/{t.site_id}?", page, pages), t.title)

    def _post(self, p: ForumPost) -> str:
        text = esc(p.text)
        for link in p.links:
            text = text.replace(esc(link), f'<a href="{esc(link)}" rel="nofollow">{esc(link)}</a>')
        return (f'<div class="comment" id="p{p.n}" data-post="{p.thread.site_id}-{p.n}">'
                f'<div class="comment-meta"><a class="user" href="/u/{esc(p.author)}">/u/{esc(p.author)}</a> '
                f'<time datetime="{at(p.posted).isoformat()}">{at(p.posted):%Y-%m-%d %H:%M}</time></div>'
                f'<div class="comment-body"><pre class="md">{text}</pre></div></div>')

    def truth(self, hours: float) -> Iterator[dict[str, object]]:
        soc = self.world.social
        for i in range(soc.thread_count(hours)):
            t = soc.thread(i)
            if t.created > hours:
                continue
            for n in range(t.posts(hours)):
                p = soc.post(t, n)
                page = n // POSTS_PER_PAGE + 1
                yield {"source": self.id, "url": self.url(f"/post/{t.site_id}" + (f"?page={page}" if page > 1 else "")) + f"#p{n}",
                       "kind": "post", "site_id": f"{t.site_id}-{n}",
                       "fields": {"author": p.author, "thread": t.site_id, "title": t.title, "subforum": t.sub,
                                  "text": p.text, "posted_at": at(p.posted).isoformat(), "links": p.links},
                       **p.facts, "person": f"p{t.author_person}" if n == 0 and t.author_person is not None else None}
