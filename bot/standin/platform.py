"""Acting as the WeCom platform: build encrypted callbacks as WeCom would and post them.

Used by the newcomer's chat (`ztc chat`, `ztc demo`) and by the end-to-end tests, so both
exercise the real encrypted webhooks: the app's XML callback (1:1 chat) and the 智能机器人's
JSON callback (a group @-mention, answered with a stream and later through the response_url).
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
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


def aibot_text_json(
    *, msgid: str, aibotid: str, chatid: str | None, user: str, content: str, response_url: str
) -> str:
    """The plaintext JSON WeCom sends when someone @-mentions the AI bot (or talks to it 1:1)."""
    data: dict[str, Any] = {"msgid": msgid, "aibotid": aibotid}
    if chatid:  # a single chat carries no chatid
        data["chatid"] = chatid
    data.update(
        chattype="group" if chatid else "single",
        response_url=response_url,
        msgtype="text",
        text={"content": content},
    )
    data["from"] = {"userid": user}
    return json.dumps(data, ensure_ascii=False)


@dataclass
class AibotDelivery:
    """What /wecom/aibot answered to one callback."""

    status: int
    reply: dict[str, Any] | None  # the decrypted passive reply (a stream, or the welcome text)
    body: bytes

    @property
    def text(self) -> str | None:
        """The passive answer's text: the stream's content (or the welcome's), if any."""
        if self.reply is None:
            return None
        part = self.reply.get(self.reply.get("msgtype", ""), {})
        return part.get("content") if isinstance(part, dict) else None


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
    # The AI bot: its callback (default: /wecom/aibot next to callback_url), its own token and key
    # (default: the app's, as in the demo), and the stand-in that issues response_urls.
    aibot_url: str | None = None
    aibot_token: str | None = None
    aibot_aes_key: str | None = None
    standin_url: str | None = None
    aibot_id: str = "aibstandin0demo"

    @property
    def crypto(self) -> CallbackCrypto:
        """The app callback's crypto (receiveid = the corp id)."""
        return CallbackCrypto(self.token, self.aes_key, self.corp_id)

    @property
    def aibot_crypto(self) -> CallbackCrypto:
        """The AI bot callback's crypto (receiveid "")."""
        return CallbackCrypto(self.aibot_token or self.token, self.aibot_aes_key or self.aes_key, "")

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

    # ------------------------------------------------------------ the AI bot (智能机器人)

    def group_say(
        self, user: str, chatid: str, text: str, *, bot_name: str = "政企直通车", msg_id: str | None = None
    ) -> AibotDelivery:
        """`user` types "@bot_name text" in group `chatid`; `.text` is the bot's passive stream."""
        return self.post_aibot(self.aibot_message(user, f"@{bot_name} {text}", chatid=chatid, msg_id=msg_id))

    def aibot_message(
        self, user: str, content: str, *, chatid: str | None = None, msg_id: str | None = None
    ) -> str:
        """The plaintext of one AI-bot text callback, with a fresh response_url from the stand-in.

        Post it with post_aibot (twice to play a WeCom retry: same msgid, same response_url).
        """
        msgid = msg_id or f"aibot{next(_msg_ids)}"
        response_url = self.issue_response_url(chatid or "", user, msgid)
        return aibot_text_json(
            msgid=msgid, aibotid=self.aibot_id, chatid=chatid, user=user, content=content,
            response_url=response_url,
        )  # fmt: skip

    def issue_response_url(self, chatid: str, user: str, msgid: str) -> str:
        """Ask the stand-in for the response_url WeCom would put in this message."""
        if not self.standin_url:
            raise RuntimeError("WeComPlatform needs standin_url to issue AI-bot response_urls")
        url = self.standin_url.rstrip("/") + "/_standin/aibot/response_url"
        answer = self.http.post(url, json={"chatid": chatid, "userid": user, "msgid": msgid}, timeout=5)
        answer.raise_for_status()
        return str(answer.json()["response_url"])

    def post_aibot(self, plaintext: str) -> AibotDelivery:
        """Encrypt, sign and POST one AI-bot callback (JSON); decrypt the passive reply."""
        nonce, timestamp = secrets.token_hex(8), str(int(time.time()))
        body, params = self.aibot_crypto.build_json_callback_body(plaintext, nonce, timestamp)
        url, headers = self.aibot_callback_url, {"Content-Type": "application/json"}
        response = self.http.post(url, params=params, data=body, headers=headers, timeout=10)
        return AibotDelivery(response.status_code, self._decrypt_aibot_reply(response), response.content)

    @property
    def aibot_callback_url(self) -> str:
        """Where AI-bot callbacks go: aibot_url, else /wecom/aibot beside the app callback."""
        return self.aibot_url or self.callback_url.rsplit("/wecom/", 1)[0] + "/wecom/aibot"

    def _decrypt_aibot_reply(self, response: requests.Response) -> dict[str, Any] | None:
        """The passive reply's plaintext JSON: verify the envelope's signature, then decrypt."""
        if response.status_code != 200 or not response.content.strip():
            return None
        envelope = response.json()
        plaintext = self.aibot_crypto.decrypt(
            envelope["msgsignature"], str(envelope["timestamp"]), envelope["nonce"], envelope["encrypt"]
        )
        reply: dict[str, Any] = json.loads(plaintext)
        return reply
