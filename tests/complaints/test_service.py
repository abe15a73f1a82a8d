"""The work-order state machine with a fixed clock: every transition and every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.errors import Conflict, Invalid, NotAllowed, NotFound
from bot.models import AuditEvent
from handlers.complaints import closing, queries, service
from handlers.complaints.models import Action, OrderEvent, OrderState, WorkOrder
from tests.conftest import T0

H = timedelta(hours=1)
TEXT = "厂区门前路灯坏了，夜间运输不安全。"


def file(session, county, text=TEXT, category="水电气", at=T0, **kw):
    """The boss files an order; committed."""
    t = service.file_order(session, county.boss, text, category, "普通", at, **kw)
    session.commit()
    return t.order


def actions(session, order):
    query = select(OrderEvent.action).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    return list(session.scalars(query))


# --- filing ---------------------------------------------------------------------------------


def test_filing_registers_a_number_and_dispatches_to_the_contact_department(session, county):
    t = service.file_order(session, county.boss, TEXT, "水电气", "紧急", T0)
    order = t.order
    assert order.number == "S2611-0001"  # T0 is November 2026 in Beijing
    assert order.state == OrderState.DISPATCHED and order.holding_department_id == county.gxj.id
    assert order.pickup_due_at == T0 + 24 * H and order.solve_due_at is None
    assert [e.action for e in t.events] == ["file", "dispatch"]
    assert {p.wecom_userid for p in t.notify} == {"gxj_zhou", "gxj_wu"}
    audit = session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == order.number))
    assert list(audit) == ["order.file", "order.dispatch"]
    second = service.file_order(session, county.boss, "另一件事", "融资", "普通", T0)
    assert second.order.number == "S2611-0002"


def test_numbers_restart_each_local_month_and_parse_loosely(session, county):
    file(session, county, at=T0)
    local_december = T0.replace(day=30, hour=16)  # 2026-12-01 00:30 in Beijing
    december = file(session, county, text="十二月的事", at=local_december)
    assert december.number == "S2612-0001"
    for typed in ("s2612-1", "S26120001", "Ｓ２６１２－０００１", " S2612_0001 "):
        assert queries.get_order(session, typed).id == december.id
    with pytest.raises(Invalid, match="不是诉求单号"):
        queries.parse_number("ABC")
    with pytest.raises(NotFound, match="S2612-0099"):
        queries.get_order(session, "S2612-99")


def test_enterprise_without_contact_department_goes_to_the_routing_rule(session, county):
    county.firm.contact_department = None
    order = file(session, county, category="用地")
    assert order.holding_department_id == county.zrzyj.id
    with pytest.raises(NotFound, match="未配置承办部门"):
        service.file_order(session, county.boss, "融资难", "融资", "普通", T0)


@pytest.mark.parametrize(
    ("text", "category", "urgency", "message"),
    [
        ("   ", "其他", "普通", "请写明您的诉求内容"),
        ("路" * 1001, "其他", "普通", "最多1000字"),
        ("路灯", "修路", "普通", "不是诉求类别"),
        ("路灯", "其他", "特急", "紧急程度"),
    ],
)
def test_bad_filings_are_refused(session, county, text, category, urgency, message):
    with pytest.raises(Invalid, match=message):
        service.file_order(session, county.boss, text, category, urgency, T0)


def test_a_duplicate_within_ten_minutes_names_the_earlier_number(session, county):
    order = file(session, county)
    with pytest.raises(Conflict, match=order.number):
        again = " 厂区门前路灯坏了，夜间运输不安全。 "  # another contact, other spacing, other category
        service.file_order(session, county.colleague, again, "其他", "普通", T0 + 9 * H / 60)
    assert file(session, county, at=T0 + 11 * H / 60).number == "S2611-0002"  # later: a new order
    assert file(session, county, text="另一件事").number == "S2611-0003"


def test_only_confirmed_contacts_file(session, county):
    with pytest.raises(NotAllowed, match="绑定 统一社会信用代码"):
        service.file_order(session, county.unbound, TEXT, "其他", "普通", T0)
    with pytest.raises(NotAllowed, match="没有绑定"):
        service.file_order(session, county.boss, TEXT, "其他", "普通", T0, enterprise=county.other_firm)


# --- pickup, transfer, return -----------------------------------------------------------------


def test_pick_up_starts_the_solve_clock_and_only_once(session, county):
    order = file(session, county)
    t = service.pick_up(session, county.gxj_wu, order.number, T0 + 2 * H)
    assert t.order.state == OrderState.PICKED_UP and t.order.solve_due_at == T0 + 26 * H
    assert t.notify == [county.boss] and t.order.version == 2
    with pytest.raises(Conflict, match="办理中"):
        service.pick_up(session, county.gxj_zhou, order.number, T0 + 3 * H)


def test_wrong_people_cannot_act(session, county):
    order = file(session, county)
    for person in (county.zrzyj_ma, county.boss, county.admin):
        with pytest.raises(NotAllowed, match="县工信局办理"):
            service.pick_up(session, person, order.number, T0)
    assert service.pick_up(session, county.leader, order.number, T0).order.state == OrderState.PICKED_UP


def test_a_stale_card_changes_nothing(session, county):
    order = file(session, county)
    service.transfer(session, county.gxj_wu, order.number, county.zrzyj, "用地问题归自然资源局", T0 + H)
    with pytest.raises(Conflict, match="卡片已过期"):
        service.pick_up(session, county.leader, order.number, T0 + 2 * H, expected_version=1)
    assert order.state == OrderState.DISPATCHED and order.version == 2


def test_transfer_keeps_the_clocks(session, county):
    order = file(session, county)
    service.pick_up(session, county.gxj_wu, order.number, T0 + 2 * H)
    t = service.transfer(session, county.gxj_wu, order.number, county.zrzyj, "属用地审批", T0 + 3 * H)
    assert t.order.state == OrderState.DISPATCHED and t.order.holding_department_id == county.zrzyj.id
    assert {p.wecom_userid for p in t.notify} == {"zrzyj_ma", "zhang_wei"}
    assert t.event.data["from_department"] == "县工信局" and t.event.data["reason"] == "属用地审批"
    service.pick_up(session, county.zrzyj_ma, order.number, T0 + 30 * H)
    assert order.pickup_due_at == T0 + 24 * H and order.solve_due_at == T0 + 26 * H  # not restarted
    assert order.picked_up_at == T0 + 2 * H


def test_transfer_refusals(session, county):
    order = file(session, county)
    with pytest.raises(Invalid, match="转办理由"):
        service.transfer(session, county.gxj_wu, order.number, county.zrzyj, " ", T0)
    with pytest.raises(Invalid, match="请选择其他部门"):
        service.transfer(session, county.gxj_wu, order.number, county.gxj, "理由", T0)
    with pytest.raises(NotAllowed):
        service.transfer(session, county.zrzyj_ma, order.number, county.zrzyj, "理由", T0)


def test_send_back_waits_for_a_coordinator_and_keeps_the_clock(session, county):
    order = file(session, county)
    code, note = service.parse_return_reason("非本部门职责，应由自然资源局办理")
    assert (code, note) == ("非本部门职责", "应由自然资源局办理")
    assert service.parse_return_reason("说不清") == ("其他", "说不清")
    t = service.send_back(session, county.gxj_wu, order.number, code, note, T0 + H)
    assert t.order.state == OrderState.RETURNED
    assert {p.wecom_userid for p in t.notify} == {"yshj_li", "admin"}
    with pytest.raises(Conflict, match="已退回待协调」，不能接单"):
        service.pick_up(session, county.gxj_wu, order.number, T0 + 2 * H)
    with pytest.raises(NotAllowed, match="退回"):
        service.decide_return(session, county.gxj_zhou, order.number, county.zrzyj, T0 + 2 * H)
    t = service.decide_return(session, county.yshj_li, order.number, county.zrzyj, T0 + 2 * H)
    assert t.order.state == OrderState.DISPATCHED and t.order.holding_department_id == county.zrzyj.id
    assert t.order.pickup_due_at == T0 + 24 * H and t.notify == [county.zrzyj_ma]


def test_a_refused_return_goes_back_to_the_holder(session, county):
    order = file(session, county)
    with pytest.raises(Invalid, match="退回理由"):
        service.send_back(session, county.gxj_wu, order.number, "其他", "", T0)
    with pytest.raises(Invalid, match="退回理由请选择"):
        service.send_back(session, county.gxj_wu, order.number, "不想办", "", T0)
    service.send_back(session, county.gxj_wu, order.number, "诉求不明确", "", T0)
    t = service.decide_return(session, county.leader, order.number, None, T0 + H, note="请先联系企业")
    assert t.order.holding_department_id == county.gxj.id and t.event.data["accepted"] is False
    service.pick_up(session, county.gxj_wu, order.number, T0 + 2 * H)
    with pytest.raises(Conflict, match="办理中"):
        service.send_back(session, county.gxj_wu, order.number, "其他", "晚了", T0 + 3 * H)


# --- extension, resolve -------------------------------------------------------------------------


def test_extension_needs_a_leader_and_stays_visible(session, county):
    order = file(session, county)
    with pytest.raises(Conflict, match="尚未接单"):
        closing.request_extension(session, county.gxj_wu, order.number, T0 + 72 * H, "需现场勘测", T0)
    service.pick_up(session, county.gxj_wu, order.number, T0)
    with pytest.raises(Invalid, match="晚于"):
        closing.request_extension(session, county.gxj_wu, order.number, T0 + 20 * H, "理由", T0 + H)
    with pytest.raises(Invalid, match="延期理由"):
        closing.request_extension(session, county.gxj_wu, order.number, T0 + 72 * H, "", T0 + H)
    t = closing.request_extension(session, county.gxj_wu, order.number, T0 + 72 * H, "需现场勘测", T0 + H)
    assert t.notify == [county.leader] and order.extension_requested_until == T0 + 72 * H
    assert order.solve_due == T0 + 24 * H  # nothing moves before approval
    with pytest.raises(NotAllowed, match="县领导"):
        closing.decide_extension(session, county.gxj_zhou, order.number, True, T0 + 2 * H)
    t = closing.decide_extension(session, county.leader, order.number, True, T0 + 2 * H)
    assert county.boss in t.notify and t.event.action == "extend_approved"
    assert order.extended_until == T0 + 72 * H and order.solve_due == T0 + 72 * H
    assert order.solve_due_at == T0 + 24 * H  # the original promise is kept for the register
    with pytest.raises(Conflict, match="没有待审批"):
        closing.decide_extension(session, county.leader, order.number, True, T0 + 3 * H)


def test_a_refused_extension_leaves_the_deadline(session, county):
    order = file(session, county)
    service.pick_up(session, county.gxj_wu, order.number, T0)
    closing.request_extension(session, county.gxj_wu, order.number, T0 + 72 * H, "需现场勘测", T0 + H)
    t = closing.decide_extension(session, county.leader, order.number, False, T0 + 2 * H)
    assert t.event.action == "extend_rejected" and order.solve_due == T0 + 24 * H
    assert order.extension_requested_until is None


def test_resolve_only_after_pickup_and_by_the_holder(session, county):
    order = file(session, county)
    with pytest.raises(Conflict, match="尚未接单，请先接单再办结"):
        closing.resolve(session, county.gxj_wu, order.number, "已修复", T0)
    service.pick_up(session, county.gxj_wu, order.number, T0)
    with pytest.raises(NotAllowed):
        closing.resolve(session, county.zrzyj_ma, order.number, "已修复", T0)
    with pytest.raises(Invalid, match="办理结果"):
        closing.resolve(session, county.gxj_wu, order.number, " ", T0)
    t = closing.resolve(session, county.gxj_wu, order.number, "已修复路灯", T0 + 5 * H)
    assert t.order.state == OrderState.RESOLVED and t.order.resolved_at == T0 + 5 * H
    assert t.notify == [county.boss]
    with pytest.raises(Conflict, match="已办结"):
        closing.resolve(session, county.gxj_wu, order.number, "再办一次", T0 + 6 * H)


# --- rating, rework, auto-close ------------------------------------------------------------------


def resolved(session, county):
    order = file(session, county)
    service.pick_up(session, county.gxj_wu, order.number, T0 + H)
    closing.resolve(session, county.gxj_wu, order.number, "已修复", T0 + 5 * H)
    return order


def test_only_the_enterprise_rates(session, county):
    order = resolved(session, county)
    for person in (county.stranger, county.unbound, county.gxj_wu, county.leader):
        with pytest.raises(NotAllowed, match="示范县鑫源食品有限公司"):
            closing.rate(session, person, order.number, "满意", T0 + 6 * H)
    with pytest.raises(Invalid, match="请选择评价"):
        closing.rate(session, county.boss, order.number, "很好", T0 + 6 * H)
    t = closing.rate(session, county.colleague, order.number, "基本满意", T0 + 6 * H, comment="还行")
    assert t.order.state == OrderState.CLOSED and t.order.rating == "基本满意" and not t.order.auto_closed
    assert t.event.data == {"rating": "基本满意", "comment": "还行"}
    with pytest.raises(Conflict, match="已销号"):
        closing.rate(session, county.boss, order.number, "满意", T0 + 7 * H)


def test_rating_before_resolution_is_refused(session, county):
    order = file(session, county)
    with pytest.raises(Conflict, match="待接单"):
        closing.rate(session, county.boss, order.number, "满意", T0)


def test_unsatisfied_reopens_with_fresh_clocks(session, county):
    order = resolved(session, county)
    t = closing.rate(session, county.boss, order.number, "不满意", T0 + 10 * H, comment="灯还是不亮")
    assert [e.action for e in t.events] == ["rate", "reopen"]
    assert t.order.state == OrderState.DISPATCHED and t.order.rework_count == 1
    assert t.order.dispatched_at == T0 + 10 * H and t.order.pickup_due_at == T0 + 34 * H
    assert t.order.picked_up_at is None and t.order.solve_due_at is None and t.order.rating is None
    assert t.order.holding_department_id == county.gxj.id
    audit = session.scalar(select(func.count()).where(AuditEvent.action == "order.rate"))
    assert audit == 1


def test_auto_close_after_the_configured_time(session, county):
    order = resolved(session, county)
    with pytest.raises(Conflict, match="办结未满48小时"):
        closing.auto_close(session, order.number, T0 + 52 * H, after=48 * H)
    t = closing.auto_close(session, order.number, T0 + 53 * H, after=48 * H)
    assert t.order.state == OrderState.CLOSED and t.order.auto_closed and t.order.rating is None
    assert t.event.actor_id is None and county.boss in t.notify
    with pytest.raises(Conflict, match="已销号"):
        closing.auto_close(session, order.number, T0 + 99 * H)


def test_reminders_are_registered_without_changing_the_order(session, county):
    order = file(session, county)
    event = closing.note_reminder(session, order.number, Action.ESCALATE, T0 + 28 * H, rung="head")
    assert event.to_state == event.from_state == "dispatched" and event.data == {"rung": "head"}
    assert order.version == 1
    with pytest.raises(ValueError):
        closing.note_reminder(session, order.number, Action.PICKUP, T0)


# --- queries ------------------------------------------------------------------------------------


def test_my_orders_and_todo(session, county):
    mine = file(session, county)
    theirs = service.file_order(session, county.stranger, "设备贷款", "融资", "普通", T0).order
    land = file(session, county, text="用地指标", category="用地")
    service.transfer(session, county.gxj_wu, land.number, county.zrzyj, "用地", T0)
    assert [o.id for o in queries.orders_for_enterprise(session, county.colleague)] == [land.id, mine.id]
    with pytest.raises(NotAllowed):
        queries.orders_for_enterprise(session, county.unbound)
    assert [o.id for o in queries.todo_for_official(session, county.gxj_wu)] == [mine.id, theirs.id]
    assert [o.id for o in queries.todo_for_official(session, county.zrzyj_ma)] == [land.id]
    assert len(queries.todo_for_official(session, county.leader)) == 3
    service.send_back(session, county.zrzyj_ma, land.number, "非本部门职责", "", T0)
    assert [o.id for o in queries.todo_for_official(session, county.yshj_li)] == [land.id]


def test_history_is_shown_only_to_those_concerned(session, county):
    order = file(session, county)
    service.transfer(session, county.gxj_wu, order.number, county.zrzyj, "用地", T0 + H)
    c = county
    for person in (c.boss, c.colleague, c.gxj_wu, c.zrzyj_ma, c.leader, c.yshj_li):
        _, events = queries.history(session, person, order.number)
        assert [e.action for e in events] == ["file", "dispatch", "transfer"]
    for person in (county.stranger, county.unbound):
        with pytest.raises(NotFound):
            queries.history(session, person, order.number)
    assert session.scalar(select(func.count()).select_from(WorkOrder)) == 1
