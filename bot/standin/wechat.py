"""The 公众号 API's share of the stand-in: token, 客服消息 and 模板消息, recorded like WeCom sends.

Deliveries land in the same message log as WeCom's, addressed to the openid, with
``channel: "wechat"``. The 48-hour window is not simulated: inject errcode 45015 on
``message/custom/send`` (fault injection) to play a follower who has been silent too long.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from flask import request

from bot.standin.state import ApiError, StandinState


def handle_token(state: StandinState) -> dict[str, Any]:
    """GET token?grant_type=client_credential&appid&secret (any AppID with a secret is accepted)."""
    if request.args.get("grant_type") != "client_credential" or not request.args.get("appid"):
        raise ApiError(40002, "invalid grant_type")
    if not request.args.get("secret"):
        raise ApiError(40001)
    token, expires_in = state.issue_token()
    return {"access_token": token, "expires_in": expires_in}


def handle_custom_send(state: StandinState) -> dict[str, Any]:
    """POST message/custom/send: a text to one follower."""
    state.check_token(request.args.get("access_token"))
    body = _body()
    content = (body.get("text") or {}).get("content") if body.get("msgtype") == "text" else None
    if not isinstance(content, str) or not content:
        raise ApiError(40008, "invalid message type")
    return _record(state, body, "text")


def handle_template_send(state: StandinState) -> dict[str, Any]:
    """POST message/template/send: a template message to one follower."""
    state.check_token(request.args.get("access_token"))
    body = _body()
    if not body.get("template_id") or not isinstance(body.get("data"), dict):
        raise ApiError(40037, "invalid template_id")
    return _record(state, body, "template")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("touser"), str) or not body["touser"]:
        raise ApiError(40003, "invalid openid")
    return body


def _record(state: StandinState, body: dict[str, Any], msgtype: str) -> dict[str, Any]:
    msgid = secrets.randbelow(10**12)
    state.messages.append(
        {
            "seq": state.next_seq(),
            "msgid": str(msgid),
            "touser": body["touser"],
            "msgtype": msgtype,
            "channel": "wechat",
            "body": body,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    return {"msgid": msgid}


WECHAT_HANDLERS = {
    ("GET", "token"): handle_token,
    ("POST", "message/custom/send"): handle_custom_send,
    ("POST", "message/template/send"): handle_template_send,
}
