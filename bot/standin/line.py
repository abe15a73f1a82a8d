"""The newcomer's line to the bot: speak, click and read back, as WeCom and its clients would.

Shared by the terminal chat (`ztc chat`, bot/standin/chat.py) and the browser simulator
(`ztc simulator`, bot/simulator/): what a person types is encrypted and posted to the real
callback by WeComPlatform, the passive answer is decrypted, and whatever the bot sent through the
WeCom API (1:1 messages, card updates, group answers, uploaded files) is read back from the
stand-in's /_standin/ log. Only the showing differs between the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from defusedxml.ElementTree import ParseError, fromstring

from bot.settings import Settings
from bot.standin.platform import AibotDelivery, Delivery, WeComPlatform

READ_TIMEOUT = 3.0


@dataclass(frozen=True)
class Answer:
    """What the bot answered at once to one action: its passive text, or why there is none."""

    text: str | None = None
    error: str | None = None  # the webhook refused the callback, or could not be reached


class StandinUnavailable(Exception):
    """The stand-in did not answer (not started, or gone)."""


@dataclass
class BotLine:
    """One connection to the bot (through WeComPlatform) and to the stand-in that plays WeCom."""

    platform: WeComPlatform
    standin_url: str
    bot_name: str = "政企直通车"  # the AI bot's name, as a group member @-mentions it
    http: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def connect(cls, settings: Settings, *, web_url: str, standin_url: str) -> BotLine:
        """A line to the bot at `web_url` (its /wecom/ callbacks) with the stand-in at `standin_url`."""
        standin_url = standin_url.rstrip("/")
        platform = WeComPlatform(
            callback_url=f"{web_url.rstrip('/')}/wecom/callback",
            corp_id=settings.wecom_corp_id,
            token=settings.wecom_token,
            aes_key=settings.wecom_aes_key,
            agent_id=settings.wecom_agent_id,
            aibot_token=settings.aibot_token or None,
            aibot_aes_key=settings.aibot_aes_key or None,
            standin_url=standin_url,
        )
        return cls(platform, standin_url, settings.aibot_name)

    # ------------------------------------------------------------ acting as a person

    def say(self, user: str, text: str) -> Answer:
        """`user` types `text` in the app's 1:1 chat; the passive reply."""
        try:
            return _app_answer(self.platform.send_text(user, text))
        except requests.RequestException as exc:
            return Answer(error=f"连接机器人失败：{exc}")

    def say_in_group(self, user: str, chatid: str, text: str) -> Answer:
        """`user` @-mentions the AI bot in group `chatid`; its passive stream (later answers: group_chat)."""
        try:
            delivery = self.platform.group_say(user, chatid, text, bot_name=self.bot_name)
        except requests.RequestException as exc:
            return Answer(error=f"连接机器人失败：{exc}")
        return _aibot_answer(delivery)

    def click(self, user: str, message: dict[str, Any], key: str) -> Answer:
        """`user` presses the button `key` of the card in stand-in record `message`."""
        if not message.get("response_code") or key not in {b["key"] for b in card_buttons(message)}:
            return Answer(error="这张卡片上没有这个按钮。")
        try:
            delivery = self.platform.click(
                user, event_key=key, task_id=message["task_id"], response_code=message["response_code"]
            )
        except requests.RequestException as exc:
            return Answer(error=f"连接机器人失败：{exc}")
        return _app_answer(delivery)

    # ------------------------------------------------------------ reading back from the stand-in

    def pushed(self, touser: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """Messages the bot sent through message/send (one record per recipient), after seq `since`."""
        params = {"touser": touser or "", "since": str(since)}
        return list(self._get("messages", params)["messages"])

    def group_chat(self, chatid: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """What groups received later: answers to response_urls and bound 群机器人 sends."""
        params = {"chatid": chatid or "", "since": str(since)}
        return list(self._get("chats", params)["chats"])

    def card_updates(self) -> list[dict[str, Any]]:
        """Every message/update_template_card the bot made, oldest first."""
        return list(self._get("updates", {})["updates"])

    def media(self) -> dict[str, dict[str, Any]]:
        """Uploaded files and images by media_id: type, filename, length."""
        return dict(self._get("media", {})["media"])

    def bind_group(self, webhook_key: str, chatid: str) -> None:
        """Show the 群机器人 sends of `webhook_key` in the chat log of group `chatid`."""
        try:
            url, binding = (
                f"{self.standin_url}/_standin/group_webhooks",
                {"key": webhook_key, "chatid": chatid},
            )
            self.http.post(url, json=binding, timeout=READ_TIMEOUT).raise_for_status()
        except requests.RequestException as exc:
            raise StandinUnavailable(str(exc)) from exc

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self.http.get(
                f"{self.standin_url}/_standin/{path}", params=params, timeout=READ_TIMEOUT
            )
            response.raise_for_status()
            data: dict[str, Any] = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise StandinUnavailable(str(exc)) from exc
        return data


def _app_answer(delivery: Delivery) -> Answer:
    if delivery.status != 200:
        return Answer(
            error=f"回调被拒绝：HTTP {delivery.status} {delivery.body[:200].decode(errors='replace')}"
        )
    return Answer(text=passive_text(delivery.reply) if delivery.reply else None)


def _aibot_answer(delivery: AibotDelivery) -> Answer:
    if delivery.status != 200:
        return Answer(
            error=f"回调被拒绝：HTTP {delivery.status} {delivery.body[:200].decode(errors='replace')}"
        )
    return Answer(text=delivery.text)


def passive_text(xml: str) -> str:
    """The text of a decrypted passive reply (the XML itself if it is not one)."""
    try:
        return fromstring(xml).findtext("Content") or xml
    except ParseError:
        return xml


# ---------------------------------------------------------------- cards


def card_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons of a pushed template card (none for other messages)."""
    card = (message.get("body") or {}).get("template_card") or {}
    return list(card.get("button_list") or [])


def current_card(message: dict[str, Any], updates: list[dict[str, Any]]) -> tuple[dict[str, Any], str | None]:
    """A pushed card as its recipient sees it now: (the card, the label replacing its buttons, if any).

    An update names the response_code of the click it answers, which the stand-in issued to this
    recipient's copy of the card: so an update changes one person's card, not everyone's.
    """
    card: dict[str, Any] = (message.get("body") or {}).get("template_card") or {}
    replaced: str | None = None
    code = message.get("response_code")
    for update in updates:
        body = update.get("body") or {}
        if not code or body.get("response_code") != code:
            continue
        if "template_card" in body:
            card, replaced = body["template_card"], None
        else:
            replaced = (body.get("button") or {}).get("replace_name")
    return card, replaced
