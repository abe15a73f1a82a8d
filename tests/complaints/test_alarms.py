"""盯单 with a fixed clock: the ladder, arming after transitions, who hears each rung, and only once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.models import Oversight, Person, Role
from bot.outbox import OutboxWriter
from bot.replies import Reply, TemplateCard, Text, reply_from_dict
from handlers.complaints import alarms, closing, service
from handlers.complaints.models import ClockMode, OrderEvent, OrderState, WorkOrder
from handlers.complaints.rules import OrderRules
from tests import builders
from tests.conftest import T0

H = timedelta(hours=1)
RULES = OrderRules()  # warn 2 h before, head 2 h and leader 4 h after, remind at 24 h, close at 72 h
FIRM = "示范县鑫源食品有限公司"
TEXT = "厂区门前路灯坏了，夜间运输不安全。"


def file(session, county, at=T0, category="水电气", **kw) -> WorkOrder:
    """The boss files an order at `at`, and it is armed as the chat handler does; committed."""
    order = service.file_order(session, county.boss, TEXT, category, "普通", at, **kw).order
    alarms.arm(session, order, RULES, at)
    session.commit()
    return order


def then(session, transition, at) -> WorkOrder:
    """Arm the order after a transition, as the chat handler does; committed."""
    alarms.arm(session, transition.order, RULES, at)
    session.commit()
    return transition.order


def fire(session, order, at, rules=RULES):
    """Run the alarm job's service at `at`: (the next job, {userid: [replies]}), committed."""
    outbox = OutboxWriter(session, FixedClock(at))
    following = alarms.fire(session, outbox, order.id, rules, at)
    session.commit()
    sent: dict[str, list[Reply]] = {}
    for row in outbox.rows:
        sent.setdefault(row.recipient, []).append(reply_from_dict(row.payload))
    return following, sent


def texts(replies: list[Reply]) -> list[str]:
    return [r.content for r in replies if isinstance(r, Text)]


def stored(session, order) -> tuple[str | None, datetime | None]:
    row = session.execute(
        select(WorkOrder.alarm_rung, WorkOrder.alarm_at).where(WorkOrder.id == order.id)
    ).one()
    return row.alarm_rung, row.alarm_at


def reminders(session, order) -> list[tuple[str, str, list[str]]]:
    """(action, rung, recipients) of the 催办/督办 events in the register."""
    query = (
        select(OrderEvent)
        .where(OrderEvent.order_id == order.id, OrderEvent.action.in_(["remind", "escalate"]))
        .order_by(OrderEvent.id)
    )
    return [(e.action, e.data["rung"], e.data["to"]) for e in session.scalars(query)]


def pick_up(session, county, order, at, who=None) -> WorkOrder:
    return then(session, service.pick_up(session, who or county.gxj_wu, order.number, at), at)


# ---------------------------------------------------------------- the ladder


def test_the_ladder_follows_the_state_and_its_deadline(session, county):
    order = file(session, county)
    assert alarms.ladder(order, RULES) == [
        ("pickup.warn", T0 + 22 * H),
        ("pickup.overdue", T0 + 24 * H),
        ("pickup.head", T0 + 26 * H),
        ("pickup.leader", T0 + 28 * H),
    ]
    pick_up(session, county, order, T0 + 3 * H)
    assert alarms.ladder(order, RULES) == [
        ("solve.warn", T0 + 25 * H),
        ("solve.overdue", T0 + 27 * H),
        ("solve.head", T0 + 29 * H),
        ("solve.leader", T0 + 31 * H),
    ]
    resolved = closing.resolve(session, county.gxj_wu, order.number, "路灯已修复", T0 + 5 * H)
    then(session, resolved, T0 + 5 * H)
    assert alarms.ladder(order, RULES) == [
        ("signoff.remind", T0 + 29 * H),
        ("signoff.close", T0 + 77 * H),
    ]
    then(session, closing.rate(session, county.boss, order.number, "满意", T0 + 6 * H), T0 + 6 * H)
    assert alarms.ladder(order, RULES) == [] and stored(session, order) == (None, None)


def test_an_approved_extension_moves_the_solve_rungs(session, county):
    order = file(session, county)
    pick_up(session, county, order, T0)
    until = T0 + 72 * H
    closing.request_extension(session, county.gxj_wu, order.number, until, "等待省厅批复", T0 + H)
    then(
        session, closing.decide_extension(session, county.leader, order.number, True, T0 + 2 * H), T0 + 2 * H
    )
    assert alarms.ladder(order, RULES)[:2] == [("solve.warn", until - 2 * H), ("solve.overdue", until)]
    assert stored(session, order) == ("solve.warn", until - 2 * H)


