"""Decrypted callback payloads → transport-free :class:`bot.messages.Inbound`.

The app callback is parsed with defusedxml's ElementTree directly rather than xmltodict:
one parser instead of two, DTDs refused before anything is expanded, and repeated elements
(``SelectedItem``, ``OptionId``) come back as lists by construction, so there is no
one-item-is-a-dict / several-items-are-a-list shape to normalise.

Malformed input raises :class:`MalformedMessage` and nothing else; an unknown message type is
not malformed, it becomes ``Kind.UNSUPPORTED``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring, tostring

from bot.messages import Channel, Inbound, Kind, SelectedItem

MAX_PAYLOAD_CHARS = 256 * 1024  # a decrypted callback is a few KB
MAX_CONTENT_BYTES = 8 * 1024  # WeCom text is ≤ 2048 bytes; leave room, refuse abuse
MAX_FIELD_BYTES = 16 * 1024
MAX_USERID_BYTES = 64  # WeCom userids are 1–64 bytes; the stored column is VARCHAR(64)
MAX_KEY_CHARS = 255  # fits a VARCHAR(255) column and a readable Redis key
_KEY_PREFIX_CHARS = MAX_KEY_CHARS - 65  # the rest is ":" + a sha256 hex digest of the tail
_MAX_TIMESTAMP_DIGITS = 11  # up to year 5138; keeps datetime.fromtimestamp in range

_XML_ERRORS = (ParseError, DefusedXmlException, ValueError, LookupError, TypeError)
_JSON_ERRORS = (ValueError, RecursionError, TypeError)

# Fields of the app callback that map onto Inbound; the rest go to Inbound.extra.
_APP_MAPPED = frozenset(
    {"FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "AgentID", "PicUrl", "MediaId"}
    | {"Event", "EventKey", "TaskId", "CardType", "ResponseCode", "SelectedItems"}
)
_AIBOT_MAPPED = frozenset(
    {"msgid", "from", "msgtype", "chatid", "chattype", "response_url", "create_time"}
    | {"text", "mixed", "image", "event", "stream"}
)
# A leading "@BotName" and the whitespace after it (WeCom separates with U+2005, which \s covers).
_MENTION = re.compile(r"\A\s*@\S+(?:\s+|\Z)")


class MalformedMessage(Exception):
    """A decrypted payload that cannot be a real callback; ``reason`` is short English."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- shared helpers ---------------------------------------------------------------------------


