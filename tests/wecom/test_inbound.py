"""Decrypted WeCom payloads → Inbound: kinds, fields, dedup keys, and refusal of bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.messages import Channel, Inbound, Kind, SelectedItem
from bot.wecom.crypto import CallbackCrypto
from bot.wecom.inbound import MalformedMessage, parse_aibot_message, parse_app_message

FUZZ = settings(max_examples=300, deadline=None, database=None)
RECEIVED = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)


def app_xml(**fields: str) -> str:
    """A decrypted app callback with the given top-level fields, in order."""
    body = "".join(f"<{name}><![CDATA[{value}]]></{name}>" for name, value in fields.items())
    return f"<xml>{body}</xml>"


BASE = {"ToUserName": "ww1436e0e65a779aee", "FromUserName": "zhangsan", "CreateTime": "1764000000"}


def message(msg_type: str, **fields: str) -> str:
    return app_xml(**BASE, MsgType=msg_type, **fields, AgentID="1000002")


def event(name: str, **fields: str) -> str:
    return app_xml(**BASE, MsgType="event", Event=name, **fields, AgentID="1000002")


def malformed(xml: str) -> str:
    with pytest.raises(MalformedMessage) as excinfo:
        parse_app_message(xml)
    return excinfo.value.reason


# -- messages ---------------------------------------------------------------------------------


def test_official_sample_plaintext_with_numeric_msgid() -> None:
    # The plaintext of Tencent's weworkapi_python callback/Sample.py vector.
    xml = (
        "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
        "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
        "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
    )
    inbound = parse_app_message(xml)
    assert inbound.channel is Channel.WECOM_APP
    assert inbound.kind is Kind.TEXT
    assert inbound.user_id == "ChenJiaShun"
    assert inbound.text == "你好"
    assert inbound.msg_id == "1456453720"
    assert inbound.msg_type == "text"
    assert inbound.agent_id == "1000002"
    assert inbound.dedup_key == "wecom:msg:1456453720"
    assert inbound.created_at == datetime(2016, 10, 14, 5, 26, 19, tzinfo=UTC)
    assert inbound.created_at.tzinfo is UTC
    assert inbound.extra == {"ToUserName": "ww1436e0e65a779aee"}


def test_string_msgid_is_kept_as_text() -> None:
    inbound = parse_app_message(
        message("text", Content="我要反映问题", MsgId="CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw==")
    )
    assert inbound.msg_id == "CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw=="
    assert inbound.dedup_key == "wecom:msg:CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw=="


def test_text_is_stripped_of_surrounding_whitespace() -> None:
    inbound = parse_app_message(message("text", Content="\n  诉求 停电三天  \t\n", MsgId="1"))
    assert inbound.text == "诉求 停电三天"


def test_text_without_content_is_empty() -> None:
    assert parse_app_message(message("text", MsgId="1")).text == ""


def test_image() -> None:
    inbound = parse_app_message(
        message("image", PicUrl="https://wework.qpic.cn/x.jpg", MediaId="MEDIA_1", MsgId="1234567890123456")
    )
    assert inbound.kind is Kind.IMAGE
    assert inbound.pic_url == "https://wework.qpic.cn/x.jpg"
    assert inbound.media_id == "MEDIA_1"
    assert inbound.text == ""
    assert inbound.dedup_key == "wecom:msg:1234567890123456"


@pytest.mark.parametrize(
    "msg_type", ["voice", "video", "location", "link", "file", "shortvideo", "新类型", "TEXT"]
)
def test_other_and_unknown_types_are_unsupported(msg_type: str) -> None:
    inbound = parse_app_message(message(msg_type, MediaId="M", MsgId="9"))
    assert inbound.kind is Kind.UNSUPPORTED
    assert inbound.msg_type == msg_type
    assert inbound.media_id == "M"
    assert inbound.text == ""


def test_unknown_fields_go_to_extra_and_nested_ones_as_xml() -> None:
    xml = message("location", Location_X="23.13", Label="广州", MsgId="7").replace(
        "</xml>", "<ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo></xml>"
    )
    inbound = parse_app_message(xml)
    assert inbound.extra["Location_X"] == "23.13"
    assert inbound.extra["Label"] == "广州"
    assert inbound.extra["ToUserName"] == "ww1436e0e65a779aee"
    assert inbound.extra["ScanCodeInfo"] == "<ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo>"
    assert "FromUserName" not in inbound.extra
    assert "MsgId" not in inbound.extra


def test_message_without_msgid_gets_a_content_based_key() -> None:
    first = parse_app_message(message("text", Content="一"))
    second = parse_app_message(message("text", Content="二"))
    assert first.dedup_key.startswith("wecom:nomsgid:zhangsan:1764000000:text:")
    assert first.dedup_key != second.dedup_key
    assert first.dedup_key == parse_app_message(message("text", Content="一")).dedup_key


# -- events -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["subscribe", "enter_agent", "unsubscribe"])
def test_plain_events(name: str) -> None:
    inbound = parse_app_message(event(name, EventKey=""))
    assert inbound.kind is Kind.EVENT
    assert inbound.event == name
    assert inbound.event_key is None
    assert inbound.msg_id is None
    assert inbound.dedup_key == f"wecom:evt:zhangsan:1764000000:{name}::"


def test_menu_click_event_keeps_its_key() -> None:
    inbound = parse_app_message(event("click", EventKey="menu_complaint"))
    assert inbound.kind is Kind.EVENT
    assert inbound.event_key == "menu_complaint"
    assert inbound.dedup_key == "wecom:evt:zhangsan:1764000000:click:menu_complaint:"


def test_event_without_event_field_is_still_an_event() -> None:
    inbound = parse_app_message(message("event"))
    assert inbound.kind is Kind.EVENT
    assert inbound.event is None


def test_button_interaction_click() -> None:
    inbound = parse_app_message(
        event(
            "template_card_event",
            EventKey="accept",
            TaskId="complaint-42-v1",
            CardType="button_interaction",
            ResponseCode="RESPONSE_CODE_1",
        )
    )
    assert inbound.kind is Kind.CARD_CLICK
    assert inbound.event == "template_card_event"
    assert inbound.event_key == "accept"
    assert inbound.task_id == "complaint-42-v1"
    assert inbound.card_type == "button_interaction"
    assert inbound.response_code == "RESPONSE_CODE_1"
    assert inbound.selected == ()
    assert inbound.agent_id == "1000002"
    assert inbound.dedup_key == "wecom:evt:zhangsan:1764000000:template_card_event:accept:complaint-42-v1"
    assert "ResponseCode" not in inbound.extra


def selected_xml(items: list[tuple[str, list[str]]]) -> str:
    parts = []
    for key, options in items:
        ids = "".join(f"<OptionId><![CDATA[{option}]]></OptionId>" for option in options)
        parts.append(
            f"<SelectedItem><QuestionKey><![CDATA[{key}]]></QuestionKey><OptionIds>{ids}</OptionIds></SelectedItem>"
        )
    return "<SelectedItems>\n    " + "\n    ".join(parts) + "\n</SelectedItems>"


def card_event_with(items: list[tuple[str, list[str]]], card_type: str = "vote_interaction") -> str:
    xml = event(
        "template_card_event", EventKey="submit", TaskId="survey-7", CardType=card_type, ResponseCode="RC"
    )
    return xml.replace("</xml>", selected_xml(items) + "</xml>")


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([("q1", ["yes"])], (SelectedItem("q1", ("yes",)),)),
        ([("q1", ["a", "b", "c"])], (SelectedItem("q1", ("a", "b", "c")),)),
        (
            [("q1", ["a"]), ("q2", ["b", "c"]), ("q3", [])],
            (SelectedItem("q1", ("a",)), SelectedItem("q2", ("b", "c")), SelectedItem("q3", ())),
        ),
    ],
    ids=["one-item-one-option", "one-item-many-options", "many-items"],
)
def test_vote_and_multiple_interaction_selected_items(
    items: list[tuple[str, list[str]]], expected: tuple[SelectedItem, ...]
) -> None:
    inbound = parse_app_message(card_event_with(items, "multiple_interaction"))
    assert inbound.kind is Kind.CARD_CLICK
    assert inbound.card_type == "multiple_interaction"
    assert inbound.selected == expected
    assert "SelectedItems" not in inbound.extra


def test_documented_template_card_event_example() -> None:
    # The example from the 模板卡片事件推送 docs (path 90240), whitespace and all.
    xml = """<xml>
