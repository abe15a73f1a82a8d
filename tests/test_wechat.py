"""The 公众号 callback (/wechat/callback) end to end: plain, compatible and safe mode, XML and JSON."""

from __future__ import annotations

import json

import pytest
from defusedxml.ElementTree import fromstring
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot import create_app
from bot.db import session_scope
from bot.models import EnterpriseMember, InboundMessage, OutboxMessage, Person, Role
from bot.outbox import OutboxWriter
from bot.replies import Button, TemplateCard, Text
from bot.runtime import Runtime
from bot.settings import Settings, SettingsError
from bot.wecom.crypto import CallbackCrypto
from bot.wecom.mp import plain_signature
from handlers.onboarding import service
from jobs import runtime as job_runtime
from tests import builders
from tests.builders import pushed_cards
from tests.conftest import run_jobs
from tests.wecom.test_crypto import MP_APPID, MP_BODY, MP_KEY, MP_NONCE, MP_SIG, MP_TOKEN, MP_TS

OPENID = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"  # the sender in Tencent's Sample.py
OWN_ID = "gh_10f6c3c3ac5a"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with the 公众号 of Tencent's Sample.py (token spamtest, its AppID and key)."""
    return settings.with_(
        wechat_app_id=MP_APPID,
        wechat_token=MP_TOKEN,
        wechat_aes_key=MP_KEY,
        wechat_secret="mp-secret",
        wechat_api_base=settings.wecom_api_base,  # the stand-in plays the 公众号 API too
    )


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime=runtime).test_client()


@pytest.fixture
def crypto() -> CallbackCrypto:
    return CallbackCrypto(MP_TOKEN, MP_KEY, MP_APPID)