def test_in_working_mode_the_ladder_does_not_count_the_weekend(session, county):
    thursday_2200 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # 22:00 Beijing
    order = file(session, county, at=thursday_2200, mode=ClockMode.WORKING)
    friday_2200 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    assert order.pickup_due_at == friday_2200
    assert alarms.ladder(order, RULES) == [
        ("pickup.warn", friday_2200 - 2 * H),
        ("pickup.overdue", friday_2200),
        ("pickup.head", friday_2200 + 2 * H),  # the last moment of Friday
        ("pickup.leader", datetime(2026, 11, 29, 18, 0, tzinfo=UTC)),  # Monday 02:00, not Saturday 02:00
    ]


def test_in_working_mode_a_warning_before_a_monday_deadline_comes_on_friday(session, county):
    friday_0100 = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # 01:00 Beijing
    order = file(session, county, at=friday_0100, mode=ClockMode.WORKING)
    monday_0100 = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
    assert order.pickup_due_at == monday_0100
    warn = alarms.ladder(order, RULES)[0]
    assert warn == ("pickup.warn", datetime(2026, 11, 27, 15, 0, tzinfo=UTC))  # Friday 23:00, not Sunday


def test_a_county_may_turn_the_warning_off_and_escalate_to_head_and_leader_at_once(session, county):
    rules = OrderRules(warn_before=timedelta(0), head_after=4 * H, leader_after=4 * H)
    order = file(session, county)
    assert [rung for rung, _ in alarms.ladder(order, rules)] == [
        "pickup.overdue",
        "pickup.head",
        "pickup.leader",
    ]
    _, sent = fire(session, order, T0 + 28 * H, rules)
    assert set(sent) == {"gxj_zhou", "leader_wang"}  # two rungs due at one moment: both are sent
    assert [rung for _, rung, _ in reminders(session, order)] == ["pickup.head", "pickup.leader"]


# ---------------------------------------------------------------- arming


def test_filing_arms_the_first_warning_without_touching_the_version(session, county):
    order = service.file_order(session, county.boss, TEXT, "水电气", "普通", T0).order
    job = alarms.arm(session, order, RULES, T0)
    session.commit()
    assert job is not None and job.func == "jobs.orders.alarm" and job.args == (order.id,)
    assert job.when == T0 + 22 * H
    assert job.job_id == f"order-alarm-{order.id}-pickup-warn-{int((T0 + 22 * H).timestamp())}"
    assert stored(session, order) == ("pickup.warn", T0 + 22 * H)
    session.expire_all()
    assert session.get_one(WorkOrder, order.id).version == 1  # the dispatch card's buttons stay valid


def test_pickup_arms_the_solve_clock(session, county):
    order = file(session, county)
    transition = service.pick_up(session, county.gxj_wu, order.number, T0 + H)
    job = alarms.arm(session, transition.order, RULES, T0 + H)
    session.commit()
    assert job is not None and job.when == T0 + 23 * H
    assert stored(session, order) == ("solve.warn", T0 + 23 * H) and order.version == 2


def test_a_transfer_keeps_the_clock_and_the_same_job(session, county):
    order = file(session, county)
    first = alarms.arm(session, order, RULES, T0)
    moved = service.transfer(session, county.gxj_zhou, order.number, county.zrzyj, "用地归自然资源局", T0 + H)
    again = alarms.arm(session, moved.order, RULES, T0 + H)
    session.commit()
    assert again == first  # same rung, same moment: the job is scheduled once
    late = service.transfer(session, county.zrzyj_ma, order.number, county.gxj, "仍属工信局", T0 + 23 * H)
    assert alarms.arm(session, late.order, RULES, T0 + 23 * H).when == T0 + 24 * H  # the warning has passed
    session.commit()
    assert stored(session, order) == ("pickup.overdue", T0 + 24 * H)


def test_a_transfer_after_pickup_chases_the_new_department_on_the_running_solve_clock(session, county):
    order = pick_up(session, county, file(session, county), T0 + H)  # solve due at T0 + 25 h
    moved = service.transfer(
        session, county.gxj_wu, order.number, county.zrzyj, "用地归自然资源局", T0 + 24 * H
    )
    assert moved.order.state == OrderState.DISPATCHED.value  # to be picked up again, pickup deadline past
    alarms.arm(session, moved.order, RULES, T0 + 24 * H)
    session.commit()
    assert stored(session, order) == ("solve.overdue", T0 + 25 * H)
    _, sent = fire(session, order, T0 + 25 * H)
    assert set(sent) == {"zrzyj_ma"}  # the new holder is chased for the old promise


