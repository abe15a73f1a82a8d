"""Render transport-free Replies (bot/replies.py) into WeCom JSON bodies and passive-reply XML.

Pure functions, no I/O. Limits come from the WeCom docs (paths 90236 send, 90240/94888 card
fields and updates, 91770 群机器人, 90241 passive replies). Where the platform rejects a value
we raise ValueError naming the limit; where the platform itself truncates (texts, card titles
"建议不超过…") we truncate politely with "…" so a cut never splits a character or fails a send.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from bot.replies import (
    BotAnswer,
    Button,
    CardUpdate,
    File,
    GroupText,
    Image,
    Markdown,
    Option,
    Reply,
    Select,
    TemplateCard,
    Text,
)

ELLIPSIS = "…"

NOTICE_TYPES = frozenset({"text_notice", "news_notice"})
INTERACTION_TYPES = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})
CARD_TYPES = NOTICE_TYPES | INTERACTION_TYPES

# Hard limits: the API rejects bodies beyond these.
MAX_TOUSER = 1000
MAX_DUPLICATE_CHECK_SECONDS = 4 * 3600
DUPLICATE_CHECK_SECONDS = 1800  # ours: WeCom's default window, longer than any lease plus retry
MAX_TASK_ID_BYTES = 128
MAX_BUTTONS = 6
MAX_KEY_BYTES = 1024
MAX_OPTION_ID_BYTES = 128
MAX_CHECKBOX_OPTIONS = 20
MAX_SELECTS = 3
MAX_SELECT_OPTIONS = 10
MAX_HORIZONTAL = 6
TASK_ID_RE = re.compile(r"^[0-9A-Za-z_\-@]+$")

# Soft limits (characters): the docs say "建议不超过", the client cuts the rest off anyway.
TITLE_CHARS = 36
TITLE_DESC_CHARS = 44
SUB_TITLE_CHARS = 160

# Byte limits of texts; the platform truncates beyond them, possibly mid-character.
APP_TEXT_BYTES = 2048
APP_MARKDOWN_BYTES = 2048
PASSIVE_TEXT_BYTES = 2048
GROUP_TEXT_BYTES = 2048
GROUP_MARKDOWN_BYTES = 4096
# 智能机器人: the docs give no byte limit for stream or response_url markdown; assumed to be the
# 群机器人's 4096, which keeps us on the safe side of whatever the real one is.
AIBOT_MARKDOWN_BYTES = 4096
AIBOT_WELCOME_BYTES = 2048


# ---------------------------------------------------------------- helpers


def truncate_bytes(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` UTF-8 bytes, ending in "…" when cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode("utf-8"))
    # errors="ignore" drops a character split by the byte cut instead of producing U+FFFD.
    return data[:room].decode("utf-8", errors="ignore") + ELLIPSIS


def truncate_chars(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _check_key(what: str, key: str, limit: int = MAX_KEY_BYTES) -> None:
    if not key:
        raise ValueError(f"{what} must not be empty")
    if _nbytes(key) > limit:
        raise ValueError(f"{what} exceeds {limit} bytes")


def _check_unique(what: str, values: list[str]) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must be unique within the card")


def check_task_id(task_id: str) -> None:
    """Raise ValueError unless task_id fits WeCom's charset [0-9A-Za-z_-@] and 128 bytes."""
    if not TASK_ID_RE.match(task_id):
        raise ValueError(f"task_id {task_id!r} may only contain [0-9A-Za-z_-@]")
    if _nbytes(task_id) > MAX_TASK_ID_BYTES:
        raise ValueError(f"task_id exceeds {MAX_TASK_ID_BYTES} bytes")


# ---------------------------------------------------------------- app messages


def render_app_message(
    reply: Reply, touser: str, agent_id: int, *, duplicate_check_seconds: int = DUPLICATE_CHECK_SECONDS
) -> dict[str, Any]:
    """The JSON body of `message/send` for a Text, Markdown, Image, File or TemplateCard."""
    body = _envelope(touser, agent_id, duplicate_check_seconds)
    body.update(_app_content(reply))
    return body


