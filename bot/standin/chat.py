"""A terminal chat with the bot as a chosen person, through the real encrypted callback.

The sending and reading back are BotLine's (bot/standin/line.py), shared with the browser
simulator (`ztc simulator`); this module only shows them in a terminal.

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

from bot.settings import Settings
from bot.standin.line import Answer, BotLine, StandinUnavailable, card_buttons, current_card

HELP = """命令：直接输入文字与机器人对话（如「帮助」「我是谁」「绑定 统一社会信用代码 姓名」）
  /click N    点击最近一张卡片的第 N 个按钮
  /as 账号    换一个人说话（如 /as gxj_zhou 、/as leader_wang 、/as admin）
  /group [群] 到群聊里 @政企直通车（智能机器人）说话；卡片仍发到应用单聊
  /single     回到与应用的单聊
  /quit       退出"""
DEMO_GROUP = "wrDemoGroupXianFGJ"  # a made-up chat id for the demo's group


@dataclass
class ChatSession:
    """One newcomer's view in the terminal: who he speaks as, and the cards he has seen."""

    line: BotLine
    user: str
    show: Callable[[str], None] = print
    last_card: dict[str, Any] | None = None
    seen: dict[str, int] = field(default_factory=dict)  # last stand-in seq shown, per user
    seen_updates: int = 0  # last stand-in seq of a card update shown
    lock: threading.Lock = field(default_factory=threading.Lock)
    group: str | None = None  # the group chat id while speaking in a group
    seen_chat: int = 0  # last stand-in seq of a group answer shown

    def say(self, text: str) -> None:
        """Send a text as the current user and show the passive reply."""
        if self.group:
            self._show_answer(self.line.say_in_group(self.user, self.group, text), "政企直通车（群）")
        else:
            self._show_answer(self.line.say(self.user, text), "机器人")

    def click(self, number: int) -> None:
        """Press button `number` (1-based) of the last card shown."""
        card = self.last_card
        buttons = card_buttons(card or {})
        if not card or not 1 <= number <= len(buttons):
            self.show("没有可以点击的按钮。")
            return
        button = buttons[number - 1]
        self.show(f"（点击了「{button['text']}」）")
        self._show_answer(self.line.click(self.user, card, button["key"]), "机器人")

    def _show_answer(self, answer: Answer, speaker: str) -> None:
        if answer.error:
            self.show(f"[{answer.error}]")
        elif answer.text:
            self.show(f"{speaker}：{answer.text}")

    def poll(self) -> None:
        """Show what the bot pushed to the current user since last time, and the updates of his cards."""
        with self.lock:
            try:
                self._poll_pushed()
                self._poll_updates()
                self._poll_group()
            except StandinUnavailable:
                return

    def _poll_pushed(self) -> None:
        for message in self.line.pushed(self.user, self.seen.get(self.user, 0)):
            self.seen[self.user] = max(self.seen.get(self.user, 0), message["seq"])
            self.show(render_pushed(message))
            if message.get("response_code"):
                self.last_card = message

    def _poll_updates(self) -> None:
        """Show how a card of the current user changed after a click (a new label, or a new card)."""
        updates = [u for u in self.line.card_updates() if u["seq"] > self.seen_updates]
        if not updates:
            return
        self.seen_updates = updates[-1]["seq"]
        codes = {u["body"].get("response_code") for u in updates}
        for message in self.line.pushed(self.user):
            if message.get("response_code") in codes:
                card, replaced = current_card(message, updates)
                self.show(f"（卡片已更新：「{replaced}」）" if replaced else _render_card(card))

    def _poll_group(self) -> None:
        """Show what the current group received since last time (answers via response_url, webhooks)."""
        if not self.group:
            return
        for entry in self.line.group_chat(self.group, self.seen_chat):
            self.seen_chat = max(self.seen_chat, entry["seq"])
            self.show(f"政企直通车（群，稍后）：{entry['content']}")


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
    chat = ChatSession(BotLine.connect(settings, web_url=web_url, standin_url=standin_url), user)
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
        chat.say(line)


def _enter_group(chat: ChatSession, chatid: str) -> None:
    """Speak in group `chatid` from now on (answers the group got earlier are not replayed)."""
    chat.group = chatid
    print(f"现在您在群 {chatid} 里说话（每句话都会 @政企直通车）。/single 回到单聊。")
