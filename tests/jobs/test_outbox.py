"""The outbox's promises, at the job layer: once to the user's eye, deferred not lost, dead letters kept.

Every test runs the real jobs (jobs.outbox.deliver / sweep) against the test database, the real
Redis and the WeCom stand-in over HTTP, with the fixed clock deciding what is due.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select

from bot.db import session_scope
from bot.models import OutboxMessage, OutboxStatus
from bot.outbox import (
    KEYS_PER_QUERY,
    LEASE,
    MAX_ATTEMPTS,
    SWEEP_GRACE,
    OutboxWriter,
    failed_rows,
    requeue_failed,
)
from bot.queues import CLIENT_OPTIONS
from bot.replies import Image, Reply, Text
from bot.runtime import Runtime
from jobs import outbox as outbox_jobs
from jobs import runtime as job_runtime
from tests.builders import pushed_texts
from tests.conftest import T0, run_jobs, selects_sent

USER = "zhang_san"


# ---------------------------------------------------------------- helpers


def add_messages(rt: Runtime, *messages: tuple[str, Reply, str]) -> list[int]:
    """Write (recipient, reply, key) rows in one committed transaction, then queue them as a handler does."""
    with session_scope(rt.session_factory) as session:
        writer = OutboxWriter(session, rt.clock)
        for recipient, reply, key in messages:
            writer.add(recipient, reply, key=key)
        rows = writer.scheduled()
    rt.enqueue_rows(rows)
    return [outbox_id for outbox_id, _ in rows]


def add_text(rt: Runtime, text: str, recipient: str = USER, key: str | None = None) -> int:
    """One text row to one recipient, committed and queued; its id."""
    (outbox_id,) = add_messages(rt, (recipient, Text(text), key or f"test:{recipient}:{text}"))
    return outbox_id


def row(rt: Runtime, outbox_id: int) -> OutboxMessage:
    """The row as stored now."""
    with rt.session_factory() as session:
        return session.get_one(OutboxMessage, outbox_id)


def outbox_count(rt: Runtime) -> int:
    with rt.session_factory() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def texts_to(standin, user: str = USER) -> list[str]:
    return pushed_texts(standin.messages(user))


def run_until_settled(rt: Runtime, outbox_id: int, max_rounds: int = 20) -> OutboxMessage:
    """Run jobs, move the clock to the row's next try, repeat until it is sent or failed."""
    for _ in range(max_rounds):
        run_jobs(rt)
        current = row(rt, outbox_id)
        if current.status in (OutboxStatus.SENT, OutboxStatus.FAILED):
            return current
        rt.clock.set(max(rt.clock.now(), current.not_before))  # type: ignore[attr-defined]
    raise AssertionError(f"row {outbox_id} never settled: a retry loop?")


@pytest.fixture
def dead_redis() -> Iterator[redis.Redis]:
    """A client for a Redis that is not there (nothing listens on port 1)."""
    conn = redis.Redis(host="127.0.0.1", port=1, **CLIENT_OPTIONS)
    yield conn
    conn.close()


# ---------------------------------------------------------------- exactly once


def test_a_committed_row_is_delivered_once_and_a_retried_job_sends_nothing_more(runtime, standin):
    outbox_id = add_text(runtime, "您的诉求已受理")
    run_jobs(runtime)
    assert texts_to(standin) == ["您的诉求已受理"]
    stored = row(runtime, outbox_id)
    assert stored.status == OutboxStatus.SENT and stored.sent_at == T0 and stored.platform_msgid

    assert outbox_jobs.deliver(outbox_id) == "skipped"  # RQ re-ran the job
    run_jobs(runtime)
    assert len(standin.messages()) == 1


def test_a_row_in_a_rolled_back_transaction_is_never_sent(runtime, standin):
    with pytest.raises(RuntimeError), session_scope(runtime.session_factory) as session:
        OutboxWriter(session, runtime.clock).add(USER, Text("不该发出"), key="rolled-back")
        session.flush()
        raise RuntimeError("the handler failed after writing the row")
    run_jobs(runtime)
    assert outbox_count(runtime) == 0 and standin.messages() == []


