"""Inbound: what a person sent, free of any transport detail (no XML, no JSON shapes)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    """Where a message came from; replies go back the same way."""

    WECOM_APP = "wecom"  # the self-built app's 1:1 chat (encrypted XML callback)
    WECOM_AIBOT = "aibot"  # 智能机器人 in a group chat (encrypted JSON callback)
    WECHAT_MP = "wechat"  # 公众号 for enterprises on plain WeChat
    WEB = "web"  # the H5 pages (bot/h5/): a form, not a chat; what it sends goes to the 1:1 app chat


class Kind(StrEnum):
    """What sort of input it is; the router picks a handler by kind."""

    TEXT = "text"
    CARD_CLICK = "card_click"  # template_card_event
    EVENT = "event"  # subscribe, enter_agent, menu click …
    IMAGE = "image"
    UNSUPPORTED = "unsupported"  # voice, video, location, file … answered with help


@dataclass(frozen=True)
class SelectedItem:
    """One answered question of a vote/multiple interaction card."""

    question_key: str
    option_ids: tuple[str, ...]


@dataclass(frozen=True)
class Inbound:
    """One message or event from a person, as the router sees it."""

    channel: Channel
    kind: Kind
    user_id: str  # WeCom userid / WeChat openid of the sender
    dedup_key: str  # same delivery retried → same key
    created_at: datetime  # aware UTC, from the platform's CreateTime
    text: str = ""
    msg_id: str | None = None  # kept as text: WeCom sends string MsgIds since 2025
    msg_type: str = ""  # the platform's MsgType, for storage and diagnostics
    event: str | None = None
    event_key: str | None = None
    task_id: str | None = None
    response_code: str | None = None
    card_type: str | None = None
    selected: tuple[SelectedItem, ...] = ()
    media_id: str | None = None
    pic_url: str | None = None
    agent_id: str | None = None
    chat_id: str | None = None  # group chat id (AI bot)
    chat_type: str | None = None  # "group" | "single"
    response_url: str | None = None  # AI bot: one reply within an hour
    extra: dict[str, Any] = field(default_factory=dict)  # remaining raw fields, for the record

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (stored with the inbound row, passed to RQ by id only)."""
        # Field by field, not dataclasses.asdict: it deep-copies, and this runs for every callback.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["selected"] = [
            {"question_key": s.question_key, "option_ids": list(s.option_ids)} for s in self.selected
        ]
        data["extra"] = dict(self.extra)
        data["created_at"] = self.created_at.isoformat()
        data["channel"] = self.channel.value
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inbound:
        """Inverse of to_dict."""
        values = dict(data)
        values["channel"] = Channel(values["channel"])
        values["kind"] = Kind(values["kind"])
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        values["selected"] = tuple(
            SelectedItem(item["question_key"], tuple(item["option_ids"]))
            for item in values.get("selected", ())
        )
        return cls(**values)
