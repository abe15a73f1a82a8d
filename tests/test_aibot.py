"""The 智能机器人 (AI bot) callback end to end: real encrypted JSON callbacks over HTTP, passive
streams, answers through the response_url (once), cards to the 1:1 app chat, refusals."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from bot import create_app
from bot.intake import CARDS_IN_APP, FILES_IN_APP
from bot.models import EnterpriseMember, InboundMessage, OutboxMessage, Role
from bot.replies import Button, File, Image, TemplateCard, Text
from bot.routing import Router
from bot.runtime import Runtime
from bot.standin.platform import WeComPlatform, aibot_text_json, text_xml
from handlers import ALL_ROUTERS
from jobs import runtime as job_runtime
from tests import builders
from tests.builders import pushed_cards, pushed_texts
from tests.conftest import run_jobs, serve

GROUP = "wrkSFfCgAAtestgroup01"

aibot_router = Router("aibot-test")


@aibot_router.command("慢查询", slow=True, public=True)
def slow_query(ctx, args):
    """A slow handler, answered by a worker."""
    return Text("慢查询完成")


@aibot_router.command("多条", public=True)
def several(ctx, args):
    """Three texts: the first goes back passively, the others in one post to the response_url."""
    return [Text("第一条"), Text("第二条"), Text("第三条")]


@aibot_router.command("要卡片", public=True)
def with_card(ctx, args):
    """A text and a card: a group cannot show an app's card."""
    card = TemplateCard("button_interaction", "请确认", task_id=f"t-{ctx.inbound.msg_id}",
                        buttons=(Button("确认", "aibot-test:ok"),))  # fmt: skip
    return [Text("请在卡片上确认"), card]


@aibot_router.command("出错", slow=True, public=True)
def broken(ctx, args):
    """A slow handler with a bug."""
    raise RuntimeError("bug in a slow handler")


@pytest.fixture
def rt(runtime: Runtime) -> Iterator[Runtime]:
    """The test runtime with one extra router of test commands, installed for jobs."""
    built = Runtime.build(
        runtime.settings, clock=runtime.clock, connection=runtime.redis, engine=runtime.engine,
        routers=[*ALL_ROUTERS, aibot_router],
    )  # fmt: skip
    job_runtime.install(built)
    yield built
    job_runtime.install(None)


@pytest.fixture
def web(rt: Runtime) -> Iterator[str]:
    """The real Flask app over HTTP on that runtime (conftest's `platform` posts to it)."""
    yield from serve(rt)


def _count(session_factory, model) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------- URL verification


def test_url_verification_answers_the_echostr_decrypted_with_the_aibot_receiveid(platform, web):
    encrypt, signature = platform.aibot_crypto.encrypt("echo+aibot/=", "nonce1", "1700000000")
    query = f"msg_signature={signature}&timestamp=1700000000&nonce=nonce1&echostr={encrypt}"
    response = platform.http.get(f"{web}/wecom/aibot?{query}", timeout=5)
    assert response.status_code == 200 and response.text == "echo+aibot/="
    tampered = platform.http.get(f"{web}/wecom/aibot?{query.replace('nonce1', 'nonce2')}", timeout=5)
    assert tampered.status_code == 403


def test_url_verification_refuses_an_echostr_sealed_for_the_app(platform, web):
    encrypt, signature = platform.crypto.encrypt("echo", "nonce1", "1700000000")  # receiveid = corp id
    query = f"msg_signature={signature}&timestamp=1700000000&nonce=nonce1&echostr={encrypt}"
    assert platform.http.get(f"{web}/wecom/aibot?{query}", timeout=5).status_code == 403


# ---------------------------------------------------------------- answers in a group


def test_a_group_mention_is_answered_passively_in_one_finished_stream(platform, rt, standin, session_factory):
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.person(s, "gxj_zhou", Role.OFFICIAL, name="周明", department=gxj)
        s.commit()
    delivery = platform.group_say("gxj_zhou", GROUP, "我是谁")
    assert delivery.status == 200
    assert delivery.reply is not None and delivery.reply["msgtype"] == "stream"
    stream = delivery.reply["stream"]
    assert stream["finish"] is True and stream["id"]
    assert "姓名：周明" in stream["content"] and "部门：县工信局" in stream["content"]
    with session_factory() as s:
        row = s.scalar(select(InboundMessage))
        assert row.channel == "aibot" and row.payload["chat_id"] == GROUP and row.payload["text"] == "我是谁"
    run_jobs(rt)
    assert standin.group_chat(GROUP) == []  # everything was in the passive answer: the url is unused