def test_the_same_idempotency_key_twice_in_one_transaction_is_one_row_and_one_message(runtime, standin):
    ids = add_messages(runtime, (USER, Text("提醒"), "reminder:7"), (USER, Text("提醒"), "reminder:7"))
    run_jobs(runtime)
    assert len(ids) == 1 and outbox_count(runtime) == 1
    assert texts_to(standin) == ["提醒"]


def test_a_rerun_handler_with_the_same_key_queues_nothing_new(runtime, standin):
    first = add_messages(runtime, (USER, Text("提醒"), "reminder:8"))
    again = add_messages(runtime, (USER, Text("提醒（重跑）"), "reminder:8"))
    run_jobs(runtime)
    assert len(first) == 1 and again == [] and outbox_count(runtime) == 1
    assert texts_to(standin) == ["提醒"]


# ---------------------------------------------------------------- platform errors


def test_a_platform_rate_limit_defers_the_row_until_the_clock_passes_it(runtime, standin):
    standin.inject("message/send", [45009])
    outbox_id = add_text(runtime, "限流后再发")
    run_jobs(runtime)
    deferred = row(runtime, outbox_id)
    assert deferred.status == OutboxStatus.PENDING and deferred.not_before > T0
    assert "rate" in (deferred.last_error or "") and texts_to(standin) == []

    runtime.clock.set(deferred.not_before)
    run_jobs(runtime)
    assert texts_to(standin) == ["限流后再发"]
    assert row(runtime, outbox_id).status == OutboxStatus.SENT


def test_an_expired_token_is_refreshed_and_the_message_sent_in_the_same_attempt(runtime, standin):
    standin.inject("message/send", [42001])
    outbox_id = add_text(runtime, "令牌过期也能送达")
    run_jobs(runtime)
    assert texts_to(standin) == ["令牌过期也能送达"]
    assert standin.calls("gettoken") == 2  # the first token, then one refresh
    sent = row(runtime, outbox_id)
    assert sent.status == OutboxStatus.SENT and sent.attempts == 1


def test_a_gateway_error_defers_the_row_and_it_is_sent_later(runtime, standin):
    standin.inject("message/send", [{"http": 502}])
    outbox_id = add_text(runtime, "网关故障后送达")
    run_jobs(runtime)
    deferred = row(runtime, outbox_id)
    assert deferred.status == OutboxStatus.PENDING and "502" in (deferred.last_error or "")
    assert texts_to(standin) == []

    runtime.clock.advance(seconds=1)
    run_jobs(runtime)
    assert texts_to(standin) == []  # not before its back-off ran out

    runtime.clock.set(deferred.not_before)
    run_jobs(runtime)
    assert texts_to(standin) == ["网关故障后送达"]


def test_a_permanent_error_is_a_dead_letter_that_an_admin_can_requeue(runtime, standin):
    standin.inject("message/send", [40058])
    outbox_id = add_text(runtime, "内容有误")
    run_jobs(runtime)
    with runtime.session_factory() as session:
        dead = failed_rows(session)
    assert [r.id for r in dead] == [outbox_id] and "40058" in (dead[0].last_error or "")
    assert texts_to(standin) == []

    runtime.clock.advance(minutes=30)  # the admin looks later; the fault is gone
    with session_scope(runtime.session_factory) as session:
        ids = requeue_failed(session, runtime.clock.now())
    for requeued in ids:
        runtime.enqueue_delivery(requeued, "retry")
    run_jobs(runtime)
    assert ids == [outbox_id] and texts_to(standin) == ["内容有误"]
    with runtime.session_factory() as session:
        assert failed_rows(session) == []


def test_a_recipient_unknown_to_wecom_fails_the_row_without_retries(runtime, standin):
    standin.set_users(["li_si"])
    outbox_id = add_text(runtime, "发给已离职的人")
    run_jobs(runtime)
    failed = row(runtime, outbox_id)
    assert failed.status == OutboxStatus.FAILED and failed.attempts == 1
    assert "81013" in (failed.last_error or "")  # WeCom: "user & party & tag all invalid"
    assert standin.messages() == []


