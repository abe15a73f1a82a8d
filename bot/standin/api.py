"""A local stand-in for the WeCom server API: one Flask app = one fake corp, state in memory.

Tests and the newcomer demo point WECOM_API_BASE at it. It answers like WeCom (HTTP 200 with an
errcode), checks bodies about as strictly as the platform does where it matters to us (token,
recipients, card limits, response_code once, 群机器人 20/min), and records what it "delivered".
Fault injection (`POST /_standin/faults`) and inspection (`/_standin/...`) are its own additions.
The 智能机器人's response_url answers and the group chat logs live in aibot.py.

Assumptions where the docs are silent (marked "assumed" here and in checks.py): the exact errcodes
for malformed cards and a reused response_code, and that the duplicate check runs before task_id
uniqueness. The body checks live in checks.py, the per-corp state in state.py, and the /_standin/
routes in control.py; this module holds the /cgi-bin/ handlers and the app.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request

from bot.standin.aibot import add_aibot_routes, handle_aibot_response
from bot.standin.checks import INTERACTION_CARDS, _bad, check_app_message, check_card, check_group_message
from bot.standin.control import _add_control_routes, _apply_fault
from bot.standin.state import ApiError, StandinState
from bot.standin.wechat import WECHAT_HANDLERS

MEDIA_TYPES = frozenset({"image", "voice", "video", "file"})
GROUP_PER_MINUTE = 20
RESPONSE_CODE_SECONDS = 72 * 3600
MAX_DUPLICATE_INTERVAL = 4 * 3600


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


# ---------------------------------------------------------------- handlers (called under the lock)


def _json_body() -> dict[str, Any]:
    try:
        # WeCom ignores the Content-Type header; so do we.
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        raise ApiError(47001) from None
    if not isinstance(body, dict):
        raise ApiError(47001)
    return body


def handle_gettoken(state: StandinState) -> dict[str, Any]:
    """GET gettoken?corpid&corpsecret."""
    if request.args.get("corpid") != state.corp_id:
        raise ApiError(40013)
    if not secrets.compare_digest(request.args.get("corpsecret", ""), state.secret):
        raise ApiError(40001)
    token, expires_in = state.issue_token()
    return {"access_token": token, "expires_in": expires_in}


def handle_send(state: StandinState) -> dict[str, Any]:
    """POST message/send: validate, dedupe, deliver per recipient."""
    state.check_token(request.args.get("access_token"))
    body = _json_body()
    msgtype = check_app_message(body, state.agent_id, state)
    valid, invalid = _recipients(state, str(body.get("touser") or ""))
    if not valid and not body.get("toparty") and not body.get("totag"):
        raise ApiError(81013)
    answer = {"invaliduser": "|".join(invalid), "invalidparty": "", "invalidtag": "", "unlicenseduser": ""}
    answer.update(_deliver(state, body, msgtype, valid))
    return answer


def _recipients(state: StandinState, touser: str) -> tuple[list[str], list[str]]:
    ids = [u for u in touser.split("|") if u]
    known = state.known_users
    if ids == ["@all"]:
        return (sorted(known) if known is not None else ["@all"]), []
    if known is None:
        return ids, []
    # WeCom userids are case-insensitive and it reports invalid ones lowercased.
    valid = [u for u in ids if u.lower() in known]
    return valid, [u.lower() for u in ids if u.lower() not in known]


def _deliver(state: StandinState, body: dict[str, Any], msgtype: str, users: list[str]) -> dict[str, Any]:
    digest = _content_digest(body)
    fresh = [u for u in users if not _is_duplicate(state, body, u, digest)]
    if users and not fresh:
        # Accepted but not delivered again: answer with the first send's msgid.
        return {"msgid": state.dedup[(users[0].lower(), digest)][1]}
    card = body.get("template_card") if msgtype == "template_card" else None
    _claim_task_id(state, card)
    msgid = "standin-" + secrets.token_hex(12)
    answer: dict[str, Any] = {"msgid": msgid}
    interactive = card is not None and card.get("card_type") in INTERACTION_CARDS
    if interactive:
        answer["response_code"] = state.new_response_code(msgid, None)
    for user in fresh:
        _record_delivery(state, body, msgtype, msgid, user, digest, interactive)
    return answer


def _content_digest(body: dict[str, Any]) -> str:
    content = {k: v for k, v in body.items() if k not in ("touser", "toparty", "totag")}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _is_duplicate(state: StandinState, body: dict[str, Any], user: str, digest: str) -> bool:
    if not body.get("enable_duplicate_check"):
        return False
    seen = state.dedup.get((user.lower(), digest))
    if seen is None or seen[0] <= time.monotonic():
        return False
    state.suppressed.append({"touser": user, "msgid": seen[1], "body": body, "at": _now_iso()})
    return True


def _claim_task_id(state: StandinState, card: dict[str, Any] | None) -> None:
    task_id = (card or {}).get("task_id")
    if task_id is None:
        return
    if task_id in state.task_ids:
        raise _bad("task_id already exists")  # unique per app; assumed errcode
    state.task_ids.add(task_id)


def _record_delivery(
    state: StandinState,
    body: dict[str, Any],
    msgtype: str,
    msgid: str,
    user: str,
    digest: str,
    interactive: bool,
) -> None:
    entry: dict[str, Any] = {
        "seq": state.next_seq(),
        "msgid": msgid,
        "touser": user,
        "msgtype": msgtype,
        "body": body,
        "at": _now_iso(),
    }
    if interactive:
        # The code the click callback would carry for this user (the chat CLI simulates clicks).
        entry["response_code"] = state.new_response_code(msgid, user)
        entry["task_id"] = body["template_card"].get("task_id")
    state.messages.append(entry)
    if body.get("enable_duplicate_check"):
        interval = min(int(body.get("duplicate_check_interval") or 1800), MAX_DUPLICATE_INTERVAL)
        state.dedup[(user.lower(), digest)] = (time.monotonic() + interval, msgid)


def handle_update_card(state: StandinState) -> dict[str, Any]:
    """POST message/update_template_card: a response_code is good for one update within 72 h."""
    state.check_token(request.args.get("access_token"))
    body = _json_body()
    code = str(body.get("response_code") or "")
    entry = state.response_codes.get(code)
    if entry is None or time.monotonic() - entry["at"] > RESPONSE_CODE_SECONDS:
        raise _bad("invalid response_code")
    if entry["used"]:
        raise _bad("response_code used")  # assumed errcode; the docs only say "once"
    if "template_card" in body:
        check_card(body["template_card"])
    elif not (body.get("button") or {}).get("replace_name"):
        raise _bad("button.replace_name or template_card required")
    entry["used"] = True
    state.updates.append({"seq": state.next_seq(), "msgid": entry["msgid"], "body": body, "at": _now_iso()})
    return {"invaliduser": []}


def handle_webhook_send(state: StandinState) -> dict[str, Any]:
    """POST webhook/send?key=: 群机器人, at most 20 messages a minute per key."""
    key = _webhook_key()
    body = _json_body()
    msgtype = check_group_message(body)
    window = state.group_windows.setdefault(key, deque())
    now = time.monotonic()
    while window and window[0] <= now - 60:
        window.popleft()
    if len(window) >= GROUP_PER_MINUTE:
        raise ApiError(45009)
    window.append(now)
    state.groups.append(
        {"seq": state.next_seq(), "key": key, "msgtype": msgtype, "body": body, "at": _now_iso()}
    )
    return {}


def _webhook_key() -> str:
    key = request.args.get("key", "")
    if not key:
        raise ApiError(93000)
    return key


def handle_media_upload(state: StandinState) -> dict[str, Any]:
    """POST media/upload?type=: multipart field `media`, answered with a media_id."""
    state.check_token(request.args.get("access_token"))
    return _store_media(state, request.args.get("type", ""))


def handle_webhook_upload(state: StandinState) -> dict[str, Any]:
    """POST webhook/upload_media?key=&type=file."""
    _webhook_key()
    return _store_media(state, request.args.get("type", "file"))


def _store_media(state: StandinState, media_type: str) -> dict[str, Any]:
    if media_type not in MEDIA_TYPES:
        raise ApiError(40004)
    upload = request.files.get("media")
    data = upload.read() if upload else b""
    if not data:
        raise ApiError(44001)
    media_id = "standin-media-" + secrets.token_hex(12)
    state.media[media_id] = {
        "type": media_type,
        "filename": upload.filename if upload else "",
        "length": len(data),
    }
    return {"type": media_type, "media_id": media_id, "created_at": str(int(time.time()))}


def handle_aibot_answer(state: StandinState) -> dict[str, Any]:
    """POST aibot/response?response_code=: the 智能机器人's answer to one message (see aibot.py)."""
    return handle_aibot_response(state, _json_body())


