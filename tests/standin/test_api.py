"""The WeCom stand-in: answers like the platform, enforces its limits, records and injects."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from bot.replies import Button, Option, Select, TemplateCard, Text
from bot.standin.api import create_standin_app, standin_state
from bot.standin.server import StandinServer
from bot.wecom.outbound import render_app_message, render_template_card

CORP, SECRET, AGENT = "wwStandinCorp", "standin-secret", 1000002


@pytest.fixture
def web() -> Iterator[FlaskClient]:
    """A test client of a fresh fake corp that knows agent 1000002."""
    app = create_standin_app(corp_id=CORP, secret=SECRET, agent_id=AGENT)
    with app.test_client() as client:
        yield client


def token(web: FlaskClient) -> str:
    """A valid access token."""
    answer = web.get("/cgi-bin/gettoken", query_string={"corpid": CORP, "corpsecret": SECRET}).json
    assert answer is not None and answer["errcode"] == 0
    return str(answer["access_token"])


def send(web: FlaskClient, body: dict[str, Any], access_token: str | None = None) -> dict[str, Any]:
    """POST message/send and return the JSON answer."""
    tok = access_token if access_token is not None else token(web)
    answer = web.post("/cgi-bin/message/send", query_string={"access_token": tok}, json=body).json
    assert answer is not None
    return answer


def text(content: str = "您好", touser: str = "zhangsan", **extra: Any) -> dict[str, Any]:
    """A text message body as the renderer makes it."""
    return {**render_app_message(Text(content), touser, AGENT), **extra}


def card_body(task_id: str = "task-1", touser: str = "zhangsan") -> dict[str, Any]:
    """A button card message body."""
    card = TemplateCard(
        "button_interaction", "诉求待受理", task_id=task_id, buttons=(Button("受理", "c:accept:1"),)
    )
    return render_app_message(card, touser, AGENT)


def inspect(web: FlaskClient, what: str, **query: Any) -> list[dict[str, Any]]:
    """GET /_standin/<what> and return its list."""
    answer = web.get(f"/_standin/{what}", query_string=query).json
    assert answer is not None
    return list(answer[what])


# ---------------------------------------------------------------- tokens


def test_gettoken_repeats_the_live_token(web: FlaskClient) -> None:
    assert token(web) == token(web)
    answer = web.get("/cgi-bin/gettoken", query_string={"corpid": CORP, "corpsecret": SECRET}).json
    assert answer is not None and 7000 < answer["expires_in"] <= 7200


@pytest.mark.parametrize(
    ("corpid", "secret", "errcode"), [(CORP, "wrong", 40001), ("wwOther", SECRET, 40013)]
)
def test_gettoken_refuses_bad_credentials(web: FlaskClient, corpid: str, secret: str, errcode: int) -> None:
    answer = web.get("/cgi-bin/gettoken", query_string={"corpid": corpid, "corpsecret": secret}).json
    assert answer is not None and answer["errcode"] == errcode


def test_token_checks(web: FlaskClient) -> None:
    assert send(web, text(), access_token="")["errcode"] == 41001
    assert send(web, text(), access_token="forged")["errcode"] == 40014
    old = token(web)
    web.post("/_standin/expire_tokens")
    assert send(web, text(), access_token=old)["errcode"] == 42001
    assert token(web) != old


# ---------------------------------------------------------------- message/send


def test_send_delivers_per_recipient(web: FlaskClient) -> None:
    answer = send(web, text(touser="zhangsan|lisi"))
    assert answer["errcode"] == 0 and answer["invaliduser"] == "" and answer["msgid"]
    delivered = inspect(web, "messages")
    assert [(m["seq"], m["touser"], m["msgtype"]) for m in delivered] == [
        (1, "zhangsan", "text"),
        (2, "lisi", "text"),
    ]
    assert delivered[0]["body"]["text"]["content"] == "您好"
    assert [m["touser"] for m in inspect(web, "messages", touser="LISI")] == ["lisi"]
    assert inspect(web, "messages", since=1) == delivered[1:]


@pytest.mark.parametrize(
    ("body", "errcode", "errmsg"),
    [
        ({**text(), "msgtype": "fax"}, 40008, "invalid message type"),
        ({**text(), "touser": ""}, 40058, "all empty"),
        ({**text(), "agentid": 999}, 40056, "invalid agentid"),
        ({k: v for k, v in text().items() if k != "agentid"}, 41011, "missing agentid"),
        (text(""), 44004, "empty content"),
        ({**text(), "msgtype": "file", "file": {"media_id": "nope"}}, 40007, "invalid media_id"),
        ({**card_body(), "template_card": {"card_type": "button_interaction"}}, 40058, "task_id required"),
    ],
)
def test_send_validates_the_body(web: FlaskClient, body: dict[str, Any], errcode: int, errmsg: str) -> None:
    answer = send(web, body)
    assert (answer["errcode"], errmsg in answer["errmsg"]) == (errcode, True)
    assert inspect(web, "messages") == []


def test_send_refuses_non_json(web: FlaskClient) -> None:
    answer = web.post("/cgi-bin/message/send", query_string={"access_token": token(web)}, data=b"<xml/>").json
    assert answer is not None and answer["errcode"] == 47001


CARD_LIMITS = [
    ({"button_list": [{"text": str(i), "key": f"k{i}"} for i in range(7)]}, "button_list exceeds 6"),
    ({"button_list": [{"text": "x", "key": "k" * 1025}]}, "1024 bytes"),
    ({"task_id": "任务"}, "invalid task_id"),
    ({"horizontal_content_list": [{"keyname": "k", "value": "v"}] * 7}, "horizontal_content_list exceeds 6"),
    ({"select_list": [{"question_key": "q", "option_list": [{"id": "1", "text": "a"}] * 11}]}, "select_list"),
]


@pytest.mark.parametrize(("change", "errmsg"), CARD_LIMITS)
def test_send_enforces_card_limits(web: FlaskClient, change: dict[str, Any], errmsg: str) -> None:
    body = card_body()
    body["template_card"].update(change)
    answer = send(web, body)
    assert answer["errcode"] == 40058 and errmsg in answer["errmsg"]


def test_notice_card_needs_card_action(web: FlaskClient) -> None:
    body = card_body()
    body["template_card"] = {"card_type": "text_notice", "main_title": {"title": "通知"}}
    assert "card_action" in send(web, body)["errmsg"]


def test_every_rendered_card_type_is_accepted(web: FlaskClient) -> None:
    options = (Option("1", "满意"), Option("2", "不满意"))
    cards = [
        TemplateCard("text_notice", "通知", url="https://x.cn/1", emphasis=("3", "天")),
        TemplateCard("news_notice", "政策", url="https://x.cn/2", image_url="https://x.cn/p.png"),
        TemplateCard("button_interaction", "受理", task_id="b-1", buttons=(Button("受理", "k"),)),
        TemplateCard(
            "vote_interaction", "评价", task_id="v-1", question_key="q", options=options, submit_key="s"
        ),
        TemplateCard(
            "multiple_interaction",
            "分派",
            task_id="m-1",
            selects=(Select("d", "部门", options),),
            submit_key="s",
        ),
    ]
    for card in cards:
        body = {**card_body(), "template_card": render_template_card(card)}
        assert send(web, body)["errcode"] == 0, card.card_type
    assert len(inspect(web, "messages")) == 5


def test_known_users_report_invalid_ones(web: FlaskClient) -> None:
    web.post("/_standin/users", json={"users": ["ZhangSan", "lisi"]})
    answer = send(web, text(touser="zhangsan|WangWu"))
    assert answer["invaliduser"] == "wangwu"
    assert send(web, text(touser="nobody"))["errcode"] == 81013
    web.post("/_standin/users", json={"users": None})
    assert send(web, text(touser="nobody"))["errcode"] == 0


def test_duplicate_check_suppresses_identical_content(web: FlaskClient) -> None:
    first = send(web, text("同一条"))
    second = send(web, text("同一条"))
    assert second["errcode"] == 0 and second["msgid"] == first["msgid"]
    assert len(inspect(web, "messages")) == 1
    assert [s["touser"] for s in inspect(web, "suppressed")] == ["zhangsan"]
    send(web, text("同一条", touser="lisi"))  # same content, another person: delivered
    send(web, text("同一条", enable_duplicate_check=0))  # no check asked for: delivered again
    assert len(inspect(web, "messages")) == 3


def test_task_id_is_unique_per_app(web: FlaskClient) -> None:
    assert send(web, card_body("t-9"))["errcode"] == 0
    assert send(web, card_body("t-9"))["errcode"] == 0  # identical resend: a suppressed duplicate
    reused = send(web, card_body("t-9", touser="lisi"))
    assert reused["errcode"] == 40058 and "task_id" in reused["errmsg"]


# ---------------------------------------------------------------- update_template_card


def update(web: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    """POST message/update_template_card."""
    answer = web.post(
        "/cgi-bin/message/update_template_card", query_string={"access_token": token(web)}, json=body
    )
    assert answer.json is not None
    return dict(answer.json)


def test_response_code_works_once(web: FlaskClient) -> None:
    sent = send(web, card_body(touser="zhangsan|lisi"))
    codes = [m["response_code"] for m in inspect(web, "messages")]
    assert len({sent["response_code"], *codes}) == 3  # one for the send, one per recipient's click
    body = {
        "userids": ["zhangsan"],
        "agentid": AGENT,
        "response_code": codes[0],
        "button": {"replace_name": "已受理"},
    }
    assert update(web, body)["errcode"] == 0
    again = update(web, body)
    assert (again["errcode"], again["errmsg"]) == (40058, "response_code used")
    assert update(web, {**body, "response_code": "made-up"})["errmsg"] == "invalid response_code"
    assert update(web, {**body, "response_code": codes[1], "button": {}})["errcode"] == 40058
    recorded = inspect(web, "updates")
    assert len(recorded) == 1 and recorded[0]["body"]["button"] == {"replace_name": "已受理"}


# ---------------------------------------------------------------- 群机器人 and media


def group(web: FlaskClient, key: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST webhook/send?key=."""
    answer = web.post("/cgi-bin/webhook/send", query_string={"key": key}, json=body).json
    assert answer is not None
    return dict(answer)