def test_a_recipient_unknown_to_wecom_is_recorded_in_invalid_users(runtime, standin):
    standin.set_users(["li_si"])
    outbox_id = add_text(runtime, "发给已离职的人")
    run_jobs(runtime)
    assert row(runtime, outbox_id).invalid_users == USER


def test_endless_transient_failures_end_as_a_dead_letter_after_max_attempts(runtime, standin):
    standin.inject("message/send", [{"http": 502}] * (MAX_ATTEMPTS + 5))
    outbox_id = add_text(runtime, "一直失败")
    settled = run_until_settled(runtime, outbox_id)
    assert settled.status == OutboxStatus.FAILED and settled.attempts == MAX_ATTEMPTS
    assert "gave up" in (settled.last_error or "")
    assert standin.calls("message/send") == MAX_ATTEMPTS

    runtime.clock.advance(hours=1)
    assert outbox_jobs.sweep() == 0  # a dead letter is not swept back in
    run_jobs(runtime)
    assert standin.calls("message/send") == MAX_ATTEMPTS and texts_to(standin) == []


def test_a_row_that_cannot_be_rendered_ends_as_a_dead_letter(runtime, standin, tmp_path):
    (outbox_id,) = add_messages(runtime, (USER, Image(path=str(tmp_path / "gone.png")), "img:1"))
    for _ in range(4 * MAX_ATTEMPTS):  # bounded: backoff grows, so give it time, not forever
        run_jobs(runtime)
        if row(runtime, outbox_id).status == OutboxStatus.FAILED:
            break
        runtime.clock.advance(seconds=(LEASE + SWEEP_GRACE).total_seconds() + 1)
        outbox_jobs.sweep()
    dead = row(runtime, outbox_id)
    assert dead.status == OutboxStatus.FAILED and dead.attempts == MAX_ATTEMPTS
    assert "FileNotFoundError" in dead.last_error
    assert standin.messages() == []


# ---------------------------------------------------------------- our own send limit


@pytest.fixture
def limited(settings, engine, redis_conn, clock, session_factory) -> Iterator[Runtime]:
    """A runtime allowing 3 messages a minute per member, installed for jobs."""
    rt = Runtime.build(
        settings.with_(per_member_per_minute=3), clock=clock, connection=redis_conn, engine=engine
    )
    job_runtime.install(rt)
    yield rt
    job_runtime.install(None)


def test_the_per_member_limit_holds_back_the_excess_for_a_minute(limited, standin):
    ids = [add_text(limited, f"第{n}条") for n in range(1, 6)]
    run_jobs(limited)
    assert texts_to(standin) == ["第1条", "第2条", "第3条"]
    held = [row(limited, i) for i in ids[3:]]
    assert all(r.status == OutboxStatus.PENDING and r.attempts == 0 for r in held)  # not a failed try
    assert all(r.not_before == T0 + timedelta(seconds=60) for r in held)

    limited.clock.advance(seconds=30)
    run_jobs(limited)
    assert len(texts_to(standin)) == 3  # the window is measured by our clock, not the wall clock

    limited.clock.advance(seconds=31)
    run_jobs(limited)
    assert texts_to(standin) == ["第1条", "第2条", "第3条", "第4条", "第5条"]


def test_the_per_member_limit_does_not_hold_back_other_people(limited, standin):
    for n in range(1, 6):
        add_text(limited, f"第{n}条")
    add_text(limited, "给李四", recipient="li_si")
    run_jobs(limited)
    assert texts_to(standin, "li_si") == ["给李四"]
    assert len(texts_to(standin)) == 3


# ---------------------------------------------------------------- recovery by the sweeper


