"""盯单 through real RQ: a scheduled alarm job fires at its time and reaches WeCom once; the sweep
re-queues an alarm whose job was lost with Redis.

The jobs run against the test database, the real Redis and the WeCom stand-in; the fixed clock
decides which scheduled jobs are due (release_scheduled).
"""

from __future__ import annotations

from datetime import timedelta

from bot.db import session_scope
from bot.models import Person
from bot.queues import DEFAULT
from bot.runtime import Runtime
from handlers.complaints import alarms, service
from handlers.complaints.models import WorkOrder
from handlers.complaints.rules import rules_from
from jobs import orders as order_jobs
from jobs.orders import SWEEP_GRACE
from jobs.schedule import tick
from tests.builders import pushed_cards, pushed_texts
from tests.conftest import T0, run_jobs

H = timedelta(hours=1)


def file_and_arm(rt: Runtime, boss_id: int) -> int:
    """File an order as a handler does: one transaction, then the alarm job scheduled after commit."""
    with session_scope(rt.session_factory) as session:
        boss = session.get_one(Person, boss_id)
        order = service.file_order(session, boss, "厂区门前路灯坏了", "水电气", "普通", rt.clock.now()).order
        job = alarms.arm(session, order, rules_from(rt.settings), rt.clock.now())
        order_id = order.id
    assert job is not None
    rt.enqueue_deferred([job])
    return order_id


def scheduled_ids(rt: Runtime) -> list[str]:
    return rt.queues[DEFAULT].scheduled_job_registry.get_job_ids()


def number_of(rt: Runtime, order_id: int) -> str:
    with rt.session_factory() as session:
        return session.get_one(WorkOrder, order_id).number


def test_a_scheduled_alarm_runs_at_its_time_and_reaches_wecom_once(runtime, standin, county):
    order_id = file_and_arm(runtime, county.boss.id)
    number = number_of(runtime, order_id)
    warn_at = T0 + 22 * H
    assert scheduled_ids(runtime) == [alarms.alarm_job_id(order_id, "pickup.warn", warn_at)]

    runtime.clock.set(warn_at - timedelta(minutes=1))
    run_jobs(runtime)
    assert standin.messages() == []  # not yet

    runtime.clock.set(warn_at)
    run_jobs(runtime)
    for official in ("gxj_zhou", "gxj_wu"):
        (text,) = pushed_texts(standin.messages(official))
        assert text.startswith(f"⏰ 诉求 {number}") and "接单时限" in text
    assert standin.messages("zhang_wei") == []
    assert scheduled_ids(runtime) == [alarms.alarm_job_id(order_id, "pickup.overdue", T0 + 24 * H)]

    assert order_jobs.alarm(order_id).startswith("0 messages")  # RQ ran it again: nothing more
    run_jobs(runtime)
    assert len(standin.messages()) == 2

    runtime.clock.set(T0 + 28 * H)  # the worker slept through the overdue and the head's rungs
    run_jobs(runtime)
    assert [len(pushed_texts(standin.messages(u))) for u in ("gxj_zhou", "gxj_wu")] == [1, 1]
    (card,) = pushed_cards(standin.messages("leader_wang"))
    assert card["body"]["template_card"]["main_title"]["title"] == "诉求超时未接单，请督办"
    assert scheduled_ids(runtime) == []  # the top of the ladder
    assert runtime.queues[DEFAULT].failed_job_registry.count == 0


def test_the_sweep_requeues_an_alarm_whose_job_was_lost(runtime, standin, county):
    order_id = file_and_arm(runtime, county.boss.id)
    runtime.redis.flushdb()  # Redis lost the scheduled job
    warn_at = T0 + 22 * H

    runtime.clock.set(warn_at)
    run_jobs(runtime)
    assert standin.messages() == []  # no job, no warning
    assert order_jobs.sweep() == 0  # just due: its own job may still be on the way

    runtime.clock.set(warn_at + SWEEP_GRACE)
    assert order_jobs.sweep() == 1
    assert order_jobs.sweep() == 1  # swept twice before a worker got to it: one job
    assert runtime.queues[DEFAULT].count == 1
    run_jobs(runtime)
    assert {m["touser"] for m in standin.messages()} == {"gxj_zhou", "gxj_wu"}
    assert len(standin.messages()) == 2
    assert order_jobs.sweep() == 0  # fired: the next rung is not due yet
    assert scheduled_ids(runtime) == [alarms.alarm_job_id(order_id, "pickup.overdue", T0 + 24 * H)]


def test_the_alarm_sweep_is_on_the_schedule_every_five_minutes(runtime):
    assert "cron-order-alarms-20261124T0930" in tick()  # T0: 09:30 Beijing
    runtime.clock.advance(minutes=3)
    assert not [run for run in tick() if "order-alarms" in run]
    runtime.clock.advance(minutes=2)
    assert "cron-order-alarms-20261124T0935" in tick()
    run_jobs(runtime)  # the sweep runs cleanly on an empty register
    assert runtime.queues[DEFAULT].failed_job_registry.count == 0