def test_webhook_allows_20_a_minute_per_key(web: FlaskClient) -> None:
    for i in range(20):
        assert group(web, "k1", {"msgtype": "text", "text": {"content": f"{i}"}})["errcode"] == 0
    assert group(web, "k1", {"msgtype": "text", "text": {"content": "多了"}})["errcode"] == 45009
    assert group(web, "k2", {"msgtype": "text", "text": {"content": "别的群"}})["errcode"] == 0
    assert len(inspect(web, "groups", key="k1")) == 20
    assert group(web, "", {"msgtype": "text", "text": {"content": "x"}})["errcode"] == 93000


def test_webhook_refuses_oversized_text(web: FlaskClient) -> None:
    answer = group(web, "k", {"msgtype": "text", "text": {"content": "县" * 700}})
    assert answer["errcode"] == 40058 and "2048" in answer["errmsg"]


def test_media_upload_then_send(web: FlaskClient) -> None:
    upload = web.post(
        "/cgi-bin/media/upload",
        query_string={"access_token": token(web), "type": "file"},
        data={"media": (io.BytesIO(b"hello"), "台账.xlsx")},
        content_type="multipart/form-data",
    ).json
    assert upload is not None and upload["errcode"] == 0
    media = web.get("/_standin/media").json
    assert media is not None and media["media"][upload["media_id"]] == {
        "type": "file",
        "filename": "台账.xlsx",
        "length": 5,
    }
    body = {**text(), "msgtype": "file", "file": {"media_id": upload["media_id"]}}
    assert send(web, body)["errcode"] == 0
    empty = web.post(
        "/cgi-bin/media/upload", query_string={"access_token": token(web), "type": "pdf"}, data={}
    ).json
    assert empty is not None and empty["errcode"] == 40004