def _envelope(touser: str, agent_id: int, duplicate_check_seconds: int) -> dict[str, Any]:
    ids = [u for u in touser.split("|") if u]
    if not ids:
        raise ValueError("touser must name at least one userid")
    if len(ids) > MAX_TOUSER:
        raise ValueError(f"touser exceeds {MAX_TOUSER} ids")
    if not 0 < duplicate_check_seconds <= MAX_DUPLICATE_CHECK_SECONDS:
        raise ValueError(f"duplicate_check_interval must be 1..{MAX_DUPLICATE_CHECK_SECONDS} seconds")
    # Server-side dedup is the second guard (after the outbox) against a retried job sending twice.
    return {
        "touser": "|".join(ids),
        "agentid": agent_id,
        "safe": 0,
        "enable_duplicate_check": 1,
        "duplicate_check_interval": duplicate_check_seconds,
    }


def _app_content(reply: Reply) -> dict[str, Any]:
    if isinstance(reply, Text):
        return {"msgtype": "text", "text": {"content": truncate_bytes(reply.content, APP_TEXT_BYTES)}}
    if isinstance(reply, Markdown):
        content = truncate_bytes(reply.content, APP_MARKDOWN_BYTES)
        return {"msgtype": "markdown", "markdown": {"content": content}}
    if isinstance(reply, Image | File):
        return _media_content(reply)
    if isinstance(reply, TemplateCard):
        return {"msgtype": "template_card", "template_card": render_template_card(reply)}
    raise ValueError(f"{type(reply).__name__} is not an app message (use its own renderer)")


def _media_content(reply: Image | File) -> dict[str, Any]:
    kind = "image" if isinstance(reply, Image) else "file"
    if not reply.media_id:
        # The sender uploads the local file first and renders again with the media_id.
        raise ValueError(f"{kind} needs a media_id; upload {reply.path!r} first")
    return {"msgtype": kind, kind: {"media_id": reply.media_id}}


# ---------------------------------------------------------------- template cards


def render_template_card(card: TemplateCard) -> dict[str, Any]:
    """The `template_card` object for any of the five card types, checked against WeCom's limits."""
    _check_card_head(card)
    out = _common_card_fields(card)
    out.update(_TYPE_RENDERERS[card.card_type](card))
    if card.replace_text and card.card_type in INTERACTION_TYPES:
        out["replace_text"] = card.replace_text
    return out


def _check_card_head(card: TemplateCard) -> None:
    if card.card_type not in CARD_TYPES:
        raise ValueError(f"card_type {card.card_type!r} is not one of {sorted(CARD_TYPES)}")
    if card.task_id is not None:
        check_task_id(card.task_id)
    elif card.card_type in INTERACTION_TYPES:
        raise ValueError(f"task_id is required for {card.card_type}")
    if not card.title and not (card.card_type == "text_notice" and card.sub_title):
        raise ValueError("main_title.title is required (text_notice: title or sub_title)")
    if len(card.fields) > MAX_HORIZONTAL:
        raise ValueError(f"horizontal_content_list exceeds {MAX_HORIZONTAL} items")


def _common_card_fields(card: TemplateCard) -> dict[str, Any]:
    out: dict[str, Any] = {"card_type": card.card_type}
    if card.source:
        out["source"] = {"desc": card.source, "desc_color": 0}
    if card.task_id:
        out["task_id"] = card.task_id
    main_title = _main_title(card)
    if main_title:
        out["main_title"] = main_title
    if card.quote:
        out["quote_area"] = {"type": 0, "quote_text": card.quote}
    if card.sub_title:
        out["sub_title_text"] = truncate_chars(card.sub_title, SUB_TITLE_CHARS)
    if card.fields:
        out["horizontal_content_list"] = [{"keyname": k, "value": v} for k, v in card.fields]
    if card.url:
        out["card_action"] = {"type": 1, "url": card.url}
    return out


def _main_title(card: TemplateCard) -> dict[str, str]:
    title: dict[str, str] = {}
    if card.title:
        title["title"] = truncate_chars(card.title, TITLE_CHARS)
    if card.desc:
        title["desc"] = truncate_chars(card.desc, TITLE_DESC_CHARS)
    return title


def _render_text_notice(card: TemplateCard) -> dict[str, Any]:
    _require_card_action(card)
    out: dict[str, Any] = {}
    if card.emphasis:
        out["emphasis_content"] = {"title": card.emphasis[0], "desc": card.emphasis[1]}
    return out


def _render_news_notice(card: TemplateCard) -> dict[str, Any]:
    _require_card_action(card)
    if not card.image_url:
        raise ValueError("news_notice needs image_url (card_image is required)")
    return {"card_image": {"url": card.image_url}}