def test_a_slow_command_is_answered_once_through_the_response_url(platform, rt, standin, session_factory):
    started = time.monotonic()
    delivery = platform.group_say("someone", GROUP, "慢查询")
    assert time.monotonic() - started < 1.0
    assert delivery.text == "收到，正在处理，请稍候…"
    run_jobs(rt)
    chat = standin.group_chat(GROUP)
    assert [(e["via"], e["msgtype"], e["content"]) for e in chat] == [
        ("response_url", "markdown", "慢查询完成")
    ]
    assert chat[0]["userid"] == "someone"
    run_jobs(rt)
    assert len(standin.group_chat(GROUP)) == 1
    with session_factory() as s:
        row = s.scalar(select(OutboxMessage))
        assert row.status == "sent" and row.recipient == f"response_url:{GROUP}"  # never the url itself


def test_several_replies_are_one_stream_then_one_post(platform, rt, standin):
    assert platform.group_say("someone", GROUP, "多条").text == "第一条"
    run_jobs(rt)
    assert [e["content"] for e in standin.group_chat(GROUP)] == ["第二条\n\n第三条"]


def test_a_card_goes_to_the_1to1_app_chat_and_the_group_is_told(platform, rt, standin):
    assert platform.group_say("someone", GROUP, "要卡片").text == "请在卡片上确认"
    run_jobs(rt)
    cards = pushed_cards(standin.messages("someone"))
    assert [c["body"]["template_card"]["main_title"]["title"] for c in cards] == ["请确认"]
    assert [e["content"] for e in standin.group_chat(GROUP)] == [CARDS_IN_APP]


def test_a_retried_callback_is_answered_again_without_acting_twice(platform, rt, standin, session_factory):
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.person(s, "gxj_zhou", Role.OFFICIAL, department=gxj)
        uscc = builders.enterprise(s, "示范县恒通纺织有限公司", gxj).uscc
        s.commit()
    text = f"@政企直通车 绑定 {uscc} 刘总"
    payload = platform.aibot_message("new_boss", text, chatid=GROUP, msg_id="CAIQretry==")
    answers = [platform.post_aibot(payload).reply for _ in range(4)]
    assert all(a == answers[0] for a in answers)  # the same stream, id included
    assert answers[0] is not None and "已提交绑定申请" in answers[0]["stream"]["content"]
    run_jobs(rt)
    assert _count(session_factory, EnterpriseMember) == 1
    assert _count(session_factory, InboundMessage) == 1
    assert len(pushed_cards(standin.messages("gxj_zhou"))) == 1  # one approval card, not four


def test_different_messages_get_different_stream_ids(platform):
    first = platform.group_say("someone", GROUP, "帮助").reply
    second = platform.group_say("someone", GROUP, "帮助").reply
    assert first and second and first["stream"]["id"] != second["stream"]["id"]


def test_a_single_chat_with_the_bot_works_the_same(platform):
    payload = platform.aibot_message("someone", "帮助")  # 1:1 with the AI bot: no chatid, no @
    delivery = platform.post_aibot(payload)
    assert delivery.status == 200 and "政企直通车 · 可用命令" in (delivery.text or "")


def test_enter_chat_is_welcomed_with_a_plain_text(platform):
    event = {"msgid": "evt-1", "aibotid": platform.aibot_id, "chattype": "single", "from": {"userid": "u1"},
             "msgtype": "event", "create_time": 1700000000, "event": {"eventtype": "enter_chat"}}  # fmt: skip
    delivery = platform.post_aibot(json.dumps(event))
    assert delivery.reply is not None and delivery.reply["msgtype"] == "text"
    assert "欢迎使用政企直通车" in delivery.reply["text"]["content"]


# ---------------------------------------------------------------- response_url: once, an hour, a secret


