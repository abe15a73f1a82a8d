"""The 公众号 server API: 客服消息 within 48 h of a follower's last message, 模板消息 after that.

The WeCom client's token cache, bounded token retry, redaction and typed errors carry over as
they are; only the token call (``token?grant_type=client_credential&appid&secret``), its Redis key
and the two send calls differ.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.wecom.client import WeComClient, token_ttl
from bot.wecom.outbound import truncate_bytes

if TYPE_CHECKING:
    import redis
    import requests

    from bot.settings import Settings

logger = logging.getLogger(__name__)

OUT_OF_WINDOW = 45015  # 客服消息: the follower has not written within 48 h
CUSTOM_TEXT_BYTES = 2048  # 客服消息 text, as the passive reply's; cut politely rather than refused


class WeChatMPClient(WeComClient):
    """Calls the 公众号 API for one AppID, sharing its access token via Redis."""

    @classmethod
    def from_mp_settings(
        cls, settings: Settings, redis: redis.Redis, http: requests.Session | None = None
    ) -> WeChatMPClient:
        """A client for the 公众号 configured in `settings` (WECHAT_APP_ID, WECHAT_SECRET)."""
        return cls(
            corp_id=settings.wechat_app_id,
            secret=settings.wechat_secret,
            agent_id=0,
            api_base=settings.wechat_api_base,
            redis=redis,
            http=http,
        )

    def __repr__(self) -> str:
        return f"WeChatMPClient(app_id={self.corp_id!r}, api_base={self._api_base!r})"

    @property
    def token_key(self) -> str:
        """Redis key of the cached token, per AppID."""
        return f"ztc:wechat:token:{self.corp_id}"

    def send_custom(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST message/custom/send (客服消息; only within 48 h of the follower's last message)."""
        return self._call("POST", "message/custom/send", json_body=body)

    def send_template(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST message/template/send (模板消息, any time, with a template approved for the account)."""
        return self._call("POST", "message/template/send", json_body=body)

    def _fetch_token_locked(self, stale: str | None) -> str:
        cached = self._cached_token()
        if cached and cached != stale:
            return cached
        params = {"grant_type": "client_credential", "appid": self.corp_id, "secret": self._secret}
        result = self._checked(self._request("GET", "token", params=params))
        token = str(result["access_token"])
        ttl = token_ttl(int(result.get("expires_in", 7200)))
        self._redis.set(self.token_key, token, ex=ttl)
        logger.info("fetched WeChat access token for %s (cached %s s)", self.corp_id, ttl)
        return token


def custom_text(openid: str, content: str) -> dict[str, Any]:
    """The body of a 客服消息 text."""
    return {
        "touser": openid,
        "msgtype": "text",
        "text": {"content": truncate_bytes(content, CUSTOM_TEXT_BYTES)},
    }


def template_text(openid: str, template_id: str, content: str) -> dict[str, Any]:
    """The body of a 模板消息 whose template shows one field, ``{{content.DATA}}``."""
    return {"touser": openid, "template_id": template_id, "data": {"content": {"value": content}}}