def _require_card_action(card: TemplateCard) -> None:
    # The docs allow only card_action.type 1 (url) or 2 (mini program) on notice cards;
    # type 0 is rejected, so a notice card without a url cannot be sent.
    if not card.url:
        raise ValueError(f"{card.card_type} needs url: card_action is required (type 1 or 2)")


def _render_button_interaction(card: TemplateCard) -> dict[str, Any]:
    if not card.buttons:
        raise ValueError("button_interaction needs at least one button")
    if len(card.buttons) > MAX_BUTTONS:
        raise ValueError(f"button_list exceeds {MAX_BUTTONS} buttons")
    _check_unique("button key", [b.key for b in card.buttons])
    return {"button_list": [_button(b) for b in card.buttons]}


def _button(button: Button) -> dict[str, Any]:
    _check_key("button key", button.key)
    if button.style not in (1, 2, 3, 4):
        raise ValueError("button style must be 1..4")
    return {"text": button.text, "style": button.style, "key": button.key}


def _render_vote_interaction(card: TemplateCard) -> dict[str, Any]:
    _check_key("question_key", card.question_key or "")
    if not 1 <= len(card.options) <= MAX_CHECKBOX_OPTIONS:
        raise ValueError(f"checkbox needs 1..{MAX_CHECKBOX_OPTIONS} options")
    checkbox = {
        "question_key": card.question_key,
        "option_list": _option_list(card.options, with_checked=True),
        "mode": 1 if card.multi else 0,
    }
    return {"checkbox": checkbox, "submit_button": _submit_button(card)}


def _render_multiple_interaction(card: TemplateCard) -> dict[str, Any]:
    if not 1 <= len(card.selects) <= MAX_SELECTS:
        raise ValueError(f"select_list needs 1..{MAX_SELECTS} selects")
    _check_unique("select question_key", [s.question_key for s in card.selects])
    return {"select_list": [_select(s) for s in card.selects], "submit_button": _submit_button(card)}


def _select(select: Select) -> dict[str, Any]:
    _check_key("select question_key", select.question_key)
    if not 1 <= len(select.options) <= MAX_SELECT_OPTIONS:
        raise ValueError(f"select {select.question_key!r} needs 1..{MAX_SELECT_OPTIONS} options")
    out: dict[str, Any] = {
        "question_key": select.question_key,
        "title": select.title,
        "option_list": _option_list(select.options, with_checked=False),
    }
    if select.selected_id:
        out["selected_id"] = select.selected_id
    return out


def _option_list(options: tuple[Option, ...], *, with_checked: bool) -> list[dict[str, Any]]:
    _check_unique("option id", [o.id for o in options])
    rendered = []
    for option in options:
        _check_key("option id", option.id, MAX_OPTION_ID_BYTES)
        item: dict[str, Any] = {"id": option.id, "text": option.text}
        if with_checked:
            item["is_checked"] = option.checked
        rendered.append(item)
    return rendered


def _submit_button(card: TemplateCard) -> dict[str, str]:
    _check_key(f"{card.card_type} submit_key", card.submit_key or "")
    return {"text": card.submit_text or "提交", "key": card.submit_key or ""}


_TYPE_RENDERERS = {
    "text_notice": _render_text_notice,
    "news_notice": _render_news_notice,
    "button_interaction": _render_button_interaction,
    "vote_interaction": _render_vote_interaction,
    "multiple_interaction": _render_multiple_interaction,
}


# ---------------------------------------------------------------- card updates


def render_card_update(update: CardUpdate, agent_id: int, userids: list[str]) -> dict[str, Any]:
    """The JSON body of `message/update_template_card` (relabel the button or replace the card)."""
    if (update.card is None) == (update.replace_name is None):
        raise ValueError("CardUpdate needs exactly one of card or replace_name")
    if not update.response_code:
        raise ValueError("response_code is required")
    if len(userids) > MAX_TOUSER:
        raise ValueError(f"userids exceeds {MAX_TOUSER} ids")
    body: dict[str, Any] = {
        "userids": list(userids),
        "agentid": agent_id,
        "response_code": update.response_code,
    }
    if update.card is not None:
        body["template_card"] = render_template_card(update.card)
    else:
        body["button"] = {"replace_name": update.replace_name}
    return body


# ---------------------------------------------------------------- 群机器人 webhook


