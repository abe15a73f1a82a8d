"""Rendering the 智能机器人's replies: the passive stream (or welcome) and the response_url answer."""

from __future__ import annotations

import json

from bot.replies import BotAnswer, Button, Markdown, TemplateCard, Text, reply_from_dict, reply_to_dict
from bot.wecom.outbound import AIBOT_MARKDOWN_BYTES, render_aibot_passive, render_bot_answer

URL = "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC"


def test_a_text_is_a_finished_stream():
    plain = render_aibot_passive(Text("您好，张伟"), "sid1")
    assert plain is not None and "您好" in plain  # UTF-8, not \\u escapes
    stream = {"id": "sid1", "finish": True, "content": "您好，张伟"}
    assert json.loads(plain) == {"msgtype": "stream", "stream": stream}


def test_markdown_streams_as_it_is_and_a_long_text_is_cut():
    assert json.loads(render_aibot_passive(Markdown("**粗**"), "s") or "")["stream"]["content"] == "**粗**"
    content = json.loads(render_aibot_passive(Text("字" * 3000), "s") or "")["stream"]["content"]
    assert len(content.encode()) <= AIBOT_MARKDOWN_BYTES and content.endswith("…")


def test_the_enter_chat_welcome_is_plain_text():
    plain = render_aibot_passive(Markdown("**欢迎**使用"), "s", welcome=True)
    assert json.loads(plain or "") == {"msgtype": "text", "text": {"content": "欢迎使用"}}


def test_a_card_has_no_passive_form():
    card = TemplateCard("button_interaction", "t", task_id="t1", buttons=(Button("a", "k"),))
    assert render_aibot_passive(card, "s") is None


def test_the_answer_is_one_markdown_message_within_the_limit():
    answer = BotAnswer(URL, "字" * 2000, "u", 0)
    body = render_bot_answer(answer)
    assert body["msgtype"] == "markdown" and len(body["markdown"]["content"].encode()) <= AIBOT_MARKDOWN_BYTES


def test_an_answer_round_trips_through_the_outbox_row_and_hides_its_url():
    answer = BotAnswer(URL, "好", "u", 17)
    assert reply_from_dict(json.loads(json.dumps(reply_to_dict(answer)))) == answer
    assert "RC" not in repr(answer)