def test_a_response_url_takes_one_post(platform, standin):
    url = platform.issue_response_url(GROUP, "someone", "m1")
    body = {"msgtype": "markdown", "markdown": {"content": "好的"}}
    first = platform.http.post(url, json=body, timeout=5).json()
    second = platform.http.post(url, json=body, timeout=5).json()
    assert first["errcode"] == 0
    assert second["errcode"] == 40058 and "used" in second["errmsg"]
    assert [e["content"] for e in standin.group_chat(GROUP)] == ["好的"]


def test_an_answer_on_a_used_url_is_dead_lettered_without_the_url(platform, rt, standin, session_factory):
    platform.group_say("someone", GROUP, "慢查询")
    for entry in standin.state.aibot_codes.values():
        entry["used"] = True  # someone else answered on it already
    run_jobs(rt)
    with session_factory() as s:
        row = s.scalar(select(OutboxMessage))
        assert row.status == "failed" and "40058" in row.last_error
        (code,) = standin.state.aibot_codes
        assert code not in row.last_error and "http" not in row.recipient


def test_a_failed_post_is_retried_and_lands_once(platform, rt, standin, clock):
    standin.inject("aibot/response", [{"http": 502}, -1])  # a gateway error, then 系统繁忙
    platform.group_say("someone", GROUP, "慢查询")
    for _ in range(3):
        run_jobs(rt)
        clock.advance(seconds=30)  # past the backoff
    assert [e["content"] for e in standin.group_chat(GROUP)] == ["慢查询完成"]
    assert standin.calls("aibot/response") == 3


def test_an_answer_past_the_hour_goes_to_the_1to1_app_chat(platform, rt, standin, clock):
    platform.group_say("someone", GROUP, "慢查询")
    clock.advance(hours=1)  # the worker only gets to it an hour later (Redis was down …)
    standin.expire_response_urls()
    run_jobs(rt)
    assert standin.group_chat(GROUP) == []
    assert pushed_texts(standin.messages("someone")) == ["慢查询完成"]


def test_the_stand_in_refuses_an_expired_response_url(platform, standin):
    url = platform.issue_response_url(GROUP, "someone", "m2")
    standin.expire_response_urls()
    answer = platform.http.post(url, json={"msgtype": "markdown", "markdown": {"content": "迟了"}}, timeout=5)
    assert answer.json()["errcode"] == 40058 and "expired" in answer.json()["errmsg"]


def test_a_failing_slow_handler_apologises_once_in_the_group(platform, rt, standin):
    assert platform.group_say("someone", GROUP, "出错").text == "收到，正在处理，请稍候…"
    run_jobs(rt)
    chat = standin.group_chat(GROUP)
    assert len(chat) == 1 and chat[0]["content"].startswith("抱歉，系统处理您的消息时出错了")


def test_the_response_url_never_reaches_the_logs(platform, rt, standin, caplog):
    with caplog.at_level(logging.DEBUG):
        platform.group_say("someone", GROUP, "慢查询")
        platform.group_say("someone", GROUP, "出错")
        run_jobs(rt)
    codes = list(standin.state.aibot_codes)
    assert len(codes) == 2 and len(standin.group_chat(GROUP)) == 2
    assert "bug in a slow handler" in caplog.text  # the log was captured …
    assert not any(code in caplog.text for code in codes)  # … and holds no response_code


def test_only_the_wecom_api_host_is_posted_to(rt, clock, session_factory):
    from bot.wecom.client import Permanent

    with pytest.raises(Permanent, match="not on the WeCom API host"):
        rt.client.post_response_url("http://169.254.169.254/cgi-bin/aibot/response?response_code=x", {})


# ---------------------------------------------------------------- refusals


def _aibot_body(platform: WeComPlatform) -> tuple[dict[str, str], bytes]:
    url = "http://127.0.0.1:1/cgi-bin/aibot/response?response_code=x"
    plain = aibot_text_json(
        msgid="m9", aibotid="a", chatid=GROUP, user="u1", content="@政企直通车 帮助", response_url=url
    )
    body, query = platform.aibot_crypto.build_json_callback_body(plain, "n1", "1700000000")
    return query, body


