"""Rendering Replies into WeCom JSON and passive-reply XML: shapes, limits, polite truncation."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.replies import (
    Button,
    CardUpdate,
    File,
    GroupText,
    Image,
    Markdown,
    Option,
    Select,
    TemplateCard,
    Text,
)
from bot.wecom.outbound import (
    render_app_message,
    render_card_update,
    render_group_message,
    render_passive_reply,
    render_passive_text,
    render_template_card,
    truncate_bytes,
)

BUTTON_CARD = TemplateCard(
    card_type="button_interaction",
    title="诉求 Z2026-0001 待受理",
    desc="县发改局",
    task_id="complaint-1_accept@v1",
    emphasis=("3", "个工作日内答复"),
    quote="企业反映：用电报装排队时间过长。",
    sub_title="请在 3 个工作日内受理",
    fields=(("企业", "某某科技有限公司"), ("联系人", "张三")),
    buttons=(Button("受理", "complaint:accept:1"), Button("转办", "complaint:forward:1", style=2)),
    url="https://example.gov.cn/c/1",
    replace_text="已处理",
)


def card(**changes: object) -> TemplateCard:
    """BUTTON_CARD with some fields changed."""
    return replace(BUTTON_CARD, **changes)  # type: ignore[arg-type]


# ---------------------------------------------------------------- app messages


def test_text_message_has_envelope_and_server_side_dedup() -> None:
    body = render_app_message(
        Text("您好，诉求已收到。"), "zhangsan|lisi", 1000002, duplicate_check_seconds=600
    )
    assert body == {
        "touser": "zhangsan|lisi",
        "agentid": 1000002,
        "safe": 0,
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 600,
        "msgtype": "text",
        "text": {"content": "您好，诉求已收到。"},
    }


def test_markdown_image_file_and_card_msgtypes() -> None:
    assert render_app_message(Markdown("**加粗**"), "u", 1)["markdown"] == {"content": "**加粗**"}
    assert render_app_message(Image(media_id="m1"), "u", 1)["image"] == {"media_id": "m1"}
    assert render_app_message(File(media_id="m2"), "u", 1)["file"] == {"media_id": "m2"}
    body = render_app_message(BUTTON_CARD, "u", 1)
    assert body["msgtype"] == "template_card"
    assert body["template_card"]["task_id"] == "complaint-1_accept@v1"
    assert body["enable_duplicate_check"] == 1


def test_media_without_media_id_must_be_uploaded_first() -> None:
    with pytest.raises(ValueError, match="upload"):
        render_app_message(File(path="/tmp/export.xlsx"), "u", 1)


@pytest.mark.parametrize("reply", [CardUpdate("rc", replace_name="已受理"), GroupText("k", "x")])
def test_non_app_replies_are_refused(reply: CardUpdate | GroupText) -> None:
    with pytest.raises(ValueError, match="not an app message"):
        render_app_message(reply, "u", 1)


def test_envelope_limits() -> None:
    with pytest.raises(ValueError, match="14400"):
        render_app_message(Text("x"), "u", 1, duplicate_check_seconds=5 * 3600)
    with pytest.raises(ValueError, match="1000 ids"):
        render_app_message(Text("x"), "|".join(f"u{i}" for i in range(1001)), 1)
    with pytest.raises(ValueError, match="at least one"):
        render_app_message(Text("x"), "", 1)


def test_long_text_is_cut_to_2048_bytes_not_refused() -> None:
    content = render_app_message(Text("政" * 1000), "u", 1)["text"]["content"]
    assert len(content.encode()) <= 2048
    assert content.endswith("…")


@given(st.text(), st.integers(min_value=4, max_value=300))
def test_truncate_bytes_keeps_valid_utf8_within_limit(text: str, limit: int) -> None:
    cut = truncate_bytes(text, limit)
    assert len(cut.encode("utf-8")) <= limit
    assert cut == text or (cut.endswith("…") and text.startswith(cut[:-1]))


# ---------------------------------------------------------------- template cards


def test_button_card_maps_every_field() -> None:
    out = render_template_card(BUTTON_CARD)
    assert out["card_type"] == "button_interaction"
    assert out["source"] == {"desc": "政企直通车", "desc_color": 0}
    assert out["main_title"] == {"title": "诉求 Z2026-0001 待受理", "desc": "县发改局"}
    assert out["quote_area"] == {"type": 0, "quote_text": "企业反映：用电报装排队时间过长。"}
    assert out["sub_title_text"] == "请在 3 个工作日内受理"
    assert out["horizontal_content_list"] == [
        {"keyname": "企业", "value": "某某科技有限公司"},
        {"keyname": "联系人", "value": "张三"},
    ]
    assert out["button_list"] == [
        {"text": "受理", "style": 1, "key": "complaint:accept:1"},
        {"text": "转办", "style": 2, "key": "complaint:forward:1"},
    ]
    assert out["card_action"] == {"type": 1, "url": "https://example.gov.cn/c/1"}
    assert out["replace_text"] == "已处理"
    assert "emphasis_content" not in out  # only notice cards show the big figure


def test_text_notice_has_emphasis_and_required_card_action() -> None:
    out = render_template_card(card(card_type="text_notice", task_id=None, buttons=(), replace_text=None))
    assert out["emphasis_content"] == {"title": "3", "desc": "个工作日内答复"}
    assert out["card_action"]["type"] == 1
    assert "task_id" not in out and "button_list" not in out and "replace_text" not in out


def test_news_notice_has_card_image() -> None:
    out = render_template_card(card(card_type="news_notice", image_url="https://example.gov.cn/p.png"))
    assert out["card_image"] == {"url": "https://example.gov.cn/p.png"}


def test_vote_card_has_checkbox_and_submit_button() -> None:
    vote = card(
        card_type="vote_interaction",
        buttons=(),
        question_key="satisfaction",
        options=(Option("1", "满意", checked=True), Option("2", "不满意")),
        multi=False,
        submit_key="complaint:rate:1",
    )
    out = render_template_card(vote)
    assert out["checkbox"] == {
        "question_key": "satisfaction",
        "option_list": [
            {"id": "1", "text": "满意", "is_checked": True},
            {"id": "2", "text": "不满意", "is_checked": False},
        ],
        "mode": 0,
    }
    assert out["submit_button"] == {"text": "提交", "key": "complaint:rate:1"}
    assert render_template_card(replace(vote, multi=True))["checkbox"]["mode"] == 1


def test_multiple_card_has_select_list() -> None:
    select = Select("dept", "承办部门", (Option("fgj", "发改局"), Option("zjj", "住建局")), selected_id="zjj")
    out = render_template_card(
        card(card_type="multiple_interaction", buttons=(), selects=(select,), submit_key="complaint:assign:1")
    )
    assert out["select_list"] == [
        {
            "question_key": "dept",
            "title": "承办部门",
            "selected_id": "zjj",
            "option_list": [{"id": "fgj", "text": "发改局"}, {"id": "zjj", "text": "住建局"}],
        }
    ]
    assert out["submit_button"]["key"] == "complaint:assign:1"


def test_long_title_and_desc_are_truncated_not_refused() -> None:
    out = render_template_card(card(title="标" * 50, desc="述" * 60, sub_title="文" * 200))
    assert out["main_title"]["title"] == "标" * 35 + "…"
    assert out["main_title"]["desc"] == "述" * 43 + "…"
    assert len(out["sub_title_text"]) == 160


def test_text_notice_may_have_sub_title_instead_of_title() -> None:
    out = render_template_card(card(card_type="text_notice", title="", desc="", sub_title="只有正文"))
    assert "main_title" not in out


def _options(n: int) -> tuple[Option, ...]:
    return tuple(Option(str(i), f"选项{i}") for i in range(n))


LIMIT_CASES = [
    (card(task_id=None), "task_id is required"),
    (card(task_id="诉求-1"), r"\[0-9A-Za-z_-@\]"),
    (card(task_id="t" * 129), "128 bytes"),
    (card(buttons=tuple(Button(str(i), f"k{i}") for i in range(7))), "6 buttons"),
    (card(buttons=(Button("x", "k" * 1025),)), "1024 bytes"),
    (card(buttons=(Button("a", "same"), Button("b", "same"))), "unique"),
    (card(buttons=()), "at least one button"),
    (card(buttons=(Button("x", "k", style=9),)), "style"),
    (card(fields=tuple((f"k{i}", "v") for i in range(7))), "6 items"),
    (
        card(card_type="vote_interaction", question_key="q", options=_options(21), submit_key="s"),
        "20 options",
    ),
    (
        card(card_type="vote_interaction", question_key=None, options=_options(2), submit_key="s"),
        "question_key",
    ),
    (card(card_type="vote_interaction", question_key="q", options=_options(2)), "submit_key"),
    (
        card(
            card_type="multiple_interaction",
            selects=tuple(Select(f"q{i}", "t", _options(2)) for i in range(4)),
        ),
        "1..3 selects",
    ),
    (
        card(card_type="multiple_interaction", selects=(Select("q", "t", _options(11)),), submit_key="s"),
        "10 options",
    ),
    (card(card_type="text_notice", url=None), "card_action is required"),
    (card(card_type="news_notice", image_url=None), "image_url"),
    (card(card_type="poll"), "card_type"),
    (card(title=""), "title is required"),
]


@pytest.mark.parametrize(("bad", "limit"), LIMIT_CASES)
def test_card_limits_raise_naming_the_limit(bad: TemplateCard, limit: str) -> None:
    with pytest.raises(ValueError, match=limit):
        render_template_card(bad)


# ---------------------------------------------------------------- card updates


def test_card_update_relabels_button() -> None:
    body = render_card_update(CardUpdate("rc-1", replace_name="已受理"), 1000002, ["zhangsan"])
    assert body == {
        "userids": ["zhangsan"],
        "agentid": 1000002,
        "response_code": "rc-1",
        "button": {"replace_name": "已受理"},
    }


def test_card_update_replaces_card() -> None:
    new = card(card_type="text_notice", task_id=None, buttons=())
    body = render_card_update(CardUpdate("rc-1", card=new), 1, ["u"])
    assert body["template_card"]["card_type"] == "text_notice"
    assert "button" not in body


@pytest.mark.parametrize(
    "update",
    [
        CardUpdate("rc"),
        CardUpdate("rc", card=BUTTON_CARD, replace_name="x"),
        CardUpdate("", replace_name="x"),
    ],
)
def test_card_update_needs_exactly_one_change_and_a_code(update: CardUpdate) -> None:
    with pytest.raises(ValueError):
        render_card_update(update, 1, ["u"])


# ---------------------------------------------------------------- 群机器人


def test_group_text_mentions() -> None:
    body = render_group_message(GroupText("key", "请及时处理", mentioned=("zhangsan", "@all")))
    assert body == {
        "msgtype": "text",
        "text": {"content": "请及时处理", "mentioned_list": ["zhangsan", "@all"]},
    }


def test_group_markdown_keeps_mentions_in_content() -> None:
    body = render_group_message(GroupText("key", "# 日报", mentioned=("zhangsan",), markdown=True))
    assert body == {"msgtype": "markdown", "markdown": {"content": "# 日报\n<@zhangsan>"}}


def test_group_pushes_are_cut_never_refused() -> None:
    text = render_group_message(GroupText("k", "县" * 2000))["text"]["content"]
    markdown = render_group_message(GroupText("k", "县" * 2000, mentioned=("a",), markdown=True))
    assert len(text.encode()) <= 2048 and text.endswith("…")
    content = markdown["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith("…\n<@a>")


# ---------------------------------------------------------------- passive replies


def test_passive_text_xml() -> None:
    xml = render_passive_text("已收到 ]]> <b>&", "zhangsan", "ww123", 1700000000)
    root = ET.fromstring(xml)
    assert root.findtext("ToUserName") == "zhangsan"
    assert root.findtext("FromUserName") == "ww123"
    assert root.findtext("CreateTime") == "1700000000"
    assert root.findtext("MsgType") == "text"
    assert root.findtext("Content") == "已收到 ]]> <b>&"


def test_passive_text_drops_characters_xml_forbids() -> None:
    root = ET.fromstring(render_passive_text("a\x00b\x1fc\nd", "u", "c", 1))
    assert root.findtext("Content") == "abc\nd"


def test_passive_reply_kinds() -> None:
    text = render_passive_reply(Text("好的"), "u", "c", 1)
    assert text is not None and ET.fromstring(text).findtext("Content") == "好的"
    md = render_passive_reply(
        Markdown('## 标题\n**重要** <font color="warning">超期</font> [详情](https://x.cn/1)'), "u", "c", 1
    )
    assert md is not None
    assert ET.fromstring(md).findtext("Content") == "标题\n重要 超期 详情 https://x.cn/1"
    assert render_passive_reply(BUTTON_CARD, "u", "c", 1) is None
    assert render_passive_reply(Image(media_id="m"), "u", "c", 1) is None
