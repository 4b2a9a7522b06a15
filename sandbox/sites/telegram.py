"""Telegram public channel previews, in the structure of ``https://t.me/s/<channel>``.

``/s/<channel>`` shows the newest 20 messages, ``/s/<channel>?before=<id>`` the 20 before
``id``; ``/<channel>/<id>`` one message. Markup follows the real preview page: a
``tgme_channel_info`` header, then ``tgme_widget_message_wrap`` blocks whose
``tgme_widget_message`` carries ``data-post="<channel>/<id>"``, the text in
``tgme_widget_message_text``, views, and a ``tgme_widget_message_date`` link with a
``<time datetime>``; older pages via ``<link rel="prev">`` and ``tme_messages_more``.
"""

from __future__ import annotations

from collections.abc import Iterator

from narcwatch.sandbox.clock import at
from narcwatch.sandbox.http import Request, Response, html
from narcwatch.sandbox.sites._base import Site, esc
from narcwatch.sandbox.social import ChannelMessage

__all__ = ["TelegramPreview"]

PER_PAGE = 20


def _views(n: int) -> str:
    return f"{n / 1000:.1f}K" if n >= 1000 else str(n)


class TelegramPreview(Site):
    id = "telegram"
    name = "Telegram channel previews"
    kind = "telegram"
    network = "clearnet"
    profile = "sandbox_telegram"

    def start_urls(self) -> list[str]:
        return [self.url(f"/s/{c}") for c in sorted(self.world.social.channels)]

    def visible(self, channel: str, hours: float) -> list[int]:
        """Message indices posted by ``hours`` (a prefix of the index space)."""
        soc = self.world.social
        n = soc.message_count(channel, hours)
        last = n
        while last > 0 and soc.message(channel, last - 1).posted > hours:
            last -= 1
        return list(range(last))

    def route(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        soc = self.world.social
        if len(parts) == 2 and parts[0] == "s" and parts[1] in soc.channels:
            before = req.query.get("before", "")
            return self.preview(parts[1], int(before) if before.isdigit() and len(before) < 10 else None)
        if len(parts) == 2 and parts[0] in soc.channels and parts[1].isdigit() and len(parts[1]) < 10:
            k = int(parts[1]) - soc.FIRST_ID
            if 0 <= k < len(self.visible(parts[0], self.hours)):
                m = soc.message(parts[0], k)
                return self._doc(parts[0], self._message(m), f"{parts[0]}/{m.msg_id}")
        return html("<html><body><div class='tgme_page'>Channel not found</div></body></html>", 404)

    def _message(self, m: ChannelMessage) -> str:
        person = self.world.social.channels[m.channel]
        text = "<br/>".join(esc(line) for line in m.text.split("\n"))
        ts = at(m.posted)
        return (f'<div class="tgme_widget_message_wrap js-widget_message_wrap">'
                f'<div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{m.channel}/{m.msg_id}" data-view="{m.views}">'
                f'<div class="tgme_widget_message_user"><a href="https://t.me/{m.channel}"><i class="tgme_widget_message_user_photo bgcolor0"></i></a></div>'
                f'<div class="tgme_widget_message_bubble"><div class="tgme_widget_message_author accent_color">'
                f'<a class="tgme_widget_message_owner_name" href="https://t.me/{m.channel}"><span dir="auto">{esc(person.handle)}</span></a></div>'
                f'<div class="tgme_widget_message_text js-message_text" dir="auto">{text}</div>'
                f'<div class="tgme_widget_message_footer compact js-message_footer"><div class="tgme_widget_message_info short js-message_info">'
                f'<span class="tgme_widget_message_views">{_views(m.views)}</span><span class="copyonly"> views</span>'
                f'<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="https://t.me/{m.channel}/{m.msg_id}">'
                f'<time datetime="{ts.isoformat()}" class="time">{ts:%H:%M}</time></a></span></div></div></div></div></div>')

    def _doc(self, channel: str, body: str, title: str, extra_head: str = "") -> Response:
        person = self.world.social.channels[channel]
        return html(
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{esc(person.handle)} – Telegram</title>'
            f'<meta property="og:title" content="{esc(person.handle)}">{extra_head}</head>'
            f'<body class="widget_frame_base tgme_webpreview"><div class="tgme_channel_info">'
            f'<div class="tgme_channel_info_header"><div class="tgme_channel_info_header_title"><span dir="auto">{esc(person.handle)}</span></div>'
            f'<div class="tgme_channel_info_header_username"><a href="https://t.me/{channel}">@{channel}</a></div></div>'
            f'<div class="tgme_channel_info_description">Quality products, fast delivery. Contact {esc(person.contacts["telegram"])}</div>'
            f'<div class="tgme_channel_info_counters"><div class="tgme_channel_info_counter"><span class="counter_value">'
            f'{1200 + len(channel) * 37}</span> <span class="counter_type">subscribers</span></div></div></div>'
            f'<main class="tgme_main"><section class="tgme_channel_history js-message_history">{body}</section></main></body></html>')

    def preview(self, channel: str, before: int | None) -> Response:
        soc = self.world.social
        ids = self.visible(channel, self.hours)
        if before is not None:
            ids = [k for k in ids if soc.FIRST_ID + k < before]
        page = ids[-PER_PAGE:]
        msgs = [soc.message(channel, k) for k in page]
        head = ""
        more = ""
        if page and page[0] > 0:
            first = soc.FIRST_ID + page[0]
            head = f'<link rel="prev" href="/s/{channel}?before={first}">'
            more = f'<a class="tme_messages_more js-messages_more" data-before="{first}" href="/s/{channel}?before={first}"></a>'
        return self._doc(channel, more + "".join(self._message(m) for m in msgs), channel, head)

    def truth(self, hours: float) -> Iterator[dict[str, object]]:
        soc = self.world.social
        for channel in sorted(soc.channels):
            person = soc.channels[channel]
            for k in self.visible(channel, hours):
                m = soc.message(channel, k)
                yield {"source": self.id, "url": self.url(f"/{channel}/{m.msg_id}"), "kind": "message",
                       "site_id": f"{channel}/{m.msg_id}",
                       "fields": {"channel": channel, "author": person.handle, "text": m.text,
                                  "posted_at": at(m.posted).isoformat(), "views": m.views},
                       **m.facts, "person": person.id}
