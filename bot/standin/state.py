"""The stand-in's memory of one fake corp (tokens, deliveries, faults) and its errcode answers."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

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


class ApiError(Exception):
    """An errcode answer (HTTP 200, as WeCom does)."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")


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
        self.calls_to: Counter[tuple[str, str]] = Counter()  # (path, touser): attempts for one person
        self.dedup: dict[tuple[str, str], tuple[float, str]] = {}  # (user, content) -> (expiry, msgid)
        self.task_ids: set[str] = set()
        self.response_codes: dict[str, dict[str, Any]] = {}
        self.group_windows: dict[str, deque[float]] = {}
        self.aibot_codes: dict[str, dict[str, Any]] = {}  # AI-bot response_code -> its message
        self.chat_log: list[dict[str, Any]] = []  # answers posted to response_urls
        self.webhook_chats: dict[str, str] = {}  # 群机器人 key -> the chat id of its group

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

    def new_aibot_code(self, chatid: str, userid: str, msgid: str) -> str:
        """A response_code for one AI-bot message: one answer, within an hour."""
        code = "arc-" + secrets.token_hex(16)
        entry = {"chatid": chatid, "userid": userid, "msgid": msgid, "used": False, "at": time.monotonic()}
        self.aibot_codes[code] = entry
        return code

    def add_faults(self, path: str, errors: list[Any], touser: str = "") -> None:
        """Queue faults for the next calls to `path` (only those naming `touser`, if given)."""
        self.faults.setdefault(_fault_key(path.strip("/"), touser.lower()), deque()).extend(errors)

    def take_fault(self, path: str, touser: str = "") -> Any:
        """The next injected fault for this call (one aimed at its recipient first), or None."""
        for key in (_fault_key(path, touser), path) if touser else (path,):
            queue = self.faults.get(key)
            if queue:
                return queue.popleft()
        return None


def _fault_key(path: str, touser: str) -> str:
    return f"{path}>{touser}" if touser else path