def _app_ciphertext_as_json(platform: WeComPlatform) -> tuple[dict[str, str], bytes]:
    xml = text_xml(corp_id=platform.corp_id, user="u1", content="帮助", agent_id=1, create_time=1, msg_id="9")
    encrypt, signature = platform.crypto.encrypt(xml, "n1", "1700000000")  # sealed for the app's receiveid
    query = {"msg_signature": signature, "timestamp": "1700000000", "nonce": "n1"}
    return query, json.dumps({"encrypt": encrypt}).encode()


@pytest.mark.parametrize(
    "mutate, status",
    [
        (lambda p, q, b: ({**q, "msg_signature": "0" * 40}, b), 403),
        (lambda p, q, b: ({k: v for k, v in q.items() if k != "timestamp"}, b), 400),
        (lambda p, q, b: (q, b"{not json"), 400),
        (lambda p, q, b: (q, b'{"Encrypt": "x"}'), 400),
        (lambda p, q, b: (q, b"x" * 70_000), 413),
        (lambda p, q, b: _app_ciphertext_as_json(p), 403),
        (lambda p, q, b: p.crypto.build_callback_body("<xml/>", "n1", "1700000000", p.corp_id, 1), 400),
    ],
    ids=[
        "bad-signature",
        "missing-timestamp",
        "malformed-json",
        "no-encrypt",
        "oversized",
        "app-ciphertext",
        "app-xml-body",
    ],
)
def test_bad_requests_are_refused_with_4xx_and_change_nothing(platform, web, session_factory, mutate, status):
    query, body = _aibot_body(platform)
    query, body = mutate(platform, query, body)
    response = platform.http.post(f"{web}/wecom/aibot", params=query, data=body, timeout=5)
    assert response.status_code == status
    assert _count(session_factory, InboundMessage) == 0


def test_a_decrypted_payload_that_is_not_a_message_is_400(platform, web, session_factory):
    body, query = platform.aibot_crypto.build_json_callback_body('{"msgid": "1"}', "n1", "1700000000")
    response = platform.http.post(f"{web}/wecom/aibot", params=query, data=body, timeout=5)
    assert response.status_code == 400 and _count(session_factory, InboundMessage) == 0


def test_without_an_ai_bot_the_endpoint_is_404(rt):
    without = rt.settings.with_(aibot_token="", aibot_aes_key="")
    app = create_app(runtime=Runtime.build(without, clock=rt.clock, connection=rt.redis, engine=rt.engine))
    client = app.test_client()
    assert client.get("/wecom/aibot?msg_signature=a&timestamp=1&nonce=2&echostr=x").status_code == 404
    assert client.post("/wecom/aibot?msg_signature=a&timestamp=1&nonce=2", data=b"{}").status_code == 404


def test_the_terminal_chat_speaks_in_a_group_and_shows_later_answers(platform, rt, standin):
    from bot.standin.chat import ChatSession, _command
    from bot.standin.line import BotLine

    shown: list[str] = []
    line = BotLine(platform, standin.url.rstrip("/"), rt.settings.aibot_name)
    chat = ChatSession(line, "someone", show=shown.append)
    _command(chat, f"/group {GROUP}")
    chat.say("慢查询")
    run_jobs(rt)
    chat.poll()
    chat.poll()  # nothing new the second time
    assert shown == ["政企直通车（群）：收到，正在处理，请稍候…", "政企直通车（群，稍后）：慢查询完成"]
    _command(chat, "/single")
    assert chat.group is None


# ---------------------------------------------------------------- files asked for in a group


@aibot_router.command("要文件", public=True, slow=True)
def with_files(ctx, args):
    """A text, a file and an image (as 台账 or a chart): a group cannot show the app's files."""
    folder = ctx.services["settings"].var_dir
    (folder / "台账.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (folder / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
    return [Text("台账已生成"), File(path=str(folder / "台账.xlsx")), Image(path=str(folder / "chart.png"))]


def test_files_go_to_the_1to1_app_chat_and_the_group_is_told_once(platform, rt, standin):
    assert platform.group_say("someone", GROUP, "要文件").text == "收到，正在处理，请稍候…"
    run_jobs(rt)
    assert [m["msgtype"] for m in standin.messages("someone")] == ["file", "image"]
    assert [e["content"] for e in standin.group_chat(GROUP)] == [f"台账已生成\n\n{FILES_IN_APP}"]