def test_a_closed_order_has_no_alarm(session, county):
    order = pick_up(session, county, file(session, county), T0)
    then(session, closing.resolve(session, county.gxj_wu, order.number, "已修复", T0 + H), T0 + H)
    assert stored(session, order) == ("signoff.remind", T0 + 25 * H)
    closed = closing.rate(session, county.boss, order.number, "满意", T0 + 2 * H)
    assert alarms.arm(session, closed.order, RULES, T0 + 2 * H) is None
    session.commit()
    assert stored(session, order) == (None, None)


# ---------------------------------------------------------------- who hears each rung


def test_the_pickup_warning_goes_to_the_holding_departments_officials(session, county):
    order = file(session, county)
    following, sent = fire(session, order, T0 + 22 * H)
    assert set(sent) == {"gxj_zhou", "gxj_wu"}
    assert texts(sent["gxj_wu"]) == [
        f"⏰ 诉求 {order.number}（{FIRM}）将于 2026-11-25 09:30 到达接单时限，"
        f"请尽快接单：发送「接单 {order.number}」。"
    ]
    assert following is not None and following.when == T0 + 24 * H
    assert reminders(session, order) == [("remind", "pickup.warn", ["gxj_zhou", "gxj_wu"])]


def test_overdue_then_the_head_then_the_leader(session, county):
    order = file(session, county)
    _, overdue = fire(session, order, T0 + 24 * H)
    assert set(overdue) == {"gxj_zhou", "gxj_wu"}
    assert texts(overdue["gxj_wu"])[0].startswith(
        f"⚠️ 诉求 {order.number}（{FIRM}）已超过接单时限（2026-11-25 09:30）"
    )

    _, head = fire(session, order, T0 + 26 * H)
    assert set(head) == {"gxj_zhou"}  # the head of 县工信局 only
    assert texts(head["gxj_zhou"]) == [
        f"⚠️ 诉求 {order.number}（{FIRM}）已超过接单时限（2026-11-25 09:30），已超时2小时，"
        "县工信局尚未接单，请督促办理。"
    ]

    following, leader = fire(session, order, T0 + 28 * H)
    assert set(leader) == {"leader_wang"}  # nobody oversees 县工信局: every leader
    (card,) = leader["leader_wang"]
    assert isinstance(card, TemplateCard) and card.card_type == "button_interaction"
    assert card.title == "诉求超时未接单，请督办" and order.number in card.desc
    assert ("企业", FIRM) in card.fields and ("已超时", "4小时") in card.fields
    assert [(b.text, b.key) for b in card.buttons] == [
        ("督办", f"order:urge:{order.number}:1"),
        ("查看", f"order:show:{order.number}:1"),
    ]
    assert following is None  # the top of the ladder
    assert [(a, r) for a, r, _ in reminders(session, order)] == [
        ("escalate", "pickup.overdue"),
        ("escalate", "pickup.head"),
        ("escalate", "pickup.leader"),
    ]


def test_the_leader_who_oversees_the_department_gets_the_card(session, county):
    zhao = builders.person(session, "leader_zhao", Role.LEADER, "赵县长")
    retired = builders.person(session, "leader_qian", Role.LEADER, "钱副县长", active=False)
    session.add_all(
        [Oversight(leader=zhao, department=county.gxj), Oversight(leader=retired, department=county.gxj)]
    )
    session.add(Oversight(leader=county.leader, department=county.zrzyj))
    order = file(session, county)
    _, sent = fire(session, order, T0 + 28 * H)
    assert set(sent) == {"leader_zhao"}
    assert reminders(session, order) == [("escalate", "pickup.leader", ["leader_zhao"])]


def test_a_department_without_a_head_is_escalated_to_nobody_but_it_is_recorded(session, county):
    order = file(session, county)
    moved = service.transfer(session, county.gxj_zhou, order.number, county.zrzyj, "用地归自然资源局", T0 + H)
    then(session, moved, T0 + H)
    following, sent = fire(session, order, T0 + 26 * H)
    assert sent == {}
    assert reminders(session, order) == [("escalate", "pickup.head", [])]
    assert following is not None and following.when == T0 + 28 * H


