"""A terminal chat with the bot as a chosen person, through the real encrypted callback.

What you type is encrypted and posted exactly as WeCom would post it; the bot's passive reply
is decrypted and shown, and whatever the bot pushes through the API to you (cards included)
is read back from the local WeCom stand-in. `/click N` presses button N of the last card.
`/group` moves the chat into a group, where each line @-mentions the 智能机器人 through its own
encrypted callback; answers posted later to the response_url are read back from the stand-in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from defusedxml.ElementTree import fromstring

from bot.settings import Settings
from bot.standin.platform import WeComPlatform

HELP = """命令：直接输入文字与机器人对话（如「帮助」「我是谁」「绑定 统一社会信用代码 姓名」）
  /click N    点击最近一张卡片的第 N 个按钮
  /as 账号    换一个人说话（如 /as gxj_zhou 、/as leader_wang 、/as admin）
  /group [群] 到群聊里 @政企直通车（智能机器人）说话；卡片仍发到应用单聊
  /single     回到与应用的单聊
  /quit       退出"""
DEMO_GROUP = "wrDemoGroupXianFGJ"  # a made-up chat id for the demo's group


@dataclass
class ChatSession:
    """One newcomer's view: who he speaks as, and the cards he has seen."""

    platform: WeComPlatform
    standin_url: str
    user: str
    show: Callable[[str], None] = print
    last_card: dict[str, Any] | None = None
    seen: dict[str, int] = field(default_factory=dict)  # last stand-in seq shown, per user
    lock: threading.Lock = field(default_factory=threading.Lock)
    group: str | None = None  # the group chat id while speaking in a group
    seen_chat: int = 0  # last stand-in seq of a group answer shown

    def say(self, text: str) -> None:
        """Send a text as the current user and show the passive reply."""
        if self.group:
            self._say_in_group(text)
            return
        delivery = self.platform.send_text(self.user, text)
        if delivery.status != 200:
            self.show(f"[webhook answered HTTP {delivery.status}: {delivery.body[:200]!r}]")
        elif delivery.reply:
            self.show(f"机器人：{_passive_text(delivery.reply)}")

    def _say_in_group(self, text: str) -> None:
        """@-mention the AI bot in the current group and show its passive stream."""
        assert self.group is not None
        delivery = self.platform.group_say(self.user, self.group, text)
        if delivery.status != 200:
            self.show(f"[webhook answered HTTP {delivery.status}: {delivery.body[:200]!r}]")
        elif delivery.text:
            self.show(f"政企直通车（群）：{delivery.text}")

    def click(self, number: int) -> None:
        """Press button `number` (1-based) of the last card shown."""
        card = self.last_card
        buttons = (card or {}).get("body", {}).get("template_card", {}).get("button_list", [])
        if not card or not 1 <= number <= len(buttons):
            self.show("没有可以点击的按钮。")
            return
        button = buttons[number - 1]
        self.show(f"（点击了「{button['text']}」）")
        delivery = self.platform.click(
            self.user, event_key=button["key"], task_id=card["task_id"], response_code=card["response_code"]
        )
        if delivery.reply:
            self.show(f"机器人：{_passive_text(delivery.reply)}")

    def poll(self) -> None:
        """Show what the bot pushed to the current user since last time."""
        with self.lock:
            since = self.seen.get(self.user, 0)
            url = f"{self.standin_url}/_standin/messages"
            try:
                params = {"touser": self.user, "since": str(since)}
                found = requests.get(url, params=params, timeout=3).json()["messages"]
            except (requests.RequestException, ValueError, KeyError):
                return
            for message in found:
                self.seen[self.user] = max(self.seen.get(self.user, 0), message["seq"])
                self.show(render_pushed(message))
                if message.get("response_code"):
                    self.last_card = message
            self._poll_group()

    def _poll_group(self) -> None:
        """Show what the current group received since last time (answers via response_url, webhooks)."""
        if not self.group:
            return
        params = {"chatid": self.group, "since": str(self.seen_chat)}
        url = f"{self.standin_url}/_standin/chats"
        try:
            found = requests.get(url, params=params, timeout=3).json()["chats"]
        except (requests.RequestException, ValueError, KeyError):
            return
        for entry in found:
            self.seen_chat = max(self.seen_chat, entry["seq"])
            self.show(f"政企直通车（群，稍后）：{entry['content']}")


def _passive_text(xml: str) -> str:
    root = fromstring(xml)
    return root.findtext("Content") or xml


def render_pushed(message: dict[str, Any]) -> str:
    """A pushed message as terminal text (cards with numbered buttons)."""
    body = message.get("body", {})
    kind = message.get("msgtype")
    if kind == "text":
        return f"机器人（推送）：{body['text']['content']}"
    if kind == "markdown":
        return f"机器人（推送）：\n{body['markdown']['content']}"
    if kind == "template_card":
        return _render_card(body["template_card"])
    return f"机器人（推送 {kind}）"


def _render_card(card: dict[str, Any]) -> str:
    title = card.get("main_title", {})
    lines = [f"┌ 卡片：{title.get('title', '')}  {title.get('desc', '')}"]
    for item in card.get("horizontal_content_list", []):
        lines.append(f"│ {item.get('keyname')}：{item.get('value', '')}")
    for index, button in enumerate(card.get("button_list", []), 1):
        lines.append(f"│ [{index}] {button['text']}   （输入 /click {index}）")
    lines.append("└")
    return "\n".join(lines)


def run_chat(settings: Settings, *, user: str, web_url: str, standin_url: str) -> None:
    """The interactive loop; a background thread shows pushes as they arrive."""
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
    chat = ChatSession(platform, standin_url.rstrip("/"), user)
    stop = threading.Event()
    threading.Thread(target=_poll_forever, args=(chat, stop), daemon=True).start()
    print(HELP)
    try:
        _loop(chat)
    finally:
        stop.set()


def _poll_forever(chat: ChatSession, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        chat.poll()


def _loop(chat: ChatSession) -> None:
    while True:
        try:
            line = input(f"{chat.user}> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return
        _command(chat, line)
        time.sleep(0.3)
        chat.poll()


def _command(chat: ChatSession, line: str) -> None:
    if line.startswith("/as "):
        chat.user = line[4:].strip()
        print(f"现在您是 {chat.user}。")
        chat.poll()  # what the bot pushed to this person while you were someone else
    elif line.startswith("/group"):
        _enter_group(chat, line[6:].strip() or DEMO_GROUP)
    elif line == "/single":
        chat.group = None
        print("回到与应用的单聊。")
    elif line.startswith("/click"):
        arg = line[6:].strip()
        chat.click(int(arg) if arg.isdigit() else 0)
    elif line.startswith("/"):
        print(HELP)
    else:
        try:
            chat.say(line)
        except requests.RequestException as exc:
            print(f"[连接机器人失败：{exc}]")


def _enter_group(chat: ChatSession, chatid: str) -> None:
    """Speak in group `chatid` from now on (answers the group got earlier are not replayed)."""
    if not chat.platform.standin_url:
        print("需要本地 WeCom 替身才能模拟群聊。")
        return
    chat.group = chatid
    print(f"现在您在群 {chatid} 里说话（每句话都会 @政企直通车）。/single 回到单聊。")