def test_a_worker_killed_after_sending_is_resent_and_the_platform_drops_the_repeat(runtime, standin):
    outbox_id = add_text(runtime, "只应看到一次")
    runtime.redis.flushdb()  # its job is lost with the worker
    with runtime.deliverer._connection() as conn:
        claimed = runtime.deliverer._claim(conn, outbox_id)
    assert claimed is not None
    runtime.deliverer._send(claimed)  # the send reached WeCom; then the worker died
    assert row(runtime, outbox_id).status == OutboxStatus.SENDING

    runtime.clock.advance(seconds=LEASE.total_seconds() - 1)
    assert outbox_jobs.sweep() == 0  # the lease still protects it

    runtime.clock.advance(seconds=2)
    assert outbox_jobs.sweep() == 1
    run_jobs(runtime)
    assert row(runtime, outbox_id).status == OutboxStatus.SENT
    assert texts_to(standin) == ["只应看到一次"] and len(standin.suppressed()) == 1


def test_the_same_words_again_to_one_person_arrive_with_a_note_naming_the_earlier_message(runtime, standin):
    add_text(runtime, "本周无新增诉求", key="first")
    run_jobs(runtime)
    runtime.clock.advance(minutes=10)
    add_text(runtime, "本周无新增诉求", key="second")  # a distinct row: a question asked again
    run_jobs(runtime)
    first, second = texts_to(standin)
    assert first == "本周无新增诉求"
    assert second.startswith("本周无新增诉求\n（与 ") and second.endswith(" 的消息内容相同）")
    assert standin.suppressed() == []


def test_outside_the_check_window_the_same_words_go_out_as_they_are(runtime, standin):
    add_text(runtime, "本周无新增诉求", key="first")
    run_jobs(runtime)
    runtime.clock.advance(minutes=31)
    add_text(runtime, "本周无新增诉求", key="second")
    run_jobs(runtime)
    # Sent word for word (the stand-in's own window runs on real time, so it drops this one).
    (again,) = standin.suppressed()
    assert again["body"]["text"]["content"] == "本周无新增诉求"


def test_a_repeated_message_resent_after_a_killed_worker_is_still_dropped_once(runtime, standin):
    add_text(runtime, "本周无新增诉求", key="first")
    run_jobs(runtime)
    runtime.clock.advance(minutes=5)
    outbox_id = add_text(runtime, "本周无新增诉求", key="second")
    runtime.redis.flushdb()  # its job is lost with the worker
    with runtime.deliverer._connection() as conn:
        claimed = runtime.deliverer._claim(conn, outbox_id)
    assert claimed is not None
    runtime.deliverer._send(claimed)  # reached WeCom, with its note; then the worker died
    runtime.clock.advance(seconds=LEASE.total_seconds() + 1)
    assert outbox_jobs.sweep() == 1
    run_jobs(runtime)
    assert row(runtime, outbox_id).status == OutboxStatus.SENT
    assert len(texts_to(standin)) == 2 and len(standin.suppressed()) == 1  # the retry said the same


def test_a_row_added_while_redis_is_down_is_queued_by_the_sweeper(
    runtime, settings, engine, clock, dead_redis, standin, caplog
):
    down = Runtime.build(settings, clock=clock, connection=dead_redis, engine=engine)
    with caplog.at_level(logging.WARNING, logger="bot.runtime"):
        outbox_id = add_text(down, "Redis 恢复后送达")
    assert f"outbox {outbox_id} not queued" in caplog.text
    assert row(runtime, outbox_id).status == OutboxStatus.PENDING

    assert outbox_jobs.sweep() == 0  # younger than the grace: its own job may still come
    clock.advance(seconds=SWEEP_GRACE.total_seconds())
    assert outbox_jobs.sweep() == 1
    run_jobs(runtime)
    assert texts_to(standin) == ["Redis 恢复后送达"]


