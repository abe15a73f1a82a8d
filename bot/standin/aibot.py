"""The stand-in's 智能机器人 (AI bot): response_urls, the answers posted to them, and group chat logs.

WeCom hands the bot a `response_url` with each @-mention; the bot may POST one markdown (or
template card) answer to it within an hour. Here the platform side (WeComPlatform) asks the
stand-in for such a url before it posts the callback, and the stand-in records the answer in the
group's chat log, which tests and the terminal chat read back. A group's log also shows what its
群机器人 webhook sent, once the webhook key is tied to the chat id (`bind_group`).

Assumed where the docs are silent: a used, unknown or expired response_code is answered with
errcode 40058 (invalid parameter) and an errmsg saying which; a refused body does not use the
code up; markdown content is limited to 4096 bytes, as for the 群机器人.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request

from bot.standin.checks import _bad, _nbytes, check_card
from bot.standin.state import ApiError, StandinState

RESPONSE_URL_SECONDS = 3600  # "该 response_url 有效期为 1 个小时"
ANSWER_MSGTYPES = frozenset({"markdown", "template_card"})
MARKDOWN_BYTES = 4096  # assumed, see the module docstring


def response_path(code: str) -> str:
    """The path (under the stand-in's root) of the response_url for one response_code."""
    return f"cgi-bin/aibot/response?response_code={code}"


def handle_aibot_response(state: StandinState, body: dict[str, Any]) -> dict[str, Any]:
    """POST aibot/response?response_code=: one answer per code, within an hour of the message."""
    entry = _usable_code(state, request.args.get("response_code", ""))
    msgtype = _check_answer(body)
    entry["used"] = True
    state.chat_log.append(
        {
            "seq": state.next_seq(),
            "chatid": entry["chatid"],
            "userid": entry["userid"],
            "msgid": entry["msgid"],
            "via": "response_url",
            "msgtype": msgtype,
            "content": _content(body, msgtype),
            "body": body,
            "at": datetime.now(UTC).isoformat(),
        }
    )
    return {}


def _usable_code(state: StandinState, code: str) -> dict[str, Any]:
    """The record of a response_code that may still be used, or the errcode WeCom would answer."""
    entry = state.aibot_codes.get(code)
    if entry is None:
        raise _bad("invalid response_code")
    if entry["used"]:
        raise _bad("response_code already used")  # the docs: "每个 response_url … 调用接口一次"
    if time.monotonic() - entry["at"] > RESPONSE_URL_SECONDS:
        raise _bad("response_code expired")
    return entry


def _check_answer(body: dict[str, Any]) -> str:
    """Raise ApiError unless `body` is an answer the AI bot may post; return its msgtype."""
    msgtype = body.get("msgtype")
    if msgtype not in ANSWER_MSGTYPES:
        raise ApiError(40008)
    payload = body.get(msgtype)
    if not isinstance(payload, dict):
        raise _bad(f"missing {msgtype}")
    if msgtype == "template_card":
        check_card(payload)
    elif not payload.get("content"):
        raise ApiError(44004)
    elif _nbytes(payload["content"]) > MARKDOWN_BYTES:
        raise _bad(f"markdown content exceeds {MARKDOWN_BYTES} bytes")
    return str(msgtype)


def _content(body: dict[str, Any], msgtype: str) -> str:
    """What a chat shows of a message: its text, or a card's title."""
    payload = body.get(msgtype) or {}
    if msgtype == "template_card":
        return str((payload.get("main_title") or {}).get("title", ""))
    if msgtype == "image":
        return "[图片]"
    return str(payload.get("content", ""))


def chat_entries(state: StandinState, chatid: str | None = None, since: int = 0) -> list[dict[str, Any]]:
    """What chats received after seq `since` (AI-bot answers and bound 群机器人 sends), in order."""
    entries = [e for e in state.chat_log if e["seq"] > since]
    for sent in state.groups:
        bound = state.webhook_chats.get(sent["key"])
        if bound is not None and sent["seq"] > since:
            entries.append(_webhook_entry(sent, bound))
    entries.sort(key=lambda e: e["seq"])
    return [e for e in entries if chatid is None or e["chatid"] == chatid]


def _webhook_entry(sent: dict[str, Any], chatid: str) -> dict[str, Any]:
    """A 群机器人 send as a chat-log entry of the group its key belongs to."""
    msgtype = sent["msgtype"]
    return {
        "seq": sent["seq"],
        "chatid": chatid,
        "via": "webhook",
        "msgtype": msgtype,
        "content": _content(sent["body"], msgtype),
        "body": sent["body"],
        "at": sent["at"],
    }


def add_aibot_routes(app: Flask, state: StandinState) -> None:
    """The stand-in's own AI-bot endpoints: issue a response_url, read chat logs, bind a webhook."""

    @app.post("/_standin/aibot/response_url")
    def issue_response_url() -> Any:
        """A fresh response_url for one message (what WeCom puts in the callback)."""
        data = request.get_json(force=True, silent=True) or {}
        with state.lock:
            code = state.new_aibot_code(str(data.get("chatid") or ""), str(data.get("userid") or ""),
                                        str(data.get("msgid") or ""))  # fmt: skip
        return jsonify(response_url=request.host_url + response_path(code))

    @app.get("/_standin/chats")
    def chats() -> Any:
        """The chat log, optionally of one chat and after a seq."""
        since = int(request.args.get("since") or 0)
        with state.lock:
            return jsonify(chats=chat_entries(state, request.args.get("chatid") or None, since))

    @app.post("/_standin/group_webhooks")
    def bind_webhook() -> Any:
        """Tie a 群机器人 webhook key to a chat id, so its sends show in that chat's log."""
        data = request.get_json(force=True, silent=True) or {}
        if not data.get("key") or not data.get("chatid"):
            return jsonify(error='expected {"key": "...", "chatid": "..."}'), 400
        with state.lock:
            state.webhook_chats[str(data["key"])] = str(data["chatid"])
        return jsonify(ok=True)
