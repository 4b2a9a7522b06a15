"""Public Telegram channels through their ``t.me/s/<channel>`` web previews.

A preview page shows the newest ~20 messages of a channel; ``?before=<id>`` (the
``tme_messages_more`` link, also ``<link rel="prev">``) pages back in time. Each message
is a ``tgme_widget_message`` block with ``data-post="<channel>/<id>"``; its text keeps
line breaks as ``<br>``, which this spider turns back into newlines (a wallet or a price
list is line-structured). Messages become ``Post`` items keyed by ``<channel>/<id>``;
onion links in them become candidate sources through the profile spider's hook.

Selectors come from the profile (``items[0]``: ``block`` and ``fields``), so a preview
markup change is a YAML edit; only the paging and the text rendering are code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import Response

from narcwatch.crawler.models import Post
from narcwatch.spiders._fields import clean, parse_when
from narcwatch.spiders.profile_spider import ProfileSpider, _select

__all__ = ["TelegramPreviewSpider", "message_text"]

_POST_ID = re.compile(r"^([A-Za-z0-9_]{1,64})/(\d{1,12})$")
_MAX_TEXT = 100_000


def message_text(block: Selector) -> str:
    """The text of a message block with ``<br>`` as newlines; other markup dropped."""
    parts: list[str] = []
    for node in block.xpath(".//text()|.//br")[:20_000]:
        root = node.root
        if isinstance(root, str):
            parts.append(root)
        elif getattr(root, "tag", None) == "br":
            parts.append("\n")
    return "".join(parts)[:_MAX_TEXT].strip()


class TelegramPreviewSpider(ProfileSpider):
    name = "telegram"

    def parse_index(self, response: Response) -> Iterator[Any]:
        if not hasattr(response, "css"):
            self.ctx.health_error(f"{response.url}: not an HTML page")
            return
        self.index_pages += 1
        page_no = int(response.meta.get("narcwatch_index_page", 1))
        oldest: int | None = None
        found = 0
        for spec in self.profile.items:
            for block in response.css(spec.block or "div.tgme_widget_message")[:500]:
                self.item_links_seen += 1
                post = self._message(spec, block, response)
                if post is None:
                    continue
                found += 1
                msg_id = int(post.site_id.rsplit("/", 1)[1]) if post.site_id else None
                oldest = msg_id if oldest is None or (msg_id is not None and msg_id < oldest) else oldest
                yield post
                yield from self._candidates(post, response)
        nxt = response.css(self.profile.pagination).xpath("@href").get() if self.profile.pagination else None
        if not nxt:
            return
        before = re.search(r"[?&]before=(\d{1,12})", nxt)
        if page_no >= self.profile.max_pages:
            self.crawler.stats.inc_value("narcwatch/trap/max_pages")
        elif not found or (before and oldest is not None and int(before.group(1)) > oldest):
            # paging must go back in time; a link to newer or equal messages would loop
            self.crawler.stats.inc_value("narcwatch/trap/empty_page" if not found else "narcwatch/trap/not_older")
        else:
            yield scrapy.Request(response.urljoin(nxt), callback=self.parse_index,
                                 meta={"narcwatch_index_page": page_no + 1})

    def _message(self, spec: Any, block: Selector, response: Response) -> Post | None:
        data_post = (block.xpath("@data-post").get() or "").strip()
        m = _POST_ID.match(data_post[:100])
        if not m:
            self.crawler.stats.inc_value("narcwatch/items/invalid/message_id")
            return None
        text_sel = spec.fields.get("text")
        text_css = (text_sel if isinstance(text_sel, str) else (text_sel.css if text_sel else None)) or \
            "div.tgme_widget_message_text"
        text_css = text_css.split("::", 1)[0].strip() or "div.tgme_widget_message_text"
        nodes = block.css(text_css)
        text = message_text(nodes[0]) if nodes else ""
        if not text:
            # a photo or sticker without caption: nothing to extract, not a broken selector
            self.crawler.stats.inc_value("narcwatch/telegram/no_text")
            return None
        values = {name: _select(block, fs) for name, fs in spec.fields.items() if name not in ("text", "site_id")}
        capture = response.meta.get("narcwatch_capture") or ("", "")
        links = [response.urljoin(h) for h in values.get("links", [])[:200]]
        try:
            return Post(source=self.source.id, url=response.urljoin(f"/{m.group(1)}/{m.group(2)}"),
                        site_id=f"{m.group(1)}/{m.group(2)}", crawl_id=self.ctx.crawl_id,
                        capture_id=capture[0], capture_sha256=capture[1],
                        author=clean(" ".join(values.get("author", [])), 500) or None, thread=m.group(1),
                        text=text, posted_at=parse_when(" ".join(values.get("posted_at", [])[:1])), links=links,
                        language=self.source.language)
        except ValueError as exc:
            self.crawler.stats.inc_value("narcwatch/items/invalid/post")
            self.logger.warning("invalid message on %s: %s", response.url, exc)
            return None
