"""The 公众号 (WeChat official account) callback: plain signatures, bodies, Inbound, passive replies.

The official account speaks the WeCom app's dialect with three differences handled here: a plain
``signature = sha1(sorted(token, timestamp, nonce))`` signs every request (the GET check echoes
``echostr`` verbatim); the body may be XML or JSON (服务器配置 → 数据格式); and in safe or
compatible mode the message sits in an ``Encrypt`` field, signed by ``msg_signature`` and
encrypted with receiveid = the AppID (bot/wecom/crypto.py does that part).

A sender is ``"wx:" + openid`` everywhere past this module: people, conversations and outbox rows
then tell WeChat users from WeCom userids by the prefix alone. Template cards do not exist here;
they are rendered as text with their buttons listed as hints (:func:`card_as_text`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from bot.messages import Channel, Inbound, Kind
from bot.replies import Markdown, Reply, TemplateCard, Text
from bot.wecom.inbound import (
    MalformedMessage,
    _as_text,
    _cap_key,
    _check_size,
    _epoch,
    _load_json_object,
    _parse_xml,
    _top_level_fields,
    _userid,
)
from bot.wecom.outbound import PASSIVE_TEXT_BYTES, markdown_to_text, render_passive_text, truncate_bytes

WECHAT_PREFIX = "wx:"  # marks a WeChat openid among WeCom userids


def wechat_user(openid: str) -> str:
    """The user id under which a 公众号 follower is known (people, conversations, outbox)."""
    return WECHAT_PREFIX + openid


def openid_of(user_id: str) -> str | None:
    """The openid of a "wx:" user id, or None for a WeCom userid."""
    return user_id[len(WECHAT_PREFIX) :] if user_id.startswith(WECHAT_PREFIX) else None


def plain_signature(token: str, timestamp: str, nonce: str) -> str:
    """The 公众号's request signature: sha1 over token, timestamp and nonce, sorted."""
    data = "".join(sorted([token, timestamp, nonce])).encode("utf-8", "surrogatepass")
    return hashlib.sha1(data).hexdigest()  # noqa: S324 - SHA-1 is fixed by the platform's protocol


