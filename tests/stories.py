"""Reading a story's messages as people read them: what each person received, and the bot's answer."""

from __future__ import annotations

from typing import Any

from defusedxml.ElementTree import fromstring

from bot.standin.platform import Delivery


def summary(message: dict[str, Any]) -> str:
    """One delivered message as a person reads it first: a card's title, or a text."""
    if message["msgtype"] == "template_card":
        return "card: " + message["body"]["template_card"]["main_title"]["title"]
    if message["msgtype"] == "text":
        return "text: " + message["body"]["text"]["content"]
    return message["msgtype"]


def reads(got: dict[str, list[str]], expected: dict[str, list[str]]) -> None:
    """Each person read exactly the expected messages (by fragment, in order), and nobody else read any."""
    assert sorted(got) == sorted(expected), f"recipients: {got}"
    for user, fragments in expected.items():
        lines = got[user]
        matched = len(lines) == len(fragments) and all(map(_matches, fragments, lines))
        assert matched, f"{user} read:\n  " + "\n  ".join(lines) + "\nexpected:\n  " + "\n  ".join(fragments)


def _matches(expected: str, line: str) -> bool:
    # "text: 转办理由" matches a text containing 转办理由; "card: 返工" a card whose title contains 返工.
    kind, _, fragment = expected.partition(": ")
    return line.startswith(f"{kind}: ") and fragment in line


def passive_text(delivery: Delivery) -> str:
    """The text of the webhook's encrypted passive reply ('' for an empty 200)."""
    assert delivery.status == 200, delivery
    return "" if delivery.reply is None else fromstring(delivery.reply).findtext("Content") or ""