def test_the_sweeper_leaves_scheduled_and_sent_rows_alone(runtime, standin):
    sent_id = add_text(runtime, "已发送")
    run_jobs(runtime)
    with session_scope(runtime.session_factory) as session:
        writer = OutboxWriter(session, runtime.clock)
        writer.add(USER, Text("明天再发"), key="later", not_before=T0 + timedelta(days=1))
    runtime.clock.advance(hours=1)
    assert outbox_jobs.sweep() == 0
    assert row(runtime, sent_id).status == OutboxStatus.SENT


def test_a_row_scheduled_for_later_is_sent_when_the_clock_gets_there(runtime, standin):
    with session_scope(runtime.session_factory) as session:
        writer = OutboxWriter(session, runtime.clock)
        writer.add(USER, Text("明早提醒"), key="morning", not_before=T0 + timedelta(hours=1))
        rows = writer.scheduled()
    runtime.enqueue_rows(rows)
    run_jobs(runtime)
    assert texts_to(standin) == []
    runtime.clock.advance(hours=1)
    run_jobs(runtime)
    assert texts_to(standin) == ["明早提醒"]


def test_a_card_breaking_wecoms_limits_is_refused_when_written_not_when_sent(runtime, session_factory):
    from bot.outbox import OutboxWriter
    from bot.replies import Button, TemplateCard

    seven = tuple(Button(f"按钮{n}", f"k:{n}") for n in range(7))
    card = TemplateCard("button_interaction", "太多按钮", task_id="t-7", buttons=seven)
    with session_factory() as s, pytest.raises(ValueError, match="6"):
        OutboxWriter(s, runtime.clock).add(USER, card, key="card:7")


# ---------------------------------------------------------------- a job's worth of messages


def weekly_prompts(officials: int) -> list[tuple[str, Reply, str]]:
    return [(f"official_{n}", Text("请报送本周进展"), f"weekly:{n}") for n in range(officials)]


def test_a_big_job_looks_its_keys_up_in_a_few_queries_and_skips_those_queued_before(runtime, engine):
    add_messages(runtime, *weekly_prompts(200))  # an earlier run of the job queued these
    written: list[int] = []
    lookups = selects_sent(
        engine, lambda: written.extend(add_messages(runtime, *weekly_prompts(1200))), "idempotency_key"
    )
    assert lookups == -(-1200 // KEYS_PER_QUERY)  # 3, not one per message
    assert len(written) == 1000 and outbox_count(runtime) == 1200


def test_a_message_rolled_back_with_its_savepoint_can_be_written_again(runtime, standin):
    with session_scope(runtime.session_factory) as session:
        writer = OutboxWriter(session, runtime.clock)
        with pytest.raises(RuntimeError), session.begin_nested():
            writer.add(USER, Text("第一次"), key="nested:1")
            session.flush()
            raise RuntimeError("this step failed and its savepoint was rolled back")
        writer.add(USER, Text("第二次"), key="nested:1")
        rows = writer.scheduled()
    runtime.enqueue_rows(rows)
    run_jobs(runtime)
    assert texts_to(standin) == ["第二次"]


# How each backend says whether a commit waits for the disk: (query, relaxed, durable).
DURABILITY = {"postgresql": ("SHOW synchronous_commit", "off", "on"), "sqlite": ("PRAGMA synchronous", 1, 2)}


def test_only_the_workers_own_bookkeeping_skips_waiting_for_the_disk(runtime):
    query, relaxed, durable = DURABILITY[runtime.engine.dialect.name]
    with runtime.deliverer._connection() as conn:  # claims and "sent" marks
        assert conn.exec_driver_sql(query).scalar() == relaxed
    with runtime.engine.connect() as conn:  # what handlers and jobs write
        assert conn.exec_driver_sql(query).scalar() == durable


def test_a_restarted_database_costs_no_message(runtime, standin):
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL server process to end")
    outbox_id = add_text(runtime, "数据库重启后照常送达")
    with runtime.deliverer._connection() as conn:  # the worker's pooled connection…
        backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with runtime.engine.connect() as admin:  # …whose server process goes away, as in a restart
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend)})")
    assert outbox_jobs.deliver(outbox_id) == "sent"
    assert texts_to(standin) == ["数据库重启后照常送达"]
