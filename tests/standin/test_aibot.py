"""The stand-in's 智能机器人: response_urls (one post each, for an hour) and the group chat logs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from bot.replies import Button, GroupText, TemplateCard
from bot.standin.aibot import RESPONSE_URL_SECONDS
from bot.standin.api import create_standin_app, standin_state
from bot.wecom.outbound import render_group_message, render_template_card

MARKDOWN = {"msgtype": "markdown", "markdown": {"content": "**已受理**"}}


@pytest.fixture
def web() -> Iterator[FlaskClient]:
    """A test client of a fresh fake corp."""
    with create_standin_app(corp_id="wwStandinCorp", secret="s").test_client() as client:
        yield client


def issue(web: FlaskClient, chatid: str = "wrGroup1", userid: str = "zhangsan", msgid: str = "m1") -> str:
    """A response_url as WeCom would put it in a callback: its path and query on the stand-in."""
    message = {"chatid": chatid, "userid": userid, "msgid": msgid}
    answer = web.post("/_standin/aibot/response_url", json=message)
    assert answer.json is not None
    url = urlsplit(answer.json["response_url"])
    assert url.path == "/cgi-bin/aibot/response" and url.query.startswith("response_code=")
    return f"{url.path}?{url.query}"


def post(web: FlaskClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST an answer to a response_url; the JSON answer."""
    answer = web.post(url, json=body).json
    assert answer is not None
    return answer


def chats(web: FlaskClient, **query: Any) -> list[dict[str, Any]]:
    """GET /_standin/chats."""
    answer = web.get("/_standin/chats", query_string=query).json
    assert answer is not None
    return list(answer["chats"])


def test_an_answer_is_recorded_in_its_group(web):
    url = issue(web)
    assert post(web, url, MARKDOWN)["errcode"] == 0
    [entry] = chats(web, chatid="wrGroup1")
    assert entry["via"] == "response_url" and entry["msgtype"] == "markdown"
    assert entry["content"] == "**已受理**" and entry["userid"] == "zhangsan" and entry["msgid"] == "m1"
    assert chats(web, chatid="wrOther") == []


def test_a_response_url_takes_one_answer(web):
    url = issue(web)
    assert post(web, url, MARKDOWN)["errcode"] == 0
    again = post(web, url, MARKDOWN)
    assert again["errcode"] == 40058 and again["errmsg"] == "response_code already used"
    assert len(chats(web)) == 1


def test_an_unknown_or_expired_code_is_refused(web):
    unknown = post(web, "/cgi-bin/aibot/response?response_code=nope", MARKDOWN)
    assert unknown["errmsg"] == "invalid response_code"
    url = issue(web)
    state = standin_state(web.application)
    for entry in state.aibot_codes.values():
        entry["at"] -= RESPONSE_URL_SECONDS + 1
    assert post(web, url, MARKDOWN)["errmsg"] == "response_code expired"


@pytest.mark.parametrize(
    "body, errcode",
    [
        ({"msgtype": "text", "text": {"content": "x"}}, 40008),
        ({"msgtype": "markdown", "markdown": {"content": ""}}, 44004),
        ({"msgtype": "markdown", "markdown": {"content": "字" * 1366}}, 40058),  # 4098 bytes
        ({"msgtype": "markdown"}, 40058),
        ({"msgtype": "template_card", "template_card": {"card_type": "nonsense"}}, 40058),
    ],
    ids=["text", "empty", "too-long", "no-payload", "bad-card"],
)
def test_a_refused_body_does_not_use_the_code_up(web, body, errcode):
    url = issue(web)
    assert post(web, url, body)["errcode"] == errcode
    assert post(web, url, MARKDOWN)["errcode"] == 0


def test_a_card_answer_is_accepted(web):
    card = TemplateCard("button_interaction", "请确认", task_id="t1", buttons=(Button("确认", "k"),))
    url = issue(web)
    body = {"msgtype": "template_card", "template_card": render_template_card(card)}
    assert post(web, url, body)["errcode"] == 0
    assert [e["content"] for e in chats(web)] == ["请确认"]


def test_a_bound_group_robot_shows_in_the_chat_log(web):
    bound = web.post("/_standin/group_webhooks", json={"key": "k-gxj", "chatid": "wrGroup1"})
    assert bound.status_code == 200
    body = render_group_message(GroupText("k-gxj", "县工信局：今日待办 3 件"))
    assert web.post("/cgi-bin/webhook/send?key=k-gxj", json=body).json["errcode"] == 0
    assert web.post("/cgi-bin/webhook/send?key=k-unbound", json=body).json["errcode"] == 0
    post(web, issue(web), MARKDOWN)
    log = chats(web, chatid="wrGroup1")
    assert [(e["via"], e["content"]) for e in log] == [
        ("webhook", "县工信局：今日待办 3 件"),
        ("response_url", "**已受理**"),
    ]
    assert [e["seq"] for e in chats(web, since=log[0]["seq"])] == [log[1]["seq"]]


def test_binding_a_webhook_needs_both_values(web):
    assert web.post("/_standin/group_webhooks", json={"key": "k"}).status_code == 400