def _utf8_len(text: str) -> int:
    """Byte length as stored; lone surrogates (possible via JSON escapes) are malformed."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise MalformedMessage("invalid unicode") from exc


def _check_size(name: str, text: str) -> str:
    """Refuse a field over the per-field limit (and Content over its own, lower one), or with a NUL."""
    limit = MAX_CONTENT_BYTES if name in ("Content", "content") else MAX_FIELD_BYTES
    if _utf8_len(text) > limit:
        raise MalformedMessage(f"{name} too large")
    # XML cannot carry NUL, but JSON can ("\u0000"); PostgreSQL refuses it in every text column.
    if "\x00" in text:
        raise MalformedMessage(f"NUL in {name}")
    return text


def _userid(text: str) -> str:
    """The sender's userid, refused when longer than WeCom's 64 bytes (it could not be stored)."""
    if _utf8_len(text) > MAX_USERID_BYTES:
        raise MalformedMessage("userid too long")
    return text


def _cap_key(key: str) -> str:
    """Keep a dedup key ≤ 255 chars: a long tail is replaced by its sha256, stably."""
    if len(key) <= MAX_KEY_CHARS:
        return key
    tail = key[_KEY_PREFIX_CHARS:].encode("utf-8", "surrogatepass")
    return key[:_KEY_PREFIX_CHARS] + ":" + hashlib.sha256(tail).hexdigest()


def _epoch(value: str) -> datetime:
    """Unix seconds as an aware UTC datetime; only plain ASCII digits are accepted."""
    # str.isdigit alone would let "١٢٣" and "²" through, and int() would accept " 1_0 ".
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_TIMESTAMP_DIGITS):
        raise MalformedMessage("bad create time")
    return datetime.fromtimestamp(int(value), tz=UTC)


# -- the self-built app's XML callback ------------------------------------------------------


def parse_app_message(xml: str) -> Inbound:
    """Parse a decrypted app callback (XML) into an Inbound on Channel.WECOM_APP."""
    root = _parse_xml(xml)
    fields, extra = _top_level_fields(root)
    for required in ("FromUserName", "CreateTime", "MsgType"):
        if not fields.get(required):
            raise MalformedMessage(f"missing {required}")
    kind = _app_kind(fields["MsgType"], fields.get("Event"))
    return Inbound(
        channel=Channel.WECOM_APP,
        kind=kind,
        user_id=_userid(fields["FromUserName"]),
        dedup_key=_app_dedup_key(fields),
        created_at=_epoch(fields["CreateTime"]),
        text=fields.get("Content", "") if kind is Kind.TEXT else "",
        msg_id=fields.get("MsgId") or None,
        msg_type=fields["MsgType"],
        event=fields.get("Event") or None,
        event_key=fields.get("EventKey") or None,
        task_id=fields.get("TaskId") or None,
        response_code=fields.get("ResponseCode") or None,
        card_type=fields.get("CardType") or None,
        selected=_selected_items(root) if kind is Kind.CARD_CLICK else (),
        media_id=fields.get("MediaId") or None,
        pic_url=fields.get("PicUrl") or None,
        agent_id=fields.get("AgentID") or None,
        extra=extra,
    )


def _parse_xml(xml: str) -> Any:
    """defusedxml with DTDs forbidden: entity tricks are refused, never expanded."""
    if not isinstance(xml, str) or len(xml) > MAX_PAYLOAD_CHARS:
        raise MalformedMessage("not xml")
    try:
        root = fromstring(xml, forbid_dtd=True)
    except _XML_ERRORS as exc:  # UnicodeEncodeError (lone surrogates) is a ValueError
        raise MalformedMessage("not xml") from exc
    if root.tag != "xml":
        raise MalformedMessage("not xml")
    return root


def _top_level_fields(root: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """Text of each top-level element (stripped), plus the unmapped ones for Inbound.extra."""
    fields: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for child in root:
        name = str(child.tag)
        if name in fields:
            raise MalformedMessage(f"duplicate {name}")  # ambiguous: which one is meant?
        # Nested elements (SelectedItems, 公众号 ScanCodeInfo …) are kept as their XML text.
        raw = tostring(child, encoding="unicode") if len(child) else (child.text or "")
        fields[name] = _check_size(name, raw).strip()
        if name not in _APP_MAPPED:
            extra[name] = fields[name]
    return fields, extra


def _app_kind(msg_type: str, event: str | None) -> Kind:
    """Map MsgType/Event to a Kind; any type we do not handle is UNSUPPORTED, not an error."""
    if msg_type == "text":
        return Kind.TEXT
    if msg_type == "image":
        return Kind.IMAGE
    if msg_type == "event":
        return Kind.CARD_CLICK if event == "template_card_event" else Kind.EVENT
    return Kind.UNSUPPORTED


def _selected_items(root: Any) -> tuple[SelectedItem, ...]:
    """SelectedItems/SelectedItem/{QuestionKey, OptionIds/OptionId} of a vote/multiple card."""
    items = []
    for item in root.findall("SelectedItems/SelectedItem"):
        question_key = (item.findtext("QuestionKey") or "").strip()
        if not question_key:
            raise MalformedMessage("SelectedItem without QuestionKey")
        options = (option.text or "" for option in item.findall("OptionIds/OptionId"))
        items.append(SelectedItem(question_key, tuple(o.strip() for o in options if o.strip())))
    return tuple(items)


def _app_dedup_key(fields: dict[str, str]) -> str:
    """Same delivery (retries included) → same key; different deliveries → different keys."""
    if fields.get("MsgId"):
        return _cap_key(f"wecom:msg:{fields['MsgId']}")
    user, created, msg_type = fields["FromUserName"], fields["CreateTime"], fields["MsgType"]
    if msg_type == "event":
        # FromUserName + CreateTime alone collide when one person clicks twice in a second.
        event, key, task = (fields.get(name, "") for name in ("Event", "EventKey", "TaskId"))
        return _cap_key(f"wecom:evt:{user}:{created}:{event}:{key}:{task}")
    # A message without MsgId should not happen; fall back to its content so that two different
    # messages in one second do not swallow each other.
    body = "\x00".join(fields.get(name, "") for name in ("Content", "MediaId", "PicUrl"))
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
    return _cap_key(f"wecom:nomsgid:{user}:{created}:{msg_type}:{digest}")


# -- the 智能机器人 (AI bot) JSON callback ---------------------------------------------------


def parse_aibot_message(json_text: str, received_at: datetime) -> Inbound:
    """Parse a decrypted 智能机器人 callback (JSON) into an Inbound on Channel.WECOM_AIBOT.

    ``received_at`` (aware) is the creation time when the payload carries no ``create_time``.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")  # a caller bug, not bad input
    data = _load_json_object(json_text)
    msg_id = _required_str(data, "msgid")
    sender = data.get("from")
    if not isinstance(sender, dict):
        raise MalformedMessage("missing from")
    msg_type = _required_str(data, "msgtype")
    body = _aibot_body(data, msg_type)
    return Inbound(
        channel=Channel.WECOM_AIBOT,
        user_id=_userid(_required_str(sender, "userid")),
        dedup_key=_cap_key(f"aibot:msg:{msg_id}"),
        created_at=_aibot_created_at(data.get("create_time"), received_at),
        msg_id=msg_id,
        msg_type=msg_type,
        chat_id=_optional_str(data, "chatid"),
        chat_type=_optional_str(data, "chattype"),
        response_url=_optional_str(data, "response_url"),
        extra=_aibot_extra(data),
        **body,
    )


