"""A local stand-in for the WeCom server API: one Flask app = one fake corp, state in memory.

Tests and the newcomer demo point WECOM_API_BASE at it. It answers like WeCom (HTTP 200 with an
errcode), checks bodies about as strictly as the platform does where it matters to us (token,
recipients, card limits, response_code once, 群机器人 20/min), and records what it "delivered".
Fault injection (`POST /_standin/faults`) and inspection (`/_standin/...`) are its own additions.

Assumptions where the docs are silent (marked "assumed" below): the exact errcodes for malformed
cards and a reused response_code, and that the duplicate check runs before task_id uniqueness.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request

ERRMSG = {
    -1: "system busy",
    40001: "invalid credential",
    40004: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40056: "invalid agentid",
    40058: "invalid parameter",
    41001: "access_token missing",
    41011: "missing agentid",
    42001: "access_token expired",
    44001: "empty media data",
    44004: "empty content",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    81013: "user & party & tag all invalid",
    93000: "invalid webhook url",
}

APP_MSGTYPES = frozenset(
    {"text", "markdown", "image", "file", "voice", "video", "news", "textcard", "template_card"}
)
GROUP_MSGTYPES = frozenset(
    {"text", "markdown", "markdown_v2", "image", "news", "file", "voice", "template_card"}
)
NOTICE_CARDS = frozenset({"text_notice", "news_notice"})
INTERACTION_CARDS = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})
MEDIA_TYPES = frozenset({"image", "voice", "video", "file"})
TASK_ID_RE = re.compile(r"^[0-9A-Za-z_\-@]{1,128}$")
GROUP_PER_MINUTE = 20
RESPONSE_CODE_SECONDS = 72 * 3600
MAX_DUPLICATE_INTERVAL = 4 * 3600


class ApiError(Exception):
    """An errcode answer (HTTP 200, as WeCom does)."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")


def _bad(errmsg: str) -> ApiError:
    return ApiError(40058, errmsg)  # assumed: WeCom's generic "invalid parameter"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _nbytes(text: Any) -> int:
    return len(str(text).encode("utf-8"))


# ---------------------------------------------------------------- state


