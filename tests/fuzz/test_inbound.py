"""The inbound parsers as round trips: what the platform writes (XML or the AI bot's JSON) reads back.

tests/wecom/test_inbound.py already throws hostile and near-valid payloads at both parsers; these
properties build real payloads from arbitrary values, as WeCom (our stand-in) writes them, and
check each value arrives unchanged — or the payload is refused as malformed, never half-read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from bot.messages import Inbound, Kind
from bot.standin.platform import aibot_text_json, card_click_xml, text_xml
from bot.wecom.inbound import MAX_USERID_BYTES, MalformedMessage, parse_aibot_message, parse_app_message
from tests.fuzz.strategies import FUZZ

RECEIVED = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
CORP = "ww0000000000demo0"

# What XML 1.0 can carry at all: no surrogates, no control characters but tab and newlines.
xml_chars = st.characters(
    codec="utf-8", exclude_categories=["Cc", "Cs"], exclude_characters="\ufffe\uffff"
) | st.sampled_from("\t\n\r <>&]]>'\"\u3000\u2005")
xml_text = st.text(alphabet=xml_chars, max_size=60)
userids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=70
)
msg_ids = st.integers(0, 2**63).map(str) | st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=1, max_size=40
)
json_text = st.text(max_size=60)


def as_xml_reads(text: str) -> str:
    """XML parsers hand every line break over as a plain newline, inside CDATA too."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def malformed_or(call, *args) -> Inbound | None:
    try:
        return call(*args)
    except MalformedMessage as exc:
        assert exc.reason
        return None


@FUZZ
@given(user=userids, content=xml_text, msg_id=msg_ids, created=st.integers(0, 2**33))
@example(user="u" * (MAX_USERID_BYTES + 1), content="帮助", msg_id="1", created=1764000000)
def test_a_text_message_reads_back(user: str, content: str, msg_id: str, created: int) -> None:
    xml = text_xml(
        corp_id=CORP, user=user, content=content, agent_id=1000002, create_time=created, msg_id=msg_id
    )
    inbound = malformed_or(parse_app_message, xml)
    too_long = len(user.strip().encode()) > MAX_USERID_BYTES
    if inbound is None:
        assert too_long or not user.strip()
        return
    assert not too_long
    assert (inbound.kind, inbound.user_id, inbound.text) == (
        Kind.TEXT,
        user.strip(),
        as_xml_reads(content).strip(),
    )
    assert inbound.msg_id == msg_id and inbound.dedup_key == f"wecom:msg:{msg_id}"
    assert int(inbound.created_at.timestamp()) == created
    assert Inbound.from_dict(json.loads(json.dumps(inbound.to_dict()))) == inbound


@FUZZ
@given(key=xml_text, task=xml_text, code=xml_text, created=st.integers(0, 2**33))
def test_a_card_click_reads_back_and_keys_its_delivery(key: str, task: str, code: str, created: int) -> None:
    xml = card_click_xml(
        corp_id=CORP,
        user="zhang_wei",
        agent_id=1,
        create_time=created,
        event_key=key,
        task_id=task,
        response_code=code,
    )
    inbound = parse_app_message(xml)
    assert inbound.kind is Kind.CARD_CLICK
    assert (inbound.event_key, inbound.task_id, inbound.response_code) == (
        as_xml_reads(key).strip() or None,
        as_xml_reads(task).strip() or None,
        as_xml_reads(code).strip() or None,
    )
    assert len(inbound.dedup_key) <= 255
    assert parse_app_message(xml).dedup_key == inbound.dedup_key  # a retry is the same delivery


@FUZZ
@given(user=json_text, content=json_text, msgid=json_text, chat=st.none() | json_text)
@example(user="u\x00", content="帮助", msgid="m1", chat=None)  # once a 500 on PostgreSQL
@example(user="u", content="帮助", msgid="m\x00", chat=None)
@example(user="u" * (MAX_USERID_BYTES + 1), content="帮助", msgid="m1", chat=None)
def test_an_aibot_text_reads_back_or_is_malformed(
    user: str, content: str, msgid: str, chat: str | None
) -> None:
    payload = aibot_text_json(
        msgid=msgid,
        aibotid="AIBOT",
        chatid=chat,
        user=user,
        content=content,
        response_url="https://example.invalid/r",
    )
    inbound = malformed_or(parse_aibot_message, payload, RECEIVED)
    values = [user, content, msgid, chat or ""]
    if inbound is None:
        unstorable = any("\x00" in v or not _utf8(v) for v in values)
        assert unstorable or not user or not msgid or len(user.encode()) > MAX_USERID_BYTES
        return
    assert not any("\x00" in v for v in values)  # PostgreSQL stores no NUL in text
    assert len(inbound.user_id.encode()) <= MAX_USERID_BYTES
    assert (inbound.user_id, inbound.msg_id, inbound.chat_id) == (user, msgid, chat or None)
    assert inbound.kind is Kind.TEXT and content.strip().endswith(
        inbound.text
    )  # the leading @mention is dropped
    assert inbound.dedup_key.startswith("aibot:msg:") and len(inbound.dedup_key) <= 255


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