def _load_json_object(json_text: str) -> dict[str, Any]:
    """json.loads, refusing oversized input, deep nesting and anything but an object."""
    if not isinstance(json_text, str) or len(json_text) > MAX_PAYLOAD_CHARS:
        raise MalformedMessage("not json")
    try:
        data = json.loads(json_text)
    except _JSON_ERRORS as exc:
        raise MalformedMessage("not json") from exc
    if not isinstance(data, dict):
        raise MalformedMessage("not a json object")
    return data


def _optional_str(obj: dict[str, Any], name: str) -> str | None:
    """A string field (ids may come as numbers); wrong types are malformed."""
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise MalformedMessage(f"bad {name}")
    return _check_size(name, value) or None


def _required_str(obj: dict[str, Any], name: str) -> str:
    """Like _optional_str, but absent or empty is malformed."""
    value = _optional_str(obj, name)
    if not value:
        raise MalformedMessage(f"missing {name}")
    return value


def _sub_object(data: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested object such as ``text`` or ``event``; absent means empty."""
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise MalformedMessage(f"bad {name}")
    return value


def _aibot_created_at(value: Any, received_at: datetime) -> datetime:
    """create_time when present (events carry it), else the time we received the callback."""
    if value is None:
        return received_at.astimezone(UTC)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedMessage("bad create_time")
    return _epoch(str(value))


def _strip_mention(text: str) -> str:
    """Drop a leading "@BotName" (group messages start with it), then surrounding blanks."""
    return _MENTION.sub("", text, count=1).strip()


def _aibot_body(data: dict[str, Any], msg_type: str) -> dict[str, Any]:
    """Kind and the kind-specific Inbound fields for one AI-bot msgtype."""
    if msg_type == "text":
        content = _optional_str(_sub_object(data, "text"), "content") or ""
        return {"kind": Kind.TEXT, "text": _strip_mention(content)}
    if msg_type == "mixed":
        return _aibot_mixed(data)
    if msg_type == "image":
        return {"kind": Kind.IMAGE, "pic_url": _optional_str(_sub_object(data, "image"), "url")}
    if msg_type == "event":
        return _aibot_event(_sub_object(data, "event"))
    if msg_type == "stream":
        # A refresh request for a streamed reply we started; the stream id is its key.
        stream_id = _optional_str(_sub_object(data, "stream"), "id")
        return {"kind": Kind.EVENT, "event": "stream", "event_key": stream_id}
    return {"kind": Kind.UNSUPPORTED}


def _aibot_mixed(data: dict[str, Any]) -> dict[str, Any]:
    """图文混排: the text items joined (TEXT), or the first image when there is no text."""
    mixed = data.get("mixed")
    if isinstance(mixed, str):  # some deliveries carry it as a JSON string
        mixed = _load_json_object(mixed)
    if not isinstance(mixed, dict):
        raise MalformedMessage("bad mixed")
    texts: list[str] = []
    images: list[str | None] = []
    for item in _as_list(mixed.get("msg_item")):
        if not isinstance(item, dict):
            raise MalformedMessage("bad msg_item")
        if item.get("msgtype") == "text":
            texts.append(_optional_str(_sub_object(item, "text"), "content") or "")
        elif item.get("msgtype") == "image":
            images.append(_optional_str(_sub_object(item, "image"), "url"))
    text = _strip_mention(_check_size("content", "\n".join(texts)))
    pic_url = next((url for url in images if url), None)
    kind = Kind.TEXT if text else Kind.IMAGE if pic_url else Kind.UNSUPPORTED
    return {"kind": kind, "text": text, "pic_url": pic_url}


def _aibot_event(event: dict[str, Any]) -> dict[str, Any]:
    """enter_chat, template_card_event, feedback_event …; card clicks carry their details."""
    event_type = _optional_str(event, "eventtype")
    if event_type != "template_card_event":
        return {"kind": Kind.EVENT, "event": event_type}
    card = _sub_object(event, "template_card_event")
    return {
        "kind": Kind.CARD_CLICK,
        "event": event_type,
        "event_key": _optional_str(card, "event_key"),
        "task_id": _optional_str(card, "task_id"),
        "card_type": _optional_str(card, "card_type"),
        "response_code": _optional_str(card, "response_code"),
        "selected": _aibot_selected(card.get("selected_items")),
    }


def _as_list(value: Any) -> list[Any]:
    """None → [], a list → itself, one value → [value] (XML-derived JSON has both shapes)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _aibot_selected(raw: Any) -> tuple[SelectedItem, ...]:
    """selected_items of a vote/multiple card, as {"selected_item": [...]} or a bare list."""
    items = raw.get("selected_item") if isinstance(raw, dict) else raw
    selected = []
    for item in _as_list(items):
        if not isinstance(item, dict):
            raise MalformedMessage("bad selected_item")
        option_ids = item.get("option_ids")
        if isinstance(option_ids, dict):
            option_ids = option_ids.get("option_id")
        options = [_scalar_text(option) for option in _as_list(option_ids)]
        selected.append(SelectedItem(_required_str(item, "question_key"), tuple(o for o in options if o)))
    return tuple(selected)


def _scalar_text(value: Any) -> str:
    """One option id; only strings and integers are ids."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise MalformedMessage("bad option_id")
    return _check_size("option_id", value).strip()


def _aibot_extra(data: dict[str, Any]) -> dict[str, Any]:
    """Unmapped top-level fields (aibotid, quote …) as strings, for the stored record."""
    unmapped = ((name, value) for name, value in data.items() if name not in _AIBOT_MAPPED)
    return {name: _check_size(name, _as_text(value)) for name, value in unmapped}


def _as_text(value: Any) -> str:
    """A JSON value as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    except _JSON_ERRORS as exc:
        raise MalformedMessage("bad extra field") from exc