def plain_signature_ok(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    """Whether ``signature`` signs this timestamp and nonce, compared in constant time."""
    expected = plain_signature(token, timestamp, nonce).encode("ascii")
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


# -- bodies ----------------------------------------------------------------------------------


def is_json(body: str, content_type: str | None = None) -> bool:
    """A JSON body (数据格式 JSON): said by Content-Type, or recognisable by its first character."""
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip()[:1] == "{"


def body_fields(body: str, as_json: bool) -> dict[str, str]:
    """Top-level fields of an XML or JSON body as text; MalformedMessage when it is neither."""
    if not as_json:
        return _top_level_fields(_parse_xml(body))[0]
    data = _load_json_object(body)
    fields: dict[str, str] = {}
    for name, value in data.items():
        # Numbers (CreateTime, MsgId) arrive as JSON numbers; nested objects are kept as JSON text.
        fields[str(name)] = _check_size(str(name), _as_text(value)).strip()
    return fields


def parse_mp_fields(fields: dict[str, str]) -> Inbound:
    """A 公众号 message's fields → an Inbound on Channel.WECHAT_MP, sender "wx:" + openid."""
    for required in ("FromUserName", "CreateTime", "MsgType"):
        if not fields.get(required):
            raise MalformedMessage(f"missing {required}")
    msg_type, event = fields["MsgType"], fields.get("Event") or None
    kind, text = _mp_kind(msg_type, event, fields)
    mapped = {"FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey", "Encrypt"}
    return Inbound(
        channel=Channel.WECHAT_MP,
        kind=kind,
        user_id=_userid(wechat_user(fields["FromUserName"])),
        dedup_key=_mp_dedup_key(fields),
        created_at=_epoch(fields["CreateTime"]),
        text=text,
        msg_id=fields.get("MsgId") or None,
        msg_type=msg_type,
        event=event,
        event_key=fields.get("EventKey") or None,
        media_id=fields.get("MediaId") or None,
        pic_url=fields.get("PicUrl") or None,
        extra={name: value for name, value in fields.items() if name not in mapped},
    )


def _mp_kind(msg_type: str, event: str | None, fields: dict[str, str]) -> tuple[Kind, str]:
    """Kind and text; a menu CLICK is the command its EventKey names (keys are command words)."""
    if msg_type == "text":
        return Kind.TEXT, fields.get("Content", "")
    if msg_type == "image":
        return Kind.IMAGE, ""
    if msg_type == "event" and event == "CLICK":
        return Kind.TEXT, fields.get("EventKey", "")
    if msg_type == "event":
        return Kind.EVENT, ""
    return Kind.UNSUPPORTED, ""


def _mp_dedup_key(fields: dict[str, str]) -> str:
    """MsgId for messages; events (no MsgId) by sender, time, event and key."""
    if fields.get("MsgId"):
        return _cap_key(f"wechat:msg:{fields['MsgId']}")
    user, created = fields["FromUserName"], fields["CreateTime"]
    if fields["MsgType"] == "event":
        return _cap_key(f"wechat:evt:{user}:{created}:{fields.get('Event', '')}:{fields.get('EventKey', '')}")
    digest = hashlib.sha256(fields.get("Content", "").encode("utf-8")).hexdigest()[:16]
    return _cap_key(f"wechat:nomsgid:{user}:{created}:{fields['MsgType']}:{digest}")


# -- replies ---------------------------------------------------------------------------------


def reply_text(reply: Reply) -> str | None:
    """What a 公众号 user reads for a reply: texts as they are, cards as text; None for the rest."""
    if isinstance(reply, Text):
        return reply.content
    if isinstance(reply, Markdown):
        return markdown_to_text(reply.content)
    if isinstance(reply, TemplateCard):
        return card_as_text(reply)
    return None


def card_as_text(card: TemplateCard) -> str:
    """A template card as plain text: title, body, fields, and its buttons as hints."""
    lines = [f"【{card.title}】"]
    lines += [part for part in (card.sub_title, card.desc, card.quote) if part]
    if card.emphasis:
        lines.append(f"{card.emphasis[1]}：{card.emphasis[0]}")
    lines += [f"{label}：{value}" for label, value in card.fields]
    choices = [b.text for b in card.buttons] or [o.text for o in card.options]
    if choices:
        lines.append("可选操作：" + " / ".join(choices))
        lines.append("（公众号不支持卡片按钮，请发送对应的文字命令；发送「帮助」查看可用命令。）")
    if card.url:
        lines.append(f"详情：{card.url}")
    return "\n".join(lines)


def render_mp_passive(
    reply: Reply, to_user: str, from_user: str, create_time: int, as_json: bool
) -> str | None:
    """The plaintext passive reply (XML or JSON, as the callback came) for a text; None: nothing."""
    content = reply_text(reply)
    if content is None:
        return None
    openid = openid_of(to_user) or to_user
    if not as_json:
        return render_passive_text(content, openid, from_user, create_time)
    body: dict[str, Any] = {
        "ToUserName": openid,
        "FromUserName": from_user,
        "CreateTime": create_time,
        "MsgType": "text",
        "Content": truncate_bytes(content, PASSIVE_TEXT_BYTES),
    }
    return json.dumps(body, ensure_ascii=False)


def json_envelope(encrypt: str, signature: str, timestamp: str, nonce: str) -> str:
    """The encrypted passive reply of a JSON-configured 公众号 (the XML envelope's fields)."""
    envelope = {"Encrypt": encrypt, "MsgSignature": signature, "TimeStamp": timestamp, "Nonce": nonce}
    return json.dumps(envelope)
