"""Reply: what the bot says, free of transport. bot/wecom/outbound.py renders it to WeCom JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Text:
    """Plain text; the commonest answer."""

    content: str


@dataclass(frozen=True)
class Markdown:
    """WeCom markdown (a subset: headings, bold, links, <font color>)."""

    content: str


@dataclass(frozen=True)
class Image:
    """An image by uploaded media_id, or by a local file the sender uploads first."""

    media_id: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class File:
    """A file (e.g. an XLSX export) by media_id or local path."""

    media_id: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Button:
    """A card button; `key` comes back as EventKey when clicked (router card_action prefix)."""

    text: str
    key: str
    style: int = 1  # 1 blue, 2 grey, 3 red, 4 light blue


@dataclass(frozen=True)
class Option:
    """A choice in a vote/multiple card."""

    id: str
    text: str
    checked: bool = False


@dataclass(frozen=True)
class Select:
    """One drop-down of a multiple_interaction card."""

    question_key: str
    title: str
    options: tuple[Option, ...]
    selected_id: str | None = None


@dataclass(frozen=True)
class TemplateCard:
    """A WeCom template card of any type; the renderer checks each type's limits."""

    card_type: str  # text_notice | news_notice | button_interaction | vote_interaction | multiple_interaction
    title: str
    desc: str = ""
    task_id: str | None = None  # required for interaction cards; unique per app
    source: str = "政企直通车"
    emphasis: tuple[str, str] | None = None  # (big figure, its caption)
    quote: str | None = None
    sub_title: str | None = None
    fields: tuple[tuple[str, str], ...] = ()  # horizontal_content_list (label, value)
    buttons: tuple[Button, ...] = ()
    url: str | None = None  # card_action jump target
    image_url: str | None = None  # news_notice
    question_key: str | None = None  # vote_interaction
    options: tuple[Option, ...] = ()  # vote_interaction
    multi: bool = False  # vote_interaction: several choices
    selects: tuple[Select, ...] = ()  # multiple_interaction
    submit_text: str = "提交"
    submit_key: str | None = None
    replace_text: str | None = None  # shown on the card after a click


@dataclass(frozen=True)
class CardUpdate:
    """Replace a clicked card (update_template_card with the click's response_code)."""

    response_code: str
    card: TemplateCard | None = None
    replace_name: str | None = None  # or just relabel the clicked button


@dataclass(frozen=True)
class GroupText:
    """Text pushed into a department's group through its 群机器人 webhook."""

    webhook_key: str
    content: str
    mentioned: tuple[str, ...] = ()
    markdown: bool = False


@dataclass(frozen=True)
class GroupImage:
    """A picture (PNG/JPG, at most 2 MB) pushed into a group through its 群机器人 webhook."""

    webhook_key: str
    path: str  # read and encoded (base64 + md5) when it is sent


@dataclass(frozen=True)
class BotAnswer:
    """The answer to one AI-bot (智能机器人) message, posted once to its response_url.

    Made by the intake, not by handlers: it joins a message's texts, because the url takes one
    post. `user_id` and `expires_at` (Unix seconds) let the sender fall back to the person's 1:1
    app chat when the url has expired. The url is a credential: it is never logged.
    """

    response_url: str = field(repr=False)  # kept out of reprs, which end up in logs
    content: str  # markdown
    user_id: str
    expires_at: int


Reply = Text | Markdown | Image | File | TemplateCard | CardUpdate | GroupText | GroupImage | BotAnswer

_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (Text, Markdown, Image, File, TemplateCard, CardUpdate, GroupText, GroupImage, BotAnswer)
}


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """A JSON-safe dict with a type tag (stored in the outbox)."""
    return {"type": type(reply).__name__, **asdict(reply)}


def reply_from_dict(data: dict[str, Any]) -> Reply:
    """Inverse of reply_to_dict."""
    values = dict(data)
    kind = values.pop("type")
    if kind == "TemplateCard":
        return _card_from_dict(values)
    if kind == "CardUpdate":
        card = values.get("card")
        return CardUpdate(
            values["response_code"], _card_from_dict(card) if card else None, values.get("replace_name")
        )
    if kind == "GroupText":
        values["mentioned"] = tuple(values.get("mentioned", ()))
    return _TYPES[kind](**values)


def _card_from_dict(values: dict[str, Any]) -> TemplateCard:
    v = dict(values)
    v["emphasis"] = tuple(v["emphasis"]) if v.get("emphasis") else None
    v["fields"] = tuple(tuple(f) for f in v.get("fields", ()))
    v["buttons"] = tuple(Button(**b) for b in v.get("buttons", ()))
    v["options"] = tuple(Option(**o) for o in v.get("options", ()))
    v["selects"] = tuple(
        Select(s["question_key"], s["title"], tuple(Option(**o) for o in s["options"]), s.get("selected_id"))
        for s in v.get("selects", ())
    )
    return TemplateCard(**v)