HANDLERS: dict[tuple[str, str], Callable[[StandinState], dict[str, Any]]] = {
    ("GET", "gettoken"): handle_gettoken,
    ("POST", "message/send"): handle_send,
    ("POST", "message/update_template_card"): handle_update_card,
    ("POST", "webhook/send"): handle_webhook_send,
    ("POST", "webhook/upload_media"): handle_webhook_upload,
    ("POST", "media/upload"): handle_media_upload,
    ("POST", "aibot/response"): handle_aibot_answer,
    **WECHAT_HANDLERS,  # the 公众号 API (bot/standin/wechat.py), on the same host
}


# ---------------------------------------------------------------- the app


def create_standin_app(
    *,
    corp_id: str,
    secret: str,
    token_ttl: int = 7200,
    agent_id: int | None = None,
    known_users: Iterable[str] | None = None,
) -> Flask:
    """A Flask app that plays one WeCom corp; `known_users=None` accepts any userid."""
    app = Flask(__name__)
    default_users = frozenset(u.lower() for u in known_users) if known_users is not None else None
    state = StandinState(corp_id, secret, token_ttl, agent_id, default_users)
    app.extensions["standin"] = state
    app.add_url_rule("/cgi-bin/<path:path>", "cgi", _cgi_view(state), methods=["GET", "POST"])
    _add_control_routes(app, state)
    add_aibot_routes(app, state)
    return app


def _touser(body: Any) -> str:
    """The recipients a JSON call names ("" for none), counted per person by /_standin/calls."""
    return str(body.get("touser") or "").lower() if isinstance(body, dict) else ""


def standin_state(app: Flask) -> StandinState:
    """The in-memory state behind a stand-in app (tests inspect it directly)."""
    state: StandinState = app.extensions["standin"]
    return state


def _cgi_view(state: StandinState) -> Callable[[str], Any]:
    def cgi(path: str) -> Any:
        handler = HANDLERS.get((request.method, path))
        if handler is None:
            return jsonify(errcode=404, errmsg=f"no such api: {request.method} {path}"), 404
        touser = _touser(request.get_json(silent=True))
        with state.lock:
            state.calls[path] += 1
            if touser:
                state.calls_to[(path, touser)] += 1
            fault = state.take_fault(path, touser)
        early = _apply_fault(fault)
        if early is not None:
            return early
        try:
            with state.lock:
                result = handler(state)
        except ApiError as exc:
            return jsonify(errcode=exc.errcode, errmsg=exc.errmsg)
        return jsonify({"errcode": 0, "errmsg": "ok", **result})

    return cgi