<ToUserName><![CDATA[toUser]]></ToUserName>
<FromUserName><![CDATA[FromUser]]></FromUserName>
<CreateTime>123456789</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[template_card_event]]></Event>
<EventKey><![CDATA[key111]]></EventKey>
<TaskId><![CDATA[taskid111]]></TaskId>
<CardType><![CDATA[text_notice]]></CardType>
<ResponseCode><![CDATA[ResponseCode]]></ResponseCode>
<AgentID>1</AgentID>
<SelectedItems>
    <SelectedItem>
        <QuestionKey><![CDATA[QuestionKey1]]></QuestionKey>
        <OptionIds>
            <OptionId><![CDATA[OptionId1]]></OptionId>
            <OptionId><![CDATA[OptionId2]]></OptionId>
        </OptionIds>
    </SelectedItem>
    <SelectedItem>
        <QuestionKey><![CDATA[QuestionKey2]]></QuestionKey>
        <OptionIds>
            <OptionId><![CDATA[OptionId3]]></OptionId>
            <OptionId><![CDATA[OptionId4]]></OptionId>
        </OptionIds>
    </SelectedItem>
</SelectedItems>
</xml>"""
    inbound = parse_app_message(xml)
    assert inbound.selected == (
        SelectedItem("QuestionKey1", ("OptionId1", "OptionId2")),
        SelectedItem("QuestionKey2", ("OptionId3", "OptionId4")),
    )
    assert inbound.created_at == datetime(1973, 11, 29, 21, 33, 9, tzinfo=UTC)


def test_selected_item_without_question_key_is_malformed() -> None:
    xml = card_event_with([("q1", ["a"])]).replace("<QuestionKey><![CDATA[q1]]></QuestionKey>", "")
    assert malformed(xml) == "SelectedItem without QuestionKey"


def test_two_clicks_in_the_same_second_get_different_keys() -> None:
    click = {"TaskId": "complaint-42-v1", "CardType": "button_interaction"}
    accept = parse_app_message(event("template_card_event", EventKey="accept", **click))
    reject = parse_app_message(event("template_card_event", EventKey="reject", **click))
    other_card = parse_app_message(event("template_card_event", EventKey="accept", TaskId="complaint-43-v1"))
    assert len({accept.dedup_key, reject.dedup_key, other_card.dedup_key}) == 3


def test_the_same_xml_gives_the_same_key() -> None:
    xml = card_event_with([("q1", ["a", "b"])])
    assert parse_app_message(xml).dedup_key == parse_app_message(xml).dedup_key
    assert parse_app_message(xml) == parse_app_message(xml)


def test_long_event_keys_are_capped_stably() -> None:
    first = parse_app_message(event("template_card_event", EventKey="k" * 1000, TaskId="t"))
    second = parse_app_message(event("template_card_event", EventKey="k" * 999 + "j", TaskId="t"))
    assert len(first.dedup_key) == 255
    assert first.dedup_key.startswith("wecom:evt:zhangsan:1764000000:template_card_event:kkk")
    assert (
        first.dedup_key
        == parse_app_message(event("template_card_event", EventKey="k" * 1000, TaskId="t")).dedup_key
    )
    assert first.dedup_key != second.dedup_key


def test_inbound_survives_to_dict_and_back() -> None:
    inbound = parse_app_message(card_event_with([("q1", ["a"]), ("q2", ["b", "c"])]))
    assert Inbound.from_dict(json.loads(json.dumps(inbound.to_dict()))) == inbound


# -- malformed app callbacks ------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["FromUserName", "CreateTime", "MsgType"])
def test_missing_required_fields(missing: str) -> None:
    fields = {**BASE, "MsgType": "text", "Content": "hi", "MsgId": "1"}
    del fields[missing]
    assert malformed(app_xml(**fields)) == f"missing {missing}"


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_required_fields(value: str) -> None:
    assert malformed(app_xml(**{**BASE, "FromUserName": value}, MsgType="text")) == "missing FromUserName"


@pytest.mark.parametrize(
    "created", ["abc", "-5", "1.5", "1e9", "١٢٣", "²", "1_000", "99999999999999", "0x10"]
)
def test_non_integer_create_time(created: str) -> None:
    assert malformed(app_xml(**{**BASE, "CreateTime": created}, MsgType="text")) == "bad create time"


@pytest.mark.parametrize(
    "xml",
    [
        "",
        "not xml",
        "<xml>",
        '{"msgtype": "text"}',
        "<notxml><FromUserName>a</FromUserName></notxml>",
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml>&e;</xml>',
        '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        "<xml><Content>&b;</Content></xml>",
        "<xml>\ud800</xml>",
        "<xml>\x00</xml>",
    ],
)
def test_not_xml(xml: str) -> None:
    assert malformed(xml) == "not xml"


def test_duplicate_fields_are_malformed() -> None:
    xml = message("text", Content="a", MsgId="1").replace("</xml>", "<MsgId>2</MsgId></xml>")
    assert malformed(xml) == "duplicate MsgId"


def test_content_over_8kb() -> None:
    assert parse_app_message(message("text", Content="字" * 2730, MsgId="1")).text  # 8190 bytes
    assert malformed(message("text", Content="字" * 2731, MsgId="1")) == "Content too large"


def test_any_field_over_16kb() -> None:
    assert parse_app_message(message("event", EventKey="k" * 16384)).event_key
    assert malformed(message("event", EventKey="k" * 16385)) == "EventKey too large"
    assert malformed(message("text", Unknown="u" * 16385)) == "Unknown too large"


def test_oversized_payload() -> None:
    assert malformed("<xml>" + " " * (256 * 1024) + "</xml>") == "not xml"


def test_non_string_input() -> None:
    assert malformed(b"<xml/>") == "not xml"  # type: ignore[arg-type]


# -- end to end through the crypto ------------------------------------------------------------


def test_platform_body_decrypts_and_parses() -> None:
    crypto = CallbackCrypto("token", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "ww1436e0e65a779aee")
    plain = card_event_with([("q1", ["a"])])
    body, params = crypto.build_callback_body(plain, "123", "1764000000", "ww1436e0e65a779aee", 1000002)
    inbound = parse_app_message(crypto.decrypt_xml_body(body, **params))
    assert inbound.kind is Kind.CARD_CLICK
    assert inbound.selected == (SelectedItem("q1", ("a",)),)


# -- 智能机器人 (AI bot) JSON callbacks -------------------------------------------------------


def aibot(**overrides: Any) -> str:
    payload: dict[str, Any] = {
        "msgid": "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=",
        "aibotid": "AIBOTID",
        "chatid": "CHATID",
        "chattype": "group",
        "from": {"userid": "lisi"},
        "response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC",
        "msgtype": "text",
        "text": {"content": "@政企直通车 我要反映问题"},
    }
    payload.update(overrides)
    return json.dumps({k: v for k, v in payload.items() if v is not None}, ensure_ascii=False)


def aibot_malformed(json_text: str) -> str:
    with pytest.raises(MalformedMessage) as excinfo:
        parse_aibot_message(json_text, RECEIVED)
    return excinfo.value.reason


def test_aibot_group_text_strips_the_mention() -> None:
    inbound = parse_aibot_message(aibot(), RECEIVED)
    assert inbound.channel is Channel.WECOM_AIBOT
    assert inbound.kind is Kind.TEXT
    assert inbound.text == "我要反映问题"
    assert inbound.user_id == "lisi"
    assert inbound.chat_id == "CHATID"
    assert inbound.chat_type == "group"
    assert inbound.response_url == "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC"
    assert inbound.msg_id == "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI="
    assert inbound.dedup_key == "aibot:msg:CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI="
    assert inbound.created_at == RECEIVED
    assert inbound.extra == {"aibotid": "AIBOTID"}


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("@政企直通车\u2005查询政策", "查询政策"),  # WeCom puts U+2005 after a mention
        ("@Bot  \n 进度", "进度"),
        ("  @Bot hello @someone", "hello @someone"),
        ("@Bot", ""),
        ("没有提及", "没有提及"),
        ("email@example.com 你好", "email@example.com 你好"),
    ],
)
def test_aibot_mention_stripping(content: str, text: str) -> None:
    assert parse_aibot_message(aibot(text={"content": content}), RECEIVED).text == text


def test_aibot_single_chat_and_create_time() -> None:
    inbound = parse_aibot_message(aibot(chattype="single", chatid=None, create_time=1700000000), RECEIVED)
    assert inbound.chat_type == "single"
    assert inbound.chat_id is None
    assert inbound.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_aibot_received_at_is_normalised_to_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    inbound = parse_aibot_message(aibot(), datetime(2026, 11, 24, 9, 30, tzinfo=beijing))
    assert inbound.created_at == RECEIVED
    assert inbound.created_at.tzinfo is UTC


def test_aibot_naive_received_at_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_aibot_message(aibot(), datetime(2026, 11, 24, 9, 30))


def test_aibot_image() -> None:
    inbound = parse_aibot_message(aibot(msgtype="image", text=None, image={"url": "https://x/img"}), RECEIVED)
    assert inbound.kind is Kind.IMAGE
    assert inbound.pic_url == "https://x/img"


def test_aibot_mixed() -> None:
    mixed = {
        "msg_item": [
            {"msgtype": "text", "text": {"content": "@政企直通车 现场照片"}},
            {"msgtype": "image", "image": {"url": "https://x/1"}},
            {"msgtype": "text", "text": {"content": "请处理"}},
        ]
    }
    inbound = parse_aibot_message(aibot(msgtype="mixed", text=None, mixed=mixed), RECEIVED)
    assert inbound.kind is Kind.TEXT
    assert inbound.text == "现场照片\n请处理"
    assert inbound.pic_url == "https://x/1"


def test_aibot_mixed_images_only_and_as_json_string() -> None:
    mixed = json.dumps({"msg_item": {"msgtype": "image", "image": {"url": "https://x/2"}}})
    inbound = parse_aibot_message(aibot(msgtype="mixed", text=None, mixed=mixed), RECEIVED)
    assert inbound.kind is Kind.IMAGE
    assert inbound.pic_url == "https://x/2"


def test_aibot_enter_chat_event() -> None:
    inbound = parse_aibot_message(
        aibot(msgtype="event", text=None, create_time=1700000000, event={"eventtype": "enter_chat"}), RECEIVED
    )
    assert inbound.kind is Kind.EVENT
    assert inbound.event == "enter_chat"


def test_aibot_template_card_event() -> None:
    card = {
        "card_type": "vote_interaction",
        "event_key": "submit",
        "task_id": "survey-7",
        "selected_items": {"selected_item": {"question_key": "q1", "option_ids": {"option_id": "a"}}},
    }
    payload = aibot(
        msgtype="event", text=None, event={"eventtype": "template_card_event", "template_card_event": card}
    )
    inbound = parse_aibot_message(payload, RECEIVED)
    assert inbound.kind is Kind.CARD_CLICK
    assert (inbound.event_key, inbound.task_id, inbound.card_type) == (
        "submit",
        "survey-7",
        "vote_interaction",
    )
    assert inbound.selected == (SelectedItem("q1", ("a",)),)


def test_aibot_selected_items_as_lists() -> None:
    card = {"selected_items": [{"question_key": "q1", "option_ids": ["a", "b"]}, {"question_key": "q2"}]}
    payload = aibot(
        msgtype="event", text=None, event={"eventtype": "template_card_event", "template_card_event": card}
    )
    assert parse_aibot_message(payload, RECEIVED).selected == (
        SelectedItem("q1", ("a", "b")),
        SelectedItem("q2", ()),
    )


def test_aibot_stream_refresh() -> None:
    inbound = parse_aibot_message(aibot(msgtype="stream", text=None, stream={"id": "STREAMID"}), RECEIVED)
    assert inbound.kind is Kind.EVENT
    assert (inbound.event, inbound.event_key) == ("stream", "STREAMID")


@pytest.mark.parametrize("msg_type", ["voice", "file", "video", "something_new"])
def test_aibot_unsupported(msg_type: str) -> None:
    assert parse_aibot_message(aibot(msgtype=msg_type, text=None), RECEIVED).kind is Kind.UNSUPPORTED


def test_aibot_extra_keeps_unmapped_fields_as_text() -> None:
    quote = {"msgtype": "text", "text": {"content": "原消息"}}
    inbound = parse_aibot_message(aibot(quote=quote), RECEIVED)
    assert json.loads(inbound.extra["quote"]) == quote


def test_aibot_end_to_end_through_crypto() -> None:
    crypto = CallbackCrypto("token", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "")
    body, params = crypto.build_json_callback_body(aibot(), "n", "1700000000")
    inbound = parse_aibot_message(crypto.decrypt_json_body(body, **params), RECEIVED)
    assert inbound.text == "我要反映问题"


@pytest.mark.parametrize(
    ("json_text", "reason"),
    [
        ("", "not json"),
        ("<xml/>", "not json"),
        ("[]", "not a json object"),
        ("null", "not a json object"),
        ("[" * 50_000 + "]" * 50_000, "not json"),
        (aibot(msgid=None), "missing msgid"),
        (aibot(msgid=""), "missing msgid"),
        (aibot(msgid={"a": 1}), "bad msgid"),
        (aibot(msgid=True), "bad msgid"),
        (aibot(msgtype=None), "missing msgtype"),
        (aibot(**{"from": None}), "missing from"),
        (aibot(**{"from": "lisi"}), "missing from"),
        (aibot(**{"from": {}}), "missing userid"),
        (aibot(text="hello"), "bad text"),
        (aibot(text={"content": ["a"]}), "bad content"),
        (aibot(text={"content": "字" * 2731}), "content too large"),
        (aibot(aibotid="a" * 16385), "aibotid too large"),
        (aibot(create_time="yesterday"), "bad create time"),
        (aibot(create_time=1.5), "bad create_time"),
        (aibot(msgtype="mixed", mixed=[1]), "bad mixed"),
        (aibot(msgtype="mixed", mixed={"msg_item": [1]}), "bad msg_item"),
        (
            aibot(msgtype="event", event={"eventtype": "template_card_event", "template_card_event": []}),
            "bad template_card_event",
        ),
        (
            aibot(
                msgtype="event",
                event={
                    "eventtype": "template_card_event",
                    "template_card_event": {"selected_items": [{"x": 1}]},
                },
            ),
            "missing question_key",
        ),
        ('{"msgid": "\\ud800", "from": {"userid": "u"}, "msgtype": "text"}', "invalid unicode"),
        ('{"n": ' + "9" * 5000 + "}", "not json"),
    ],
)
def test_aibot_malformed(json_text: str, reason: str) -> None:
    assert aibot_malformed(json_text) == reason


# -- properties: nothing but MalformedMessage, ever -------------------------------------------


def parses_or_is_malformed(call: Any, *args: Any) -> None:
    try:
        inbound = call(*args)
    except MalformedMessage as exc:
        assert exc.reason
    else:
        assert isinstance(inbound, Inbound)
        assert len(inbound.dedup_key) <= 255
        assert inbound.created_at.tzinfo is not None


TAGS = ["FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey", "TaskId", "X"]
xml_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="<&"), max_size=20
)
element = st.builds(
    lambda tag, text: f"<{tag}>{text}</{tag}>",
    st.sampled_from(TAGS),
    st.sampled_from(["text", "event", "image", "template_card_event", "1700000000", "-1", "", " "])
    | xml_text,
)
option_ids = st.lists(xml_text, max_size=3).map(lambda ids: "".join(f"<OptionId>{i}</OptionId>" for i in ids))
selected_item = st.builds(
    lambda key, ids: f"<SelectedItem>{key}<OptionIds>{ids}</OptionIds></SelectedItem>",
    st.sampled_from(["", "<QuestionKey/>"]) | xml_text.map(lambda k: f"<QuestionKey>{k}</QuestionKey>"),
    option_ids,
)
selected = st.lists(selected_item, max_size=3).map(
    lambda items: f"<SelectedItems>{''.join(items)}</SelectedItems>"
)
xml_documents = st.builds(
    lambda msg_type, event, parts, sel: (
        "<xml><FromUserName>u</FromUserName><CreateTime>1700000000</CreateTime>"
        f"<MsgType>{msg_type}</MsgType>{event}{''.join(parts)}{sel}</xml>"
    ),
    st.sampled_from(["text", "event", "event", "image", "voice", "新"]),
    st.sampled_from(
        ["", "<Event>template_card_event</Event>", "<Event>template_card_event</Event>", "<Event/>"]
    ),
    st.dictionaries(
        st.sampled_from(["Content", "MsgId", "EventKey", "TaskId", "CardType", "X"]), xml_text
    ).map(lambda fields: [f"<{tag}>{text}</{tag}>" for tag, text in fields.items()]),
    st.just("") | selected,
)


@FUZZ
@given(
    xml=st.text(max_size=512)
    | st.lists(element, max_size=10).map(lambda parts: f"<xml>{''.join(parts)}</xml>")
)
def test_fuzz_parse_app_message_hostile(xml: str) -> None:
    parses_or_is_malformed(parse_app_message, xml)


@FUZZ
@given(xml=xml_documents)
def test_fuzz_parse_app_message_plausible(xml: str) -> None:
    parses_or_is_malformed(parse_app_message, xml)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
AIBOT_OPTIONAL = ["chatid", "chattype", "response_url", "create_time", "text", "mixed", "image", "stream"]
AIBOT_OPTIONAL += ["aibotid", "quote"]
aibot_shaped = st.fixed_dictionaries(
    {
        "msgid": st.text(alphabet="abcXYZ019/+=", min_size=1, max_size=12),
        "from": st.fixed_dictionaries({"userid": st.text(alphabet="abc", min_size=1, max_size=5)}),
        "msgtype": st.sampled_from(["text", "mixed", "image", "event", "stream", "voice"]),
    },
    optional={
        **{key: json_values for key in AIBOT_OPTIONAL},
        "event": st.fixed_dictionaries(
            {"eventtype": st.sampled_from(["template_card_event", "enter_chat"]) | json_values},
            optional={"template_card_event": json_values},
        ),
    },
).map(json.dumps)


@FUZZ
@given(json_text=st.text(max_size=512) | json_values.map(json.dumps))
def test_fuzz_parse_aibot_message_hostile(json_text: str) -> None:
    parses_or_is_malformed(parse_aibot_message, json_text, RECEIVED)


@FUZZ
@given(json_text=aibot_shaped)
def test_fuzz_parse_aibot_message_plausible(json_text: str) -> None:
    parses_or_is_malformed(parse_aibot_message, json_text, RECEIVED)
