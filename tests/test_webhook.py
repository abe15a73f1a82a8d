"""End to end through the real encrypted webhook over HTTP: verification, refusals, dedup, timing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import func, select

from bot.models import EnterpriseMember, InboundMessage, OutboxMessage, Person, Role
from bot.queues import CLIENT_OPTIONS
from bot.replies import Text
from bot.routing import Router
from bot.runtime import Runtime
from bot.standin.platform import WeComPlatform, text_xml
from handlers import ALL_ROUTERS
from jobs import runtime as job_runtime
from tests import builders
from tests.builders import pushed_texts
from tests.conftest import run_jobs, serve

slow_router = Router("slow-test")


@slow_router.command("慢查询", slow=True, public=True)
def slow_query(ctx, args):
    """A deliberately slow handler (stands for an export or a big match)."""
    time.sleep(0.2)
    return Text("慢查询完成")


@slow_router.command("拖延", public=True)
def overrun(ctx, args):
    """A 'fast' handler that overruns the passive-reply deadline."""
    time.sleep(0.3)
    return Text("终于好了")


@pytest.fixture
def web(runtime: Runtime) -> Iterator[str]:
    """The real Flask app over HTTP, on the test runtime (with one extra slow test router)."""
    rt = Runtime.build(
        runtime.settings, clock=runtime.clock, connection=runtime.redis, engine=runtime.engine,
        routers=[*ALL_ROUTERS, slow_router],
    )  # fmt: skip
    job_runtime.install(rt)
    yield from serve(rt)


@pytest.fixture
def platform(web: str, settings) -> WeComPlatform:
    """WeCom itself, posting encrypted callbacks to our webhook."""
    return WeComPlatform(
        callback_url=f"{web}/wecom/callback",
        corp_id=settings.wecom_corp_id,
        token=settings.wecom_token,
        aes_key=settings.wecom_aes_key,
        agent_id=settings.wecom_agent_id,
    )


def _count(session_factory, model) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_url_verification_echoes_the_decrypted_echostr(platform, web):
    encrypt, signature = platform.crypto.encrypt("echo+1234/=", "nonce1", "1700000000")
    query = f"msg_signature={signature}&timestamp=1700000000&nonce=nonce1&echostr={encrypt}"  # raw '+' kept
    response = platform.http.get(f"{web}/wecom/callback?{query}", timeout=5)
    assert response.status_code == 200 and response.text == "echo+1234/="
    tampered = platform.http.get(f"{web}/wecom/callback?{query.replace('nonce1', 'nonce2')}", timeout=5)
    assert tampered.status_code == 403


def test_help_is_answered_passively_and_encrypted(platform):
    delivery = platform.send_text("someone_new", "帮助")
    assert delivery.status == 200
    assert "政企直通车 · 可用命令" in delivery.reply and "绑定 <统一社会信用代码>" in delivery.reply


def test_string_msgids_are_stored_as_text(platform, session_factory):
    delivery = platform.send_text("someone_new", "帮助", msg_id="CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw==")
    assert delivery.status == 200
    with session_factory() as s:
        assert s.scalar(select(InboundMessage.dedup_key)) == "wecom:msg:CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw=="


def test_a_callback_delivered_four_times_acts_once(platform, runtime, standin, session_factory):
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.person(s, "gxj_zhou", Role.OFFICIAL, department=gxj)
        uscc = builders.enterprise(s, "示范县恒通纺织有限公司", gxj).uscc
        s.commit()
    answers = [platform.send_text("new_boss", f"绑定 {uscc} 刘总", msg_id="77001").reply for _ in range(4)]
    assert all(a == answers[0] for a in answers) and "已提交绑定申请" in answers[0]
    run_jobs(runtime)
    assert _count(session_factory, EnterpriseMember) == 1
    assert _count(session_factory, InboundMessage) == 1
    assert len(standin.messages("gxj_zhou")) == 1  # one approval card, not four


@pytest.mark.parametrize(
    "mutate, status",
    [
        (lambda q, b: ({**q, "msg_signature": "0" * 40}, b), 403),
        (lambda q, b: ({k: v for k, v in q.items() if k != "nonce"}, b), 400),
        (lambda q, b: (q, b"not xml at all"), 400),
        (lambda q, b: (q, b.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[AAAA")), 403),
        (lambda q, b: (q, b"x" * 70_000), 413),
        (
            lambda q, b: (
                q,
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml>&e;</xml>',
            ),
            400,
        ),
    ],
    ids=["bad-signature", "missing-nonce", "garbage", "tampered-ciphertext", "oversized", "xxe"],
)
def test_bad_requests_are_refused_with_4xx_and_change_nothing(platform, web, session_factory, mutate, status):
    xml = text_xml(corp_id=platform.corp_id, user="u1", content="帮助", agent_id=1, create_time=1, msg_id="9")
    body, query = platform.crypto.build_callback_body(xml, "n1", "1700000000", platform.corp_id, 1)
    query, body = mutate(query, body)
    response = platform.http.post(f"{web}/wecom/callback", params=query, data=body, timeout=5)
    assert response.status_code == status
    assert _count(session_factory, InboundMessage) == 0


def test_a_message_for_another_corp_is_refused(platform, web, session_factory):
    other = WeComPlatform(f"{web}/wecom/callback", "wwOTHERCORP", platform.token, platform.aes_key, 1)
    assert other.send_text("u1", "帮助").status == 403
    assert _count(session_factory, InboundMessage) == 0


def test_slow_handlers_are_acknowledged_at_once_and_answered_by_a_worker(platform, runtime, standin):
    started = time.monotonic()
    delivery = platform.send_text("someone_new", "慢查询")
    assert time.monotonic() - started < 1.0
    assert "正在处理" in delivery.reply
    run_jobs(runtime)
    assert pushed_texts(standin.messages("someone_new")) == ["慢查询完成"]


def test_an_answer_past_the_passive_deadline_goes_through_the_outbox(platform, runtime, standin, monkeypatch):
    monkeypatch.setattr("bot.intake.PASSIVE_DEADLINE", 0.1)
    delivery = platform.send_text("someone_new", "拖延")
    assert delivery.status == 200 and delivery.reply is None  # empty 200: WeCom stops retrying
    run_jobs(runtime)
    assert pushed_texts(standin.messages("someone_new")) == ["终于好了"]


def test_with_redis_down_messages_are_still_stored_and_answered(
    settings, engine, clock, session_factory, standin
):
    dead = redis.Redis(host="127.0.0.1", port=1, **CLIENT_OPTIONS)
    rt = Runtime.build(settings, clock=clock, connection=dead, engine=engine)
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.person(s, "gxj_zhou", Role.OFFICIAL, department=gxj)
        uscc = builders.enterprise(s, "示范县恒通纺织有限公司", gxj).uscc
        s.commit()
    server_url = next(serve(rt))
    platform = WeComPlatform(f"{server_url}/wecom/callback", settings.wecom_corp_id, settings.wecom_token,
                             settings.wecom_aes_key, settings.wecom_agent_id)  # fmt: skip
    started = time.monotonic()
    delivery = platform.send_text("new_boss", f"绑定 {uscc}")
    assert delivery.status == 200 and "已提交绑定申请" in delivery.reply
    assert time.monotonic() - started < 2.0
    with session_factory() as s:
        assert s.scalar(select(OutboxMessage.status)) == "pending"  # waits for Redis, not lost
        assert s.scalar(select(Person.wecom_userid).where(Person.wecom_userid == "new_boss")) == "new_boss"