# ---------------------------------------------------------------- faults, reset


def test_faults_are_consumed_in_order(web: FlaskClient) -> None:
    tok = token(web)
    web.post(
        "/_standin/faults", json={"path": "message/send", "errors": [45009, {"http": 502}, {"sleep": 0.01}]}
    )
    assert send(web, text("1"), tok)["errcode"] == 45009
    assert (
        web.post("/cgi-bin/message/send", query_string={"access_token": tok}, json=text("2")).status_code
        == 502
    )
    assert send(web, text("3"), tok)["errcode"] == 0  # a sleep delays but still answers
    assert send(web, text("4"), tok)["errcode"] == 0
    assert [m["body"]["text"]["content"] for m in inspect(web, "messages")] == ["3", "4"]
    assert web.post("/_standin/faults", json={"path": "x"}).status_code == 400


def test_a_fault_aimed_at_one_person_spares_messages_to_others_and_calls_are_counted_per_person(
    web: FlaskClient,
) -> None:
    tok = token(web)
    web.post("/_standin/faults", json={"path": "message/send", "errors": [45009], "touser": "LiSi"})
    other = text("给别人", touser="wangwu")
    assert send(web, other, tok)["errcode"] == 0  # not the aimed-at person: untouched
    assert send(web, text("1", touser="lisi"), tok)["errcode"] == 45009
    assert send(web, text("2", touser="lisi"), tok)["errcode"] == 0
    to_lisi = web.get("/_standin/calls", query_string={"touser": "LISI"}).json
    assert to_lisi is not None and to_lisi["calls"] == {"message/send": 2}  # the refused attempt counts


def test_reset_forgets_everything(web: FlaskClient) -> None:
    old = token(web)
    send(web, text(), old)
    web.post("/_standin/faults", json={"path": "message/send", "errors": [45009]})
    web.post("/_standin/reset")
    assert inspect(web, "messages") == [] and inspect(web, "updates") == []
    assert send(web, text(), old)["errcode"] == 40014
    assert send(web, text())["errcode"] == 0
    calls = web.get("/_standin/calls").json
    assert calls is not None and calls["calls"]["message/send"] == 2


def test_state_is_reachable_for_in_process_checks() -> None:
    app = create_standin_app(corp_id=CORP, secret=SECRET, known_users=["A"])
    assert standin_state(app).known_users == frozenset({"a"})


# ---------------------------------------------------------------- the server


def test_server_serves_over_http() -> None:
    with StandinServer(corp_id=CORP, secret=SECRET) as server:
        assert server.base_url == server.url + "cgi-bin/" and server.url.startswith("http://127.0.0.1:")
        answer = requests.get(
            server.base_url + "gettoken", params={"corpid": CORP, "corpsecret": SECRET}, timeout=5
        ).json()
        tok = answer["access_token"]
        requests.post(server.base_url + "message/send", params={"access_token": tok}, json=text(), timeout=5)
        assert [m["touser"] for m in server.messages("ZHANGSAN")] == ["zhangsan"]
        server.inject("gettoken", [-1])
        again = requests.get(
            server.base_url + "gettoken", params={"corpid": CORP, "corpsecret": SECRET}, timeout=5
        )
        assert again.json()["errcode"] == -1
        server.reset()
        assert server.messages() == []
