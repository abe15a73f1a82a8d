"""Inbound messages left for a worker: the sweeper recovers lost ones, a failing handler apologises once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import func, select

from bot.intake import ACK_SLOW, SORRY, Intake
from bot.messages import Channel, Inbound, Kind
from bot.models import InboundMessage, InboundStatus, OutboxMessage
from bot.queues import CLIENT_OPTIONS, INBOUND
from bot.replies import Text
from bot.routing import Router
from bot.runtime import Runtime
from jobs import inbound as inbound_jobs
from jobs import runtime as job_runtime
from tests.builders import Chat, pushed_texts
from tests.conftest import run_jobs

USER = "wang_wu"

test_router = Router("inbound-test")


@test_router.command("查询", public=True, slow=True)
def slow_lookup(ctx, args):
    """A slow command answered by a worker."""
    return Text(f"查询结果：{args or '无'}")


@test_router.command("出错", public=True, slow=True)
def broken_slow(ctx, args):
    """A slow command with a bug."""
    raise RuntimeError("bug in a slow handler")


@test_router.command("坏了", public=True)
def broken_fast(ctx, args):
    """A fast command with a bug."""
    raise KeyError("bug in a fast handler")


@pytest.fixture
def rt(settings, engine, redis_conn, clock, session_factory) -> Iterator[Runtime]:
    """A runtime mounting only the test router, installed for jobs."""
    built = Runtime.build(settings, clock=clock, connection=redis_conn, engine=engine, routers=[test_router])
    job_runtime.install(built)
    yield built
    job_runtime.install(None)


def store(rt: Runtime, text: str, key: str = "wecom:msg:lost-1") -> int:
    """A message stored by the webhook whose handling job never ran (a crash after the insert)."""
    inbound = Inbound(Channel.WECOM_APP, Kind.TEXT, USER, key, rt.clock.now(), text=text, msg_id=key)
    inbound_id = Intake(rt).store(inbound)
    assert inbound_id is not None
    return inbound_id


def inbound_row(rt: Runtime, inbound_id: int) -> InboundMessage:
    with rt.session_factory() as session:
        return session.get_one(InboundMessage, inbound_id)


def outbox_count(rt: Runtime) -> int:
    with rt.session_factory() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


# ---------------------------------------------------------------- the sweeper


def test_a_stored_unhandled_message_is_answered_once_after_it_goes_stale(rt, standin):
    inbound_id = store(rt, "查询 营业执照")
    assert inbound_jobs.sweep() == 0  # still fresh: its job may yet come
    rt.clock.advance(seconds=inbound_jobs.STALE_AFTER.total_seconds() - 1)
    assert inbound_jobs.sweep() == 0

    rt.clock.advance(seconds=2)
    assert inbound_jobs.sweep() == 1
    run_jobs(rt)
    assert pushed_texts(standin.messages(USER)) == ["查询结果：营业执照"]
    assert inbound_row(rt, inbound_id).status == InboundStatus.HANDLED

    rt.clock.advance(minutes=5)
    assert inbound_jobs.sweep() == 0
    assert inbound_jobs.handle(inbound_id) == 0  # a retried job finds it handled
    run_jobs(rt)
    assert len(standin.messages()) == 1 and outbox_count(rt) == 1


def test_a_message_posted_while_redis_is_down_is_answered_once_redis_is_back(
    rt, settings, engine, clock, standin
):
    dead = redis.Redis(host="127.0.0.1", port=1, **CLIENT_OPTIONS)
    down = Runtime.build(settings, clock=clock, connection=dead, engine=engine, routers=[test_router])
    replies = Chat(down).say(USER, "查询 税务登记")
    dead.close()
    assert replies == [Text("收到。系统繁忙，处理结果稍后发给您。")]  # stored, not yet handled

    clock.advance(seconds=61)
    assert inbound_jobs.sweep() == 1  # the worker's runtime, Redis back
    run_jobs(rt)
    assert pushed_texts(standin.messages(USER)) == ["查询结果：税务登记"]


def test_a_late_original_job_and_the_sweeper_answer_once(rt, standin):
    inbound_id = store(rt, "查询 社保")
    rt.clock.advance(seconds=61)
    assert rt.enqueue_handling(inbound_id)  # the original job turns up late …
    inbound_jobs.sweep()  # … while the sweeper queues it too: same job id, so no second job
    assert rt.queues[INBOUND].job_ids == [f"inbound-{inbound_id}"]
    run_jobs(rt)
    assert inbound_jobs.handle(inbound_id) == 0  # and a retry of the job finds it handled
    run_jobs(rt)
    assert pushed_texts(standin.messages(USER)) == ["查询结果：社保"]


# ---------------------------------------------------------------- a handler that raises


def test_a_failing_slow_handler_marks_the_message_failed_and_apologises_once(rt, standin, caplog):
    assert Chat(rt).say(USER, "出错") == [ACK_SLOW]
    run_jobs(rt)
    assert pushed_texts(standin.messages(USER)) == [SORRY.content]
    with rt.session_factory() as session:
        row = session.scalar(select(InboundMessage))
    assert row is not None and row.status == InboundStatus.FAILED and row.error
    assert "bug in a slow handler" in caplog.text  # the traceback is logged for us, not sent to them

    assert inbound_jobs.handle(row.id) == 0  # a retried job
    rt.clock.advance(minutes=5)
    assert inbound_jobs.sweep() == 0  # failed is not "never handled"
    run_jobs(rt)
    assert len(standin.messages()) == 1


def test_a_failing_fast_handler_apologises_in_the_passive_reply_only(rt, standin):
    assert Chat(rt).say(USER, "坏了") == [SORRY]
    run_jobs(rt)
    assert standin.messages() == [] and outbox_count(rt) == 0  # not a second apology by the API
    with rt.session_factory() as session:
        assert session.scalar(select(InboundMessage.status)) == InboundStatus.FAILED


def test_a_failing_handler_leaves_no_half_done_changes(rt, standin):
    failing = Router("half-done")

    @failing.command("半途", public=True, slow=True)
    def half_done(ctx, args):
        """Queues a notice, then fails: the notice must not go out."""
        ctx.notify("boss", Text("不该收到"), key="half-done:notice")
        raise RuntimeError("failed after queuing a notice")

    built = Runtime.build(
        rt.settings, clock=rt.clock, connection=rt.redis, engine=rt.engine, routers=[failing]
    )
    job_runtime.install(built)
    Chat(built).say(USER, "半途")
    run_jobs(built)
    assert standin.messages("boss") == []
    assert pushed_texts(standin.messages(USER)) == [SORRY.content]