def test_a_returned_order_reminds_the_coordinators(session, county):
    order = file(session, county)
    then(session, service.send_back(session, county.gxj_wu, order.number, "非本部门职责", "", T0 + H), T0 + H)
    _, warn = fire(session, order, T0 + 22 * H)
    assert set(warn) == {"yshj_li", "admin"}  # the office's officials and the admins
    assert texts(warn["yshj_li"]) == [
        f"⏰ 诉求 {order.number}（{FIRM}）将于 2026-11-25 09:30 到达接单时限，"
        f"请尽快协调：发送「分派 {order.number} 部门名称」改派，或「分派 {order.number} 原部门」。"
    ]
    county.yshj_li.is_head = True
    session.commit()
    _, head = fire(session, order, T0 + 26 * H)
    assert set(head) == {"yshj_li"}  # the office's head, not the department that sent it back
    assert "县工信局退回后仍待协调分派" in texts(head["yshj_li"])[0]


def test_the_solve_clock_reminds_the_holder_by_its_own_name(session, county):
    order = pick_up(session, county, file(session, county), T0 + H, who=county.gxj_wu)
    following, sent = fire(session, order, T0 + 23 * H)
    assert set(sent) == {"gxj_zhou", "gxj_wu"}
    assert texts(sent["gxj_wu"]) == [
        f"⏰ 诉求 {order.number}（{FIRM}）将于 2026-11-25 10:30 到达办结时限，"
        f"请抓紧办理，办结后发送「办结 {order.number} 办理结果」；"
        f"确需延期请发送「延期 {order.number} 时间 理由」。"
    ]
    assert following is not None and following.when == T0 + 25 * H
    _, head = fire(session, order, T0 + 27 * H)
    assert "县工信局尚未办结" in texts(head["gxj_zhou"])[0]


def test_the_enterprise_is_reminded_to_sign_off_then_the_order_closes_itself(session, county):
    order = pick_up(session, county, file(session, county), T0)
    then(session, closing.resolve(session, county.gxj_wu, order.number, "路灯已修复", T0 + 2 * H), T0 + 2 * H)

    following, sent = fire(session, order, T0 + 26 * H)
    assert set(sent) == {"zhang_wei"}
    card, text = sent["zhang_wei"]
    assert isinstance(card, TemplateCard) and [b.text for b in card.buttons] == ["满意", "基本满意", "不满意"]
    assert (
        card.task_id == f"order-signoffr-{order.id}-v{order.version}-{county.boss.id}"
    )  # not the first card's
    assert text == Text(
        f"诉求 {order.number} 已于 2026-11-24 11:30 办结，请您评价办理结果。"
        "如 2026-11-27 11:30 前仍未评价，将自动销号。"
    )
    assert following is not None and following.when == T0 + 74 * H

    following, sent = fire(session, order, T0 + 74 * H)
    assert following is None and stored(session, order) == (None, None)
    session.refresh(order)
    assert order.state == OrderState.CLOSED and order.auto_closed
    assert set(sent) == {"zhang_wei", "gxj_zhou", "gxj_wu"}
    assert "已自动销号" in texts(sent["zhang_wei"])[0]
    assert reminders(session, order) == [("remind", "signoff.remind", ["zhang_wei"])]


# ---------------------------------------------------------------- once, and never stale


def test_firing_twice_sends_once(session, county):
    order = file(session, county)
    first_next, first = fire(session, order, T0 + 22 * H)
    again_next, again = fire(session, order, T0 + 22 * H)  # RQ ran the job again
    assert set(first) == {"gxj_zhou", "gxj_wu"} and again == {}
    assert again_next == first_next  # the stored next rung, already scheduled under this id
    assert len(reminders(session, order)) == 1


def test_a_job_rerun_after_a_crash_before_commit_sends_once(session, county):
    order = file(session, county)
    outbox = OutboxWriter(session, FixedClock(T0 + 22 * H))
    alarms.fire(session, outbox, order.id, RULES, T0 + 22 * H)
    session.flush()
    session.rollback()  # the worker died before committing: neither the rung nor the rows happened
    _, sent = fire(session, order, T0 + 22 * H)
    assert set(sent) == {"gxj_zhou", "gxj_wu"}
    assert len(reminders(session, order)) == 1


def test_a_late_firing_sends_only_the_latest_rung(session, county):
    order = file(session, county)
    following, sent = fire(session, order, T0 + 27 * H)  # the worker was down from before the warning
    assert set(sent) == {"gxj_zhou"}  # the head's escalation; no stale warning, no stale overdue
    assert texts(sent["gxj_zhou"])[0].startswith(f"⚠️ 诉求 {order.number}（{FIRM}）已超过接单时限")
    assert "已超时3小时" in texts(sent["gxj_zhou"])[0]
    assert following is not None and following.when == T0 + 28 * H
    assert reminders(session, order) == [("escalate", "pickup.head", ["gxj_zhou"])]