@dataclass
class StandinState:
    """Everything one fake corp remembers; guard every access with `lock`."""

    corp_id: str
    secret: str
    token_ttl: int = 7200
    agent_id: int | None = None
    default_users: frozenset[str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget messages, tokens, faults, media and counters; known users back to the default."""
        self.seq = 0
        self.tokens: dict[str, float] = {}  # token -> monotonic expiry
        self.current_token: str | None = None
        self.known_users = self.default_users
        self.messages: list[dict[str, Any]] = []
        self.suppressed: list[dict[str, Any]] = []
        self.groups: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.faults: dict[str, deque[Any]] = {}
        self.calls: Counter[str] = Counter()
        self.dedup: dict[tuple[str, str], tuple[float, str]] = {}  # (user, content) -> (expiry, msgid)
        self.task_ids: set[str] = set()
        self.response_codes: dict[str, dict[str, Any]] = {}
        self.group_windows: dict[str, deque[float]] = {}

    def next_seq(self) -> int:
        """The next sequence number of a recorded delivery."""
        self.seq += 1
        return self.seq

    def issue_token(self) -> tuple[str, int]:
        """The valid token (WeCom repeats it while it lives) or a new one, with its remaining life."""
        now = time.monotonic()
        token = self.current_token
        if token is None or self.tokens.get(token, 0) <= now:
            token = secrets.token_urlsafe(48)
            self.tokens[token] = now + self.token_ttl
            self.current_token = token
        return token, max(1, round(self.tokens[token] - now))

    def check_token(self, token: str | None) -> None:
        """Raise the errcode WeCom gives for a missing, unknown or expired token."""
        if not token:
            raise ApiError(41001)
        expiry = self.tokens.get(token)
        if expiry is None:
            raise ApiError(40014)
        if expiry <= time.monotonic():
            raise ApiError(42001)

    def expire_tokens(self) -> None:
        """Make every issued token expired (as if WeCom revoked them early)."""
        for token in self.tokens:
            self.tokens[token] = 0.0
        self.current_token = None

    def new_response_code(self, msgid: str, user: str | None) -> str:
        """A response_code usable once, within 72 h, for one card (and one user when clicked)."""
        code = "rc-" + secrets.token_hex(16)
        self.response_codes[code] = {"msgid": msgid, "user": user, "used": False, "at": time.monotonic()}
        return code

    def take_fault(self, path: str) -> Any:
        """The next injected fault for `path`, or None."""
        queue = self.faults.get(path)
        return queue.popleft() if queue else None


# ---------------------------------------------------------------- body checks


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
    return msgtype


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


HANDLERS: dict[tuple[str, str], Callable[[StandinState], dict[str, Any]]] = {
    ("GET", "gettoken"): handle_gettoken,
    ("POST", "message/send"): handle_send,
    ("POST", "message/update_template_card"): handle_update_card,
    ("POST", "webhook/send"): handle_webhook_send,
    ("POST", "webhook/upload_media"): handle_webhook_upload,
    ("POST", "media/upload"): handle_media_upload,
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
    return app


def standin_state(app: Flask) -> StandinState:
    """The in-memory state behind a stand-in app (tests inspect it directly)."""
    state: StandinState = app.extensions["standin"]
    return state


def _cgi_view(state: StandinState) -> Callable[[str], Any]:
    def cgi(path: str) -> Any:
        handler = HANDLERS.get((request.method, path))
        if handler is None:
            return jsonify(errcode=404, errmsg=f"no such api: {request.method} {path}"), 404
        with state.lock:
            state.calls[path] += 1
            fault = state.take_fault(path)
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


def _apply_fault(fault: Any) -> Any:
    """The response an injected fault stands for; a sleep delays the real answer (not the lock)."""
    if fault is None:
        return None
    if isinstance(fault, dict) and "sleep" in fault:
        time.sleep(float(fault["sleep"]))
        return None
    if isinstance(fault, dict) and "http" in fault:
        return Response("<html>standin fault</html>", status=int(fault["http"]), mimetype="text/html")
    code = int(fault["errcode"]) if isinstance(fault, dict) else int(fault)
    errmsg = fault.get("errmsg") if isinstance(fault, dict) else None
    return jsonify(errcode=code, errmsg=errmsg or ERRMSG.get(code, "injected fault"))


def _add_control_routes(app: Flask, state: StandinState) -> None:
    """The stand-in's own endpoints: fault injection and inspection under /_standin/."""

    @app.get("/_standin/messages")
    def messages() -> Any:
        touser = (request.args.get("touser") or "").lower()
        since = int(request.args.get("since") or 0)
        with state.lock:
            found = [
                m
                for m in state.messages
                if m["seq"] > since and (not touser or m["touser"].lower() == touser)
            ]
        return jsonify(messages=found)

    @app.get("/_standin/suppressed")
    def suppressed() -> Any:
        with state.lock:
            return jsonify(suppressed=list(state.suppressed))

    @app.get("/_standin/groups")
    def groups() -> Any:
        key = request.args.get("key")
        with state.lock:
            return jsonify(groups=[g for g in state.groups if not key or g["key"] == key])

    @app.get("/_standin/updates")
    def updates() -> Any:
        with state.lock:
            return jsonify(updates=list(state.updates))

    @app.get("/_standin/media")
    def media() -> Any:
        with state.lock:
            return jsonify(media=dict(state.media))

    @app.get("/_standin/calls")
    def calls() -> Any:
        with state.lock:
            return jsonify(calls=dict(state.calls))

    @app.post("/_standin/faults")
    def faults() -> Any:
        data = request.get_json(force=True, silent=True) or {}
        path, errors = str(data.get("path", "")).strip("/"), data.get("errors")
        if not path or not isinstance(errors, list):
            return jsonify(error='expected {"path": "...", "errors": [...]}'), 400
        with state.lock:
            state.faults.setdefault(path, deque()).extend(errors)
        return jsonify(ok=True)

    @app.post("/_standin/users")
    def users() -> Any:
        data = request.get_json(force=True, silent=True) or {}
        listed = data.get("users")
        with state.lock:
            state.known_users = frozenset(str(u).lower() for u in listed) if listed is not None else None
        return jsonify(ok=True)

    @app.post("/_standin/expire_tokens")
    def expire_tokens() -> Any:
        with state.lock:
            state.expire_tokens()
        return jsonify(ok=True)

    @app.post("/_standin/reset")
    def reset() -> Any:
        with state.lock:
            state.reset()
        return jsonify(ok=True)
