"""The WeCom server API client: a Redis-shared access token, one bounded token retry, typed errors.

Why plain `requests` and not a wechatpy.enterprise.WeChatClient subclass: of wechatpy's client we
would have to replace nearly everything we rely on here. Its gettoken URL is hard-coded (the
stand-in and tests need another host), the token fetch passes no timeout, its `auto_retry`
retries token errors without bound, the token key is per corp+secret prefix, not per agent, and
there is no refresh lock; transport failures surface as raw `requests` exceptions whose text
carries the access_token in the URL. What is left (JSON POST + errcode check) is a few lines.
wechatpy stays in use for crypto and XML parsing elsewhere in bot/wecom/.

Secrets: the corpsecret, access tokens and webhook keys travel in query strings, so error texts
are redacted and transport exceptions are re-raised `from None` (their messages contain URLs).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from bot.wecom.tally import tallied

if TYPE_CHECKING:
    import redis

    from bot.settings import Settings

logger = logging.getLogger(__name__)

RATE_LIMIT_CODES = frozenset({45009, 45033})  # API frequency / concurrency limit
TOKEN_RETRY_CODES = frozenset({40014, 42001})  # invalid / expired access_token: refresh once
TOKEN_FATAL_CODES = frozenset({40001})  # bad corpsecret: a new token will not help
TRANSIENT_CODES = frozenset({-1})  # 系统繁忙
MEDIA_TYPES = frozenset({"image", "voice", "video", "file"})

# response_code: an AI-bot response_url is a bearer credential for one answer in a group.
_SECRET_PARAM = re.compile(r"(access_token|corpsecret|secret|key|response_code)=[^&\s'\"]+")

# Compare-and-delete, so a process never deletes a token or lock another process just stored.
_DELETE_IF_EQUAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


# ---------------------------------------------------------------- errors and results


class WeComError(Exception):
    """A WeCom API call failed; `errcode` is None for HTTP and network failures."""

    def __init__(self, errcode: int | None, errmsg: str, *, raw: dict[str, Any] | None = None) -> None:
        super().__init__(f"errcode={errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.raw = raw or {}


class RateLimited(WeComError):
    """45009 / 45033: too many calls; the caller backs off and retries later."""


class TokenInvalid(WeComError):
    """The access token was refused even after one refresh, or the secret is wrong (40001)."""


class Transient(WeComError):
    """HTTP 5xx, timeouts, connection errors, errcode -1: retrying later may succeed."""


class Permanent(WeComError):
    """Any other errcode (81013 no valid recipient, 40058 bad parameter, 60020 IP not trusted…)."""


def error_for(errcode: int, errmsg: str, raw: dict[str, Any] | None = None) -> WeComError:
    """The WeComError subclass instance that a non-zero errcode stands for."""
    cls: type[WeComError] = Permanent
    if errcode in RATE_LIMIT_CODES:
        cls = RateLimited
    elif errcode in TOKEN_RETRY_CODES | TOKEN_FATAL_CODES:
        cls = TokenInvalid
    elif errcode in TRANSIENT_CODES:
        cls = Transient
    return cls(errcode, errmsg, raw=raw)


@dataclass
class SendResult:
    """What `message/send` accepted: the msgid and the recipients it refused (ids lowercased)."""

    msgid: str | None
    invalid_users: list[str]
    raw: dict[str, Any]
    invalid_parties: list[str] = field(default_factory=list)
    unlicensed_users: list[str] = field(default_factory=list)
    response_code: str | None = None  # interaction cards: lets us update the card once


def redact(text: str) -> str:
    """`text` with access tokens, secrets and webhook keys in query strings masked."""
    return _SECRET_PARAM.sub(r"\1=***", text)


class RedactingFilter(logging.Filter):
    """Masks secrets in records of loggers we do not own (urllib3 logs every URL at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted; never drop the record."""
        record.msg, record.args = redact(record.getMessage()), ()
        return True


def install_redacting_filter(logger_name: str = "urllib3.connectionpool") -> None:
    """Attach RedactingFilter to `logger_name` once (called by WeComClient, not at import)."""
    target = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(RedactingFilter())


def _split_ids(value: Any) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list) else str(value).split("|")
    return [str(item).lower() for item in items if str(item)]


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def token_ttl(expires_in: int) -> int:
    """Seconds to cache a token: 300 s short of its life, so no call races its expiry."""
    return expires_in - 300 if expires_in > 600 else max(1, expires_in // 2)


# ---------------------------------------------------------------- the client


class WeComClient:
    """Calls the WeCom API for one self-built app (corp_id + agent_id), sharing its token via Redis."""

    def __init__(
        self,
        *,
        corp_id: str,
        secret: str,
        agent_id: int,
        api_base: str,
        redis: redis.Redis,
        http: requests.Session | None = None,
        timeout: float | tuple[float, float] = (3.05, 10),
    ) -> None:
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        self._api_base = api_base if api_base.endswith("/") else api_base + "/"
        self._redis = redis
        self._http = http or requests.Session()
        self._timeout = timeout
        # Hold the refresh lock a little longer than one gettoken call may take.
        total = sum(timeout) if isinstance(timeout, tuple) else timeout
        self._lock_seconds = math.ceil(total) + 2
        install_redacting_filter()

    @classmethod
    def from_settings(
        cls, settings: Settings, redis: redis.Redis, http: requests.Session | None = None
    ) -> WeComClient:
        """A client for the app configured in `settings`."""
        return cls(
            corp_id=settings.wecom_corp_id,
            secret=settings.wecom_secret,
            agent_id=settings.wecom_agent_id,
            api_base=settings.wecom_api_base,
            redis=redis,
            http=http,
        )

    def __repr__(self) -> str:
        return f"WeComClient(corp_id={self.corp_id!r}, agent_id={self.agent_id}, api_base={self._api_base!r})"

    @property
    def token_key(self) -> str:
        """Redis key of the cached token; per agent, since each app of a corp has its own token."""
        return f"ztc:wecom:token:{self.corp_id}:{self.agent_id}"

    # ------------------------------------------------------------ public API

    def send_message(self, body: dict[str, Any]) -> SendResult:
        """POST message/send; partial failures come back in the SendResult, total ones raise."""
        result = self._call("POST", "message/send", json_body=body)
        return SendResult(
            msgid=result.get("msgid"),
            invalid_users=_split_ids(result.get("invaliduser")),
            raw=result,
            invalid_parties=_split_ids(result.get("invalidparty")),
            unlicensed_users=_split_ids(result.get("unlicenseduser")),
            response_code=result.get("response_code"),
        )

    def update_template_card(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST message/update_template_card (a response_code works once, within 72 h)."""
        return self._call("POST", "message/update_template_card", json_body=body)

    def send_group(self, webhook_key: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a 群机器人 message; the webhook key authenticates, no access token is involved."""
        result = self._request("POST", "webhook/send", params={"key": webhook_key}, json_body=body)
        return self._checked(result)

    def post_response_url(self, response_url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST an AI-bot answer to a message's response_url (good once, for an hour; no token)."""
        # The url came inside a signed callback; still, only ever post to the WeCom API's own host,
        # so a forged or garbled url cannot make us call into the local network.
        if _origin(response_url) != _origin(self._api_base):
            raise Permanent(None, "response_url is not on the WeCom API host")
        result = self._request("POST", "aibot/response", params={}, json_body=body, url=response_url)
        return self._checked(result)

    def upload_media(self, path: str | Path, media_type: str = "file") -> str:
        """Upload a temporary media file (valid 3 days) and return its media_id."""
        if media_type not in MEDIA_TYPES:
            raise ValueError(f"media_type must be one of {sorted(MEDIA_TYPES)}")
        files = _media_files(path)
        result = self._call("POST", "media/upload", params={"type": media_type}, files=files)
        return str(result["media_id"])

    def upload_group_media(self, webhook_key: str, path: str | Path) -> str:
        """Upload a file for a 群机器人 `file` message and return its media_id."""
        params = {"key": webhook_key, "type": "file"}
        result = self._request("POST", "webhook/upload_media", params=params, files=_media_files(path))
        return str(self._checked(result)["media_id"])

    def access_token(self) -> str:
        """The cached access token, fetched (once across all processes) when missing."""
        return self._cached_token() or self._refresh_token(stale=None)

    # ------------------------------------------------------------ token cache

    def _cached_token(self) -> str | None:
        return _text(self._redis.get(self.token_key))

    def _refresh_token(self, stale: str | None) -> str:
        """A token other than `stale`: fetched by us under a lock, or by whoever holds it."""
        lock_key = self.token_key + ":lock"
        deadline = time.monotonic() + self._lock_seconds + 1
        while True:
            cached = self._cached_token()
            if cached and cached != stale:
                return cached
            lock_id = uuid.uuid4().hex
            if self._redis.set(lock_key, lock_id, nx=True, ex=self._lock_seconds):
                try:
                    return self._fetch_token_locked(stale)
                finally:
                    self._redis.eval(_DELETE_IF_EQUAL, 1, lock_key, lock_id)
            if time.monotonic() > deadline:
                raise Transient(None, "timed out waiting for another process to refresh the token")
            time.sleep(0.05)  # another process is fetching; re-read the cache shortly

    def _fetch_token_locked(self, stale: str | None) -> str:
        # Someone may have stored a fresh token between our cache read and taking the lock.
        cached = self._cached_token()
        if cached and cached != stale:
            return cached
        params = {"corpid": self.corp_id, "corpsecret": self._secret}
        result = self._checked(self._request("GET", "gettoken", params=params))
        token = str(result["access_token"])
        ttl = token_ttl(int(result.get("expires_in", 7200)))
        self._redis.set(self.token_key, token, ex=ttl)
        logger.info("fetched WeCom access token for agent %s (cached %s s)", self.agent_id, ttl)
        return token

    def _drop_token(self, token: str) -> None:
        self._redis.eval(_DELETE_IF_EQUAL, 1, self.token_key, token)

    # ------------------------------------------------------------ HTTP

    def _call(
        self, method: str, endpoint: str, *, params: dict[str, str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """An authenticated call; on 40014/42001 refresh the token and retry exactly once."""
        token = self.access_token()
        result = self._request(method, endpoint, params={**(params or {}), "access_token": token}, **kwargs)
        code = _errcode(result)
        if code in TOKEN_RETRY_CODES:
            logger.info("WeCom %s refused the access token (errcode %s); refreshing once", endpoint, code)
            self._drop_token(token)
            token = self._refresh_token(stale=token)
            result = self._request(
                method, endpoint, params={**(params or {}), "access_token": token}, **kwargs
            )
        return self._checked(result)

    @tallied  # each round trip's errcode, summed in Redis across processes (ztc_wecom_api_results)
    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str],
        json_body: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """One HTTP round trip, decoded; HTTP and network failures become WeComError.

        `endpoint` names the call in errors; `url`, when given, is called instead of the API base
        plus `endpoint` (a response_url), and never appears in an error.
        """
        headers: dict[str, str] = {}
        data: bytes | None = None
        if json_body is not None:
            # ensure_ascii=False: WeCom's byte limits count UTF-8, and \\u escapes triple Chinese text.
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = self._http.request(
                method,
                url or self._api_base + endpoint,
                params=params,
                data=data,
                files=files,
                headers=headers,
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            # `from None`: the original message holds the URL with the token or secret in it.
            raise Transient(None, f"{endpoint}: {type(exc).__name__}: {redact(str(exc))}") from None
        return _decode(endpoint, response)

    @staticmethod
    def _checked(result: dict[str, Any]) -> dict[str, Any]:
        code = _errcode(result)
        if code != 0:
            raise error_for(code, redact(str(result.get("errmsg", ""))), raw=result)
        return result


def _errcode(result: dict[str, Any]) -> int:
    try:
        return int(result.get("errcode", 0))
    except (TypeError, ValueError):
        return -1  # an unreadable errcode: treat as the platform being busy


def _decode(endpoint: str, response: requests.Response) -> dict[str, Any]:
    if response.status_code >= 500:
        raise Transient(None, f"{endpoint}: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise Permanent(None, f"{endpoint}: HTTP {response.status_code}")
    try:
        result = response.json()
    except ValueError:
        # Proxies and gateways answer HTML when they fail: not a verdict on our request.
        raise Transient(None, f"{endpoint}: response is not JSON") from None
    if not isinstance(result, dict):
        raise Transient(None, f"{endpoint}: response is not a JSON object")
    return result


def _origin(url: str) -> tuple[str, str]:
    """(scheme, host:port) of a url, lowercased, for same-host checks."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _media_files(path: str | Path) -> dict[str, Any]:
    file_path = Path(path)
    # Read into memory so the same bytes can be posted again after a token refresh.
    return {"media": (file_path.name, file_path.read_bytes(), "application/octet-stream")}