def test_an_order_picked_up_after_its_job_was_scheduled_makes_the_job_a_no_op(session, county):
    order = file(session, county)
    old_job = alarms.arm(session, order, RULES, T0)
    new_job = alarms.arm(
        session, service.pick_up(session, county.gxj_wu, order.number, T0 + H).order, RULES, T0 + H
    )
    session.commit()
    assert old_job is not None and new_job is not None and old_job.job_id != new_job.job_id

    following, sent = fire(session, order, old_job.when)  # the old job runs at its time
    assert sent == {} and following == new_job and reminders(session, order) == []
    assert stored(session, order) == ("solve.warn", T0 + 23 * H)


def test_a_job_for_a_closed_order_does_nothing(session, county):
    order = pick_up(session, county, file(session, county), T0)
    then(session, closing.resolve(session, county.gxj_wu, order.number, "已修复", T0 + H), T0 + H)
    then(session, closing.rate(session, county.boss, order.number, "满意", T0 + 2 * H), T0 + 2 * H)
    assert fire(session, order, T0 + 25 * H) == (None, {})


def test_a_transition_between_the_jobs_read_and_its_update_wins(
    session, session_factory, county, monkeypatch
):
    order = file(session, county)
    real_ladder = alarms.ladder

    def picked_up_meanwhile(o, rules):
        # Another worker's transaction lands after this job read the order, before its UPDATE.
        monkeypatch.setattr(alarms, "ladder", real_ladder)
        with session_factory() as other:
            official = other.get_one(Person, county.gxj_wu.id)
            picked = service.pick_up(other, official, o.number, T0 + 22 * H)
            alarms.arm(other, picked.order, rules, T0 + 22 * H)
            other.commit()
        return real_ladder(o, rules)

    monkeypatch.setattr(alarms, "ladder", picked_up_meanwhile)
    with session_factory() as s:
        following, sent = fire(s, order, T0 + 22 * H)
        assert following is None and sent == {}  # the stale warning is not sent
        assert stored(s, order) == ("solve.warn", T0 + 44 * H)
        assert reminders(s, order) == []


# ---------------------------------------------------------------- the safety net


def test_due_alarms_lists_what_fell_due_oldest_first(session, county):
    early = file(session, county)
    later = service.file_order(session, county.colleague, "另一件事", "融资", "普通", T0 + H).order
    alarms.arm(session, later, RULES, T0 + H)
    session.commit()
    assert alarms.due_alarms(session, T0 + 22 * H - timedelta(seconds=1)) == []
    assert alarms.due_alarms(session, T0 + 23 * H) == [
        (early.id, "pickup.warn", T0 + 22 * H),
        (later.id, "pickup.warn", T0 + 23 * H),
    ]
    assert alarms.due_alarms(session, T0 + 23 * H, limit=1) == [(early.id, "pickup.warn", T0 + 22 * H)]


@pytest.mark.parametrize(
    ("rung", "expected"),
    [
        ("pickup.warn", "order-alarm-7-pickup-warn-1795563000"),
        ("signoff.close", "order-alarm-7-signoff-close-1795563000"),
    ],
)
def test_job_ids_name_the_order_the_rung_and_the_moment(rung, expected):
    assert alarms.alarm_job_id(7, rung, T0 + 22 * H) == expected


def test_an_order_handed_on_after_its_deadline_is_chased_from_the_handover(session, county):
    order = file(session, county)  # pickup due at T0 + 24 h
    moved = service.transfer(
        session, county.gxj_wu, order.number, county.zrzyj, "用地归自然资源局", T0 + 30 * H
    )
    then(session, moved, T0 + 30 * H)
    assert stored(session, order) == ("pickup.head", T0 + 32 * H)  # not None: the new holder is chased
    _, sent = fire(session, order, T0 + 32 * H)
    assert sent == {}  # 县自然资源局 has no head here: the rung is recorded, with nobody to tell
    assert reminders(session, order)[-1] == ("escalate", "pickup.head", [])
    assert stored(session, order) == ("pickup.leader", T0 + 34 * H)


def test_an_alarm_job_run_a_fraction_of_a_second_early_still_fires(session, county):
    order = file(session, county)
    _, sent = fire(session, order, T0 + 22 * H - timedelta(milliseconds=700))
    assert set(sent) == {"gxj_zhou", "gxj_wu"}  # the warning, not a wait for the sweep