def text_xml(content: str, msg_id: str = "6054768590064713728", user: str = OPENID) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{OWN_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def signed(nonce: str = "n1", ts: str = "1700000000", **extra: str) -> dict[str, str]:
    return {"signature": plain_signature(MP_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, **extra}


def post_plain(client: FlaskClient, body: str, content_type: str = "text/xml", **query: str):
    return client.post(
        "/wechat/callback", query_string=signed(**query), data=body.encode(), content_type=content_type
    )


def reply_content(xml: str) -> str:
    return fromstring(xml).findtext("Content")


def _count(session_factory, model) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


# -- configuration and URL check ---------------------------------------------------------------


def test_without_an_app_id_the_endpoint_is_not_there(runtime: Runtime) -> None:
    rt = Runtime.build(runtime.settings.with_(wechat_app_id="", wechat_token="", wechat_aes_key=""),
                       clock=runtime.clock, connection=runtime.redis, engine=runtime.engine)  # fmt: skip
    client = create_app(runtime=rt).test_client()
    assert client.get("/wechat/callback", query_string={**signed(), "echostr": "x"}).status_code == 404
    assert post_plain(client, text_xml("帮助")).status_code == 404


def test_url_check_echoes_echostr_verbatim(client: FlaskClient) -> None:
    query = "&".join(f"{k}={v}" for k, v in signed().items())
    response = client.get(f"/wechat/callback?{query}&echostr=1288+43/=")  # a raw '+' stays a '+'
    assert response.status_code == 200 and response.text == "1288+43/="
    bad = client.get("/wechat/callback", query_string={**signed(), "signature": "0" * 40, "echostr": "e"})
    assert bad.status_code == 403


# -- the three modes ---------------------------------------------------------------------------


def test_plain_mode_text_is_answered_in_plain_xml(client: FlaskClient, session_factory) -> None:
    response = post_plain(client, text_xml("帮助"))
    assert response.status_code == 200 and response.mimetype == "application/xml"
    root = fromstring(response.text)
    assert root.findtext("ToUserName") == OPENID and root.findtext("FromUserName") == OWN_ID
    assert "政企直通车 · 可用命令" in root.findtext("Content")
    with session_factory() as s:
        row = s.scalars(select(InboundMessage)).one()
    assert (row.channel, row.user_id, row.dedup_key) == (
        "wechat",
        f"wx:{OPENID}",
        "wechat:msg:6054768590064713728",
    )


def test_the_official_sample_in_safe_mode_is_decrypted_and_answered_encrypted(
    client: FlaskClient, crypto: CallbackCrypto, session_factory
) -> None:
    query = {**signed(MP_NONCE, MP_TS), "encrypt_type": "aes", "msg_signature": MP_SIG}
    response = client.post("/wechat/callback", query_string=query, data=MP_BODY, content_type="text/xml")
    assert response.status_code == 200
    envelope = fromstring(response.text)
    assert envelope.findtext("Nonce") == MP_NONCE
    plain = crypto.decrypt(
        envelope.findtext("MsgSignature"),
        envelope.findtext("TimeStamp"),
        MP_NONCE,
        envelope.findtext("Encrypt"),
    )
    assert fromstring(plain).findtext("ToUserName") == OPENID
    assert "帮助" in reply_content(plain)  # "abcdteT" is no command: the answer points to 帮助
    with session_factory() as s:
        assert s.scalar(select(InboundMessage.payload))["text"] == "abcdteT"


def test_compatible_mode_trusts_the_encrypted_copy_not_the_plaintext_beside_it(
    client: FlaskClient, crypto: CallbackCrypto, session_factory
) -> None:
    encrypt, msg_signature = crypto.encrypt(text_xml("我是谁", msg_id="88"), "n2", "1700000000")
    body = text_xml("帮助", msg_id="88").replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    query = {**signed("n2"), "encrypt_type": "aes", "msg_signature": msg_signature}
    response = client.post(
        "/wechat/callback", query_string=query, data=body.encode(), content_type="text/xml"
    )
    envelope = fromstring(response.text)
    plain = crypto.decrypt(envelope.findtext("MsgSignature"), envelope.findtext("TimeStamp"), "n2",
                           envelope.findtext("Encrypt"))  # fmt: skip
    assert "尚未登记" in reply_content(plain)


def test_safe_mode_with_a_bad_msg_signature_is_refused(client: FlaskClient, session_factory) -> None:
    query = {**signed(MP_NONCE, MP_TS), "encrypt_type": "aes", "msg_signature": "0" * 40}
    response = client.post("/wechat/callback", query_string=query, data=MP_BODY, content_type="text/xml")
    assert response.status_code == 403
    assert _count(session_factory, InboundMessage) == 0


def test_json_bodies_are_answered_in_json(client: FlaskClient, crypto: CallbackCrypto) -> None:
    message = {"ToUserName": OWN_ID, "FromUserName": OPENID, "CreateTime": 1409735668, "MsgType": "text",
               "Content": "帮助", "MsgId": 6054768590064713729}  # fmt: skip
    response = post_plain(client, json.dumps(message, ensure_ascii=False), content_type="application/json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    answer = response.get_json()
    assert answer["ToUserName"] == OPENID and "可用命令" in answer["Content"]
    # Safe mode in JSON: {"ToUserName", "Encrypt"} in, {"Encrypt", "MsgSignature", …} out.
    message["MsgId"] = 6054768590064713730
    encrypt, msg_signature = crypto.encrypt(json.dumps(message, ensure_ascii=False), "n3", "1700000000")
    body = json.dumps({"ToUserName": OWN_ID, "Encrypt": encrypt})
    query = {**signed("n3"), "encrypt_type": "aes", "msg_signature": msg_signature}
    response = client.post("/wechat/callback", query_string=query, data=body, content_type="application/json")
    envelope = response.get_json()
    plain = crypto.decrypt(envelope["MsgSignature"], envelope["TimeStamp"], "n3", envelope["Encrypt"])
    assert "可用命令" in json.loads(plain)["Content"]


def test_subscribe_is_welcomed_and_a_menu_click_runs_its_command(client: FlaskClient) -> None:
    event = (
        f"<xml><ToUserName>{OWN_ID}</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>1409735669"
        "</CreateTime><MsgType>event</MsgType><Event>{event}</Event><EventKey>{key}</EventKey></xml>"
    )
    welcome = post_plain(client, event.format(event="subscribe", key=""))
    assert "欢迎使用政企直通车" in reply_content(welcome.text)
    click = post_plain(client, event.format(event="CLICK", key="帮助"))
    assert "可用命令" in reply_content(click.text)


# -- refusals and retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, body, status",
    [
        ({"signature": "0" * 40}, text_xml("帮助"), 403),
        ({"nonce": ""}, text_xml("帮助"), 400),
        ({}, "not xml at all", 400),
        ({}, '{"FromUserName": "x"', 400),
        ({}, text_xml("帮助").replace("<MsgType><![CDATA[text]]></MsgType>", ""), 400),
        (
            {},
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml>&e;</xml>',
            400,
        ),
        ({}, "x" * 70_000, 413),
        ({"encrypt_type": "aes"}, text_xml("帮助"), 400),  # no msg_signature
    ],
    ids=[
        "bad-signature",
        "missing-nonce",
        "garbage",
        "broken-json",
        "no-msgtype",
        "xxe",
        "oversized",
        "aes-unsigned",
    ],
)
def test_bad_requests_are_refused_and_change_nothing(client, session_factory, query, body, status) -> None:
    params = {**signed(), **query}
    response = client.post(
        "/wechat/callback", query_string=params, data=body.encode(), content_type="text/xml"
    )
    assert response.status_code == status
    assert _count(session_factory, InboundMessage) == 0


def test_a_delivery_retried_four_times_acts_once(
    client: FlaskClient, runtime: Runtime, standin, session_factory
):
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.person(s, "gxj_zhou", Role.OFFICIAL, department=gxj)
        uscc = builders.enterprise(s, "示范县恒通纺织有限公司", gxj).uscc
        s.commit()
    answers = [
        reply_content(post_plain(client, text_xml(f"绑定 {uscc} 刘总", msg_id="77001")).text)
        for _ in range(4)
    ]
    assert all(a == answers[0] for a in answers) and "已提交绑定申请" in answers[0]
    run_jobs(runtime)
    assert _count(session_factory, EnterpriseMember) == 1 and _count(session_factory, InboundMessage) == 1
    assert len(standin.messages("gxj_zhou")) == 1  # one approval card, not four


def test_a_wechat_user_binds_and_then_uses_commands(
    client: FlaskClient, runtime: Runtime, standin, session_factory
):
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        zhou = builders.person(s, "gxj_zhou", Role.OFFICIAL, department=gxj)
        uscc = builders.enterprise(s, "示范县恒通纺织有限公司", gxj).uscc
        s.commit()
        zhou_id = zhou.id
    # The guided 绑定 works unchanged for an openid: the conversation is keyed on "wx:" + openid.
    assert "统一社会信用代码" in reply_content(post_plain(client, text_xml("绑定", msg_id="1")).text)
    assert "姓名" in reply_content(post_plain(client, text_xml(uscc, msg_id="2")).text)
    assert "已提交绑定申请" in reply_content(post_plain(client, text_xml("刘总", msg_id="3")).text)
    run_jobs(runtime)
    assert len(pushed_cards(standin.messages("gxj_zhou"))) == 1  # the official decides in WeCom
    with session_factory() as s:
        boss = s.scalars(select(Person).where(Person.wecom_userid == f"wx:{OPENID}")).one()
        member = s.scalars(select(EnterpriseMember)).one()
        service.decide_binding(s, member_id=member.id, approver=s.get(Person, zhou_id), approve=True,
                               now=runtime.clock.now())  # fmt: skip
        s.commit()
        assert boss.name == "刘总"
    answer = reply_content(post_plain(client, text_xml("我是谁", msg_id="4")).text)
    assert "姓名：刘总" in answer and "示范县恒通纺织有限公司" in answer


# -- outbound: 客服消息 within 48 h, 模板消息 after ------------------------------------------------


def _bind_and_approve_by_wecom(
    client: FlaskClient, runtime: Runtime, standin, platform, session_factory
) -> None:
    """A follower asks to bind; the official approves by clicking 同意 on his WeCom card."""
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.person(s, "gxj_zhou", Role.OFFICIAL, department=gxj)
        uscc = builders.enterprise(s, "示范县恒通纺织有限公司", gxj).uscc
        s.commit()
    post_plain(client, text_xml(f"绑定 {uscc} 刘总", msg_id="10"))
    run_jobs(runtime)
    [card] = standin.messages("gxj_zhou")
    key = next(
        b["key"] for b in card["body"]["template_card"]["button_list"] if b["key"].startswith("bind:ok")
    )
    clicked = platform.click(
        "gxj_zhou", event_key=key, task_id=card["task_id"], response_code=card["response_code"]
    )
    assert clicked.status == 200


def test_the_decision_reaches_the_follower_by_customer_service_message(
    client: FlaskClient, runtime: Runtime, standin, platform, session_factory
) -> None:
    _bind_and_approve_by_wecom(client, runtime, standin, platform, session_factory)
    run_jobs(runtime)
    sent = standin.messages(OPENID)
    assert [m["msgtype"] for m in sent] == ["text"] and "申请已通过" in sent[0]["body"]["text"]["content"]
    assert standin.messages(f"wx:{OPENID}") == []  # never WeCom's message/send


def test_after_48_hours_a_template_message_is_sent_or_the_row_fails_clearly(
    client: FlaskClient, runtime: Runtime, standin, session_factory, clock
) -> None:
    post_plain(client, text_xml("帮助", msg_id="20"))
    clock.advance(hours=49)

    def queue(key: str) -> None:
        with session_scope(session_factory) as s:
            writer = OutboxWriter(s, clock, "wechat")
            writer.add(f"wx:{OPENID}", Text("您的诉求已办结，请评价。"), key=key)
            rows = writer.scheduled()
        runtime.enqueue_rows(rows)
        run_jobs(runtime)

    queue("late-1")
    with session_factory() as s:
        row = s.scalars(select(OutboxMessage)).one()
    assert row.status == "failed" and "WECHAT_TEMPLATE_ID" in row.last_error
    rt = Runtime.build(runtime.settings.with_(wechat_template_id="TPL-1"), clock=clock,
                       connection=runtime.redis, engine=runtime.engine)  # fmt: skip
    job_runtime.install(rt)
    try:
        queue("late-2")
    finally:
        job_runtime.install(runtime)
    sent = standin.messages(OPENID)
    assert [m["msgtype"] for m in sent] == ["template"]
    assert sent[0]["body"]["data"]["content"]["value"] == "您的诉求已办结，请评价。"


def test_a_custom_message_refused_as_out_of_window_falls_back_to_the_template(
    client: FlaskClient, runtime: Runtime, standin, session_factory, clock
) -> None:
    post_plain(client, text_xml("帮助", msg_id="30"))
    standin.inject("message/custom/send", [45015])
    rt = Runtime.build(runtime.settings.with_(wechat_template_id="TPL-1"), clock=clock,
                       connection=runtime.redis, engine=runtime.engine)  # fmt: skip
    job_runtime.install(rt)
    try:
        card = TemplateCard("button_interaction", "诉求办结", desc="Z1 已办结", task_id="t1",
                            buttons=(Button("满意", "rate:1"), Button("不满意", "rate:0")))  # fmt: skip
        with session_scope(session_factory) as s:
            writer = OutboxWriter(s, clock, "wechat")
            writer.add(f"wx:{OPENID}", card, key="card-1")
            rows = writer.scheduled()
        rt.enqueue_rows(rows)
        run_jobs(rt)
    finally:
        job_runtime.install(runtime)
    sent = standin.messages(OPENID)
    assert [m["msgtype"] for m in sent] == ["template"]
    text = sent[0]["body"]["data"]["content"]["value"]
    assert "【诉求办结】" in text and "满意 / 不满意" in text


@pytest.mark.parametrize(
    "env, complaint",
    [
        ({"WECHAT_APP_ID": MP_APPID}, "WECHAT_TOKEN must be set"),
        ({"WECHAT_APP_ID": MP_APPID, "WECHAT_TOKEN": "t", "WECHAT_AES_KEY": "short"}, "43-character"),
        ({"WECHAT_TOKEN": "t"}, "WECHAT_APP_ID is not"),
        ({"WECHAT_APP_ID": MP_APPID, "WECHAT_TOKEN": "t", "WECHAT_API_BASE": "ftp://x"}, "WECHAT_API_BASE"),
    ],
)
def test_wechat_settings_are_checked_at_start_up(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        Settings.from_env(env)
    ok = Settings.from_env({"WECHAT_APP_ID": MP_APPID, "WECHAT_TOKEN": "t"})  # plain mode: no key needed
    assert ok.wechat_enabled and not Settings.from_env({}).wechat_enabled