def render_group_message(msg: GroupText) -> dict[str, Any]:
    """The JSON body of the 群机器人 `webhook/send`; too long a text is cut, never refused."""
    if msg.markdown:
        return {"msgtype": "markdown", "markdown": {"content": _group_markdown(msg)}}
    text: dict[str, Any] = {"content": truncate_bytes(msg.content, GROUP_TEXT_BYTES)}
    if msg.mentioned:
        text["mentioned_list"] = list(msg.mentioned)
    return {"msgtype": "text", "text": text}


GROUP_IMAGE_BYTES = 2 * 1024 * 1024


def render_group_image(image: bytes) -> dict[str, Any]:
    """The 群机器人 `image` message: the picture base64-encoded with its md5 (at most 2 MB)."""
    if len(image) > GROUP_IMAGE_BYTES:
        raise ValueError(f"a group image may be at most 2 MB, this one is {len(image)} bytes")
    encoded = base64.b64encode(image).decode("ascii")
    return {"msgtype": "image", "image": {"base64": encoded, "md5": hashlib.md5(image).hexdigest()}}  # noqa: S324 - WeCom's checksum


def _group_markdown(msg: GroupText) -> str:
    # Markdown ignores mentioned_list; <@userid> in the content is how it mentions. Cut the body
    # first so the mentions survive truncation.
    mentions = "".join(f"<@{userid}>" for userid in msg.mentioned)
    suffix = f"\n{mentions}" if mentions else ""
    return truncate_bytes(msg.content, GROUP_MARKDOWN_BYTES - _nbytes(suffix)) + suffix


# ---------------------------------------------------------------- passive replies (XML)

# Characters XML 1.0 forbids even inside CDATA; a stray one makes the client drop the reply.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _cdata(text: str) -> str:
    # "]]>" would end the section early: split it across two CDATA sections.
    cleaned = _XML_FORBIDDEN.sub("", text).replace("]]>", "]]]]><![CDATA[>")
    return f"<![CDATA[{cleaned}]]>"


def render_passive_text(content: str, to_user: str, from_user: str, create_time: int) -> str:
    """The plaintext XML of a passive text reply (encrypt it before answering the callback)."""
    body = truncate_bytes(content, PASSIVE_TEXT_BYTES)
    return (
        "<xml>"
        f"<ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(body)}</Content>"
        "</xml>"
    )


def render_passive_reply(reply: Reply, to_user: str, from_user: str, create_time: int) -> str | None:
    """Passive-reply XML for a Text or Markdown (as text); None means "send it via the API"."""
    if isinstance(reply, Text):
        return render_passive_text(reply.content, to_user, from_user, create_time)
    if isinstance(reply, Markdown):
        return render_passive_text(markdown_to_text(reply.content), to_user, from_user, create_time)
    return None


_FONT_TAG = re.compile(r"</?font[^>]*>", re.IGNORECASE)
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s*", re.MULTILINE)
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def markdown_to_text(content: str) -> str:
    """WeCom markdown made readable as plain text (a passive reply cannot be markdown)."""
    text = _FONT_TAG.sub("", content)
    text = _LINK.sub(r"\1 \2", text)
    text = _HEADING.sub("", text)
    return _BOLD.sub(r"\1", text)


# ---------------------------------------------------------------- 智能机器人 (AI bot) replies (JSON)


def render_aibot_passive(reply: Reply, stream_id: str, *, welcome: bool = False) -> str | None:
    """Plaintext JSON of a passive AI-bot reply (encrypt it); None means "nothing passive".

    A user message is answered with one finished stream message (markdown); the enter_chat event
    only takes a plain text welcome.
    """
    if not isinstance(reply, Text | Markdown):
        return None
    if welcome:
        text = reply.content if isinstance(reply, Text) else markdown_to_text(reply.content)
        welcome_text = truncate_bytes(text, AIBOT_WELCOME_BYTES)
        body: dict[str, Any] = {"msgtype": "text", "text": {"content": welcome_text}}
    else:
        content = truncate_bytes(reply.content, AIBOT_MARKDOWN_BYTES)
        body = {"msgtype": "stream", "stream": {"id": stream_id, "finish": True, "content": content}}
    return json.dumps(body, ensure_ascii=False)


def render_bot_answer(answer: BotAnswer) -> dict[str, Any]:
    """The JSON body posted to a message's response_url: one markdown message."""
    content = truncate_bytes(answer.content, AIBOT_MARKDOWN_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}
