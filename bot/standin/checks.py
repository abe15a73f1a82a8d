"""Request-body checks: reject what WeCom would reject (msgtypes, recipients, sizes, card rules)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from bot.standin.state import ApiError, StandinState

APP_MSGTYPES = frozenset(
    {"text", "markdown", "image", "file", "voice", "video", "news", "textcard", "template_card"}
)
GROUP_MSGTYPES = frozenset(
    {"text", "markdown", "markdown_v2", "image", "news", "file", "voice", "template_card"}
)
NOTICE_CARDS = frozenset({"text_notice", "news_notice"})
INTERACTION_CARDS = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})
TASK_ID_RE = re.compile(r"^[0-9A-Za-z_\-@]{1,128}$")


def _bad(errmsg: str) -> ApiError:
    return ApiError(40058, errmsg)  # assumed: WeCom's generic "invalid parameter"


def _nbytes(text: Any) -> int:
    return len(str(text).encode("utf-8"))


def check_app_message(body: dict[str, Any], agent_id: int | None, state: StandinState) -> str:
    """Raise ApiError unless `body` is a sendable app message; return its msgtype."""
    msgtype = body.get("msgtype")
    if msgtype not in APP_MSGTYPES:
        raise ApiError(40008)
    if not any(body.get(k) for k in ("touser", "toparty", "totag")):
        raise _bad("touser, toparty and totag are all empty")
    if body.get("agentid") in (None, ""):
        raise ApiError(41011)
    if agent_id is not None and str(body.get("agentid")) != str(agent_id):
        raise ApiError(40056)
    payload = body.get(msgtype)
    if not isinstance(payload, dict):
        raise _bad(f"missing {msgtype}")
    _check_payload(msgtype, payload, state)
    return msgtype


def _check_payload(msgtype: str, payload: dict[str, Any], state: StandinState) -> None:
    if msgtype in ("text", "markdown") and not payload.get("content"):
        raise ApiError(44004)
    if msgtype == "markdown" and _nbytes(payload["content"]) > 2048:
        raise _bad("markdown content exceeds 2048 bytes")
    if msgtype in ("image", "file", "voice", "video") and payload.get("media_id") not in state.media:
        raise ApiError(40007)
    if msgtype == "template_card":
        check_card(payload)


def check_card(card: dict[str, Any]) -> None:
    """Raise ApiError unless `card` keeps the template-card rules the platform enforces."""
    card_type = card.get("card_type")
    if card_type not in NOTICE_CARDS | INTERACTION_CARDS:
        raise _bad("invalid card_type")
    _check_task_id(card, card_type)
    _check_lists(card)
    if card_type in NOTICE_CARDS:
        _check_notice(card, card_type)
    else:
        _check_interaction(card, card_type)


def _check_task_id(card: dict[str, Any], card_type: str) -> None:
    task_id = card.get("task_id")
    if task_id is None and card_type in INTERACTION_CARDS:
        raise _bad("task_id required")
    if task_id is not None and not TASK_ID_RE.match(str(task_id)):
        raise _bad("invalid task_id: [0-9A-Za-z_-@], at most 128 bytes")


def _check_lists(card: dict[str, Any]) -> None:
    buttons = card.get("button_list") or []
    if len(buttons) > 6:
        raise _bad("button_list exceeds 6")
    if any(_nbytes(b.get("key", "")) > 1024 for b in buttons):
        raise _bad("button key exceeds 1024 bytes")
    if len(card.get("horizontal_content_list") or []) > 6:
        raise _bad("horizontal_content_list exceeds 6")
    if len((card.get("checkbox") or {}).get("option_list") or []) > 20:
        raise _bad("checkbox option_list exceeds 20")
    selects = card.get("select_list") or []
    if len(selects) > 3 or any(len(s.get("option_list") or []) > 10 for s in selects):
        raise _bad("select_list exceeds 3 selects of 10 options")


def _check_notice(card: dict[str, Any], card_type: str) -> None:
    if (card.get("card_action") or {}).get("type") not in (1, 2):
        raise _bad(f"{card_type} requires card_action of type 1 or 2")
    if card_type == "news_notice" and not (card.get("card_image") or card.get("image_text_area")):
        raise _bad("news_notice requires card_image or image_text_area")


def _check_interaction(card: dict[str, Any], card_type: str) -> None:
    if card_type == "button_interaction" and not card.get("button_list"):
        raise _bad("button_interaction requires button_list")
    if card_type == "vote_interaction" and not (card.get("checkbox") or {}).get("option_list"):
        raise _bad("vote_interaction requires checkbox")
    if card_type == "multiple_interaction" and not card.get("select_list"):
        raise _bad("multiple_interaction requires select_list")
    if card_type != "button_interaction" and not (card.get("submit_button") or {}).get("key"):
        raise _bad(f"{card_type} requires submit_button.key")


def check_group_message(body: dict[str, Any]) -> str:
    """Raise ApiError unless `body` is a sendable 群机器人 message; return its msgtype."""
    msgtype = body.get("msgtype")
    if msgtype not in GROUP_MSGTYPES:
        raise ApiError(40008)
    payload = body.get(msgtype)
    if not isinstance(payload, dict):
        raise _bad(f"missing {msgtype}")
    limit = {"text": 2048, "markdown": 4096, "markdown_v2": 4096}.get(msgtype)
    if limit is not None:
        if not payload.get("content"):
            raise ApiError(44004)
        if _nbytes(payload["content"]) > limit:
            raise _bad(f"content exceeds {limit} bytes")
    if msgtype == "image":
        _check_group_image(payload)
    return msgtype


def _check_group_image(image: dict[str, Any]) -> None:
    """The picture must decode, match its md5 and stay within 2 MB, as WeCom checks."""
    try:
        data = base64.b64decode(image.get("base64", ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad("image.base64 is not base64") from exc
    if not data or hashlib.md5(data).hexdigest() != image.get("md5"):  # noqa: S324 - WeCom's checksum
        raise ApiError(40009)
    if len(data) > 2 * 1024 * 1024:
        raise ApiError(40009)
