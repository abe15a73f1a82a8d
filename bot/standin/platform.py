"""Acting as the WeCom platform: build encrypted callbacks as WeCom would and post them.

Used by the newcomer's chat (`ztc chat`, `ztc demo`) and by the end-to-end tests, so both
exercise the real encrypted webhook.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import requests
from defusedxml.ElementTree import fromstring

from bot.wecom.crypto import CallbackCrypto

_msg_ids = itertools.count(int(time.time() * 1000))


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_xml(*, corp_id: str, user: str, content: str, agent_id: int, create_time: int, msg_id: str) -> str:
    """The plaintext XML WeCom sends for a text message."""
    return (
        f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName><FromUserName>{_cdata(user)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType>{_cdata('text')}</MsgType>"
        f"<Content>{_cdata(content)}</Content><MsgId>{escape(msg_id)}</MsgId><AgentID>{agent_id}</AgentID></xml>"
    )


def card_click_xml(
    *,
    corp_id: str,
    user: str,
    agent_id: int,
    create_time: int,
    event_key: str,
    task_id: str,
    response_code: str,
) -> str:
    """The plaintext XML WeCom sends when a template card button is clicked."""
    return (
        f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName><FromUserName>{_cdata(user)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType>{_cdata('event')}</MsgType>"
        f"<Event>{_cdata('template_card_event')}</Event><EventKey>{_cdata(event_key)}</EventKey>"
        f"<TaskId>{_cdata(task_id)}</TaskId><CardType>{_cdata('button_interaction')}</CardType>"
        f"<ResponseCode>{_cdata(response_code)}</ResponseCode><AgentID>{agent_id}</AgentID></xml>"
    )


@dataclass
class Delivery:
    """What the webhook answered to one callback."""

    status: int
    reply: str | None  # the decrypted passive reply XML, if any
    body: bytes


@dataclass
class WeComPlatform:
    """Posts encrypted callbacks to a webhook as WeCom does, and decrypts its passive replies."""

    callback_url: str
    corp_id: str
    token: str
    aes_key: str
    agent_id: int
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def crypto(self) -> CallbackCrypto:
        return CallbackCrypto(self.token, self.aes_key, self.corp_id)

    def send_text(self, user: str, content: str, *, msg_id: str | None = None) -> Delivery:
        """A person types `content` in the app's chat."""
        now = int(time.time())
        xml = text_xml(
            corp_id=self.corp_id, user=user, content=content, agent_id=self.agent_id,
            create_time=now, msg_id=msg_id or str(next(_msg_ids)),
        )  # fmt: skip
        return self.post_plaintext(xml)

    def click(self, user: str, *, event_key: str, task_id: str, response_code: str) -> Delivery:
        """A person clicks a button on a template card."""
        xml = card_click_xml(
            corp_id=self.corp_id, user=user, agent_id=self.agent_id, create_time=int(time.time()),
            event_key=event_key, task_id=task_id, response_code=response_code,
        )  # fmt: skip
        return self.post_plaintext(xml)

    def post_plaintext(self, xml: str) -> Delivery:
        """Encrypt, sign and POST one callback; decrypt the passive reply."""
        nonce, timestamp = secrets.token_hex(8), str(int(time.time()))
        body, params = self.crypto.build_callback_body(xml, nonce, timestamp, self.corp_id, self.agent_id)
        response = self.http.post(self.callback_url, params=params, data=body, timeout=10)
        return Delivery(response.status_code, self._decrypt_reply(response), response.content)

    def _decrypt_reply(self, response: requests.Response) -> str | None:
        if response.status_code != 200 or not response.content.strip():
            return None
        root = fromstring(response.content)
        return self.crypto.decrypt(
            root.findtext("MsgSignature") or "", root.findtext("TimeStamp") or "",
            root.findtext("Nonce") or "", root.findtext("Encrypt") or "",
        )  # fmt: skip
