"""Template filters: WeCom's markdown as safe HTML, times in the county's zone, file sizes.

WeCom renders a small markdown: headings, **bold**, [links](url), > quotes and
<font color="info|comment|warning">; a group message may mention people as <@userid>. Everything
is escaped first and only those forms are turned back into tags, so a message can never inject
markup into the page; links are kept only for http(s) addresses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

_QUOTE = r"(?:&#34;|&#39;|&quot;)?"  # how escape() leaves the quotes around an attribute
_FONT = re.compile(rf"&lt;font color={_QUOTE}(info|comment|warning){_QUOTE}&gt;(.*?)&lt;/font&gt;", re.S)
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_HEADING = re.compile(r"^#{1,6}\s*(.+)$", re.M)
_QUOTE_LINE = re.compile(r"^&gt;\s?(.*)$", re.M)
_MENTION = re.compile(r"&lt;@([A-Za-z0-9_.@-]{1,64})&gt;")


def wecom_markdown(text: str, name_of: Callable[[str], str] = str) -> Markup:
    """`text` in WeCom's markdown as HTML; <@userid> mentions shown as @name."""
    html = str(escape(text))
    html = _FONT.sub(r'<span class="font-\1">\2</span>', html)
    html = _LINK.sub(r'<a href="\2" rel="noopener noreferrer" target="_blank">\1</a>', html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    html = _HEADING.sub(r'<strong class="heading">\1</strong>', html)
    html = _QUOTE_LINE.sub(r'<span class="quote">\1</span>', html)
    html = _MENTION.sub(lambda m: f'<span class="mention">@{escape(name_of(m.group(1)))}</span>', html)
    return Markup(html)  # noqa: S704 - built from escaped text, only the tags above added


def clock_time(epoch: float, zone: ZoneInfo) -> str:
    """HH:MM:SS in the county's zone."""
    return datetime.fromtimestamp(epoch, zone).strftime("%H:%M:%S")


def file_size(length: int | None) -> str:
    """A byte count as 字节 / KB / MB."""
    if length is None:
        return ""
    if length < 1024:
        return f"{length} 字节"
    if length < 1024 * 1024:
        return f"{length / 1024:.1f} KB"
    return f"{length / 1024 / 1024:.1f} MB"


def http_url(url: str | None) -> str:
    """`url` if it is an http(s) address, else "#" (a message never gets a javascript: link)."""
    return url if isinstance(url, str) and re.match(r"^https?://", url) else "#"
