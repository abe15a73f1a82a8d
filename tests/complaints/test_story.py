"""One order's whole life: filing → 转办 → 接单 → 办结 → 不满意 → 返工 → 办结 → 满意, in the register."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import FixedClock
from bot.models import AuditEvent
from handlers.complaints import closing, queries, service
from tests.conftest import T0

H = timedelta(hours=1)


def test_the_whole_story_is_in_the_register(session, county):
    clock = FixedClock(T0)
    filed = service.file_order(session, county.boss, "新厂房用地指标迟迟未批", "用地", "紧急", clock.now())
    number = filed.order.number
    clock.advance(hours=2)
    rule = queries.routing_rule(session, "用地")
    assert rule is not None and rule.department_id == county.zrzyj.id  # the 转办 suggestion
    service.transfer(session, county.gxj_zhou, number, rule.department, "用地指标归自然资源局", clock.now())
    clock.advance(hours=3)
    service.pick_up(session, county.zrzyj_ma, number, clock.now())
    clock.advance(hours=20)
    closing.resolve(session, county.zrzyj_ma, number, "已上报指标，下周批复", clock.now())
    clock.advance(hours=1)
    rework = closing.rate(session, county.boss, number, "不满意", clock.now(), comment="没有解决")
    assert rework.notify == [county.zrzyj_ma]  # 返工 goes to the department that resolved it
    clock.advance(hours=1)
    service.pick_up(session, county.zrzyj_ma, number, clock.now())
    clock.advance(hours=4)
    closing.resolve(session, county.zrzyj_ma, number, "指标已批复，文件已送达", clock.now())
    clock.advance(hours=1)
    done = closing.rate(session, county.boss, number, "满意", clock.now())
    session.commit()

    order, events = queries.history(session, county.leader, number)
    steps = [(e.action, e.from_state, e.to_state, e.department_id, e.at - T0) for e in events]
    g, z = county.gxj.id, county.zrzyj.id
    assert steps == [
        ("file", None, "dispatched", g, 0 * H),
        ("dispatch", None, "dispatched", g, 0 * H),
        ("transfer", "dispatched", "dispatched", z, 2 * H),
        ("pickup", "dispatched", "picked_up", z, 5 * H),
        ("resolve", "picked_up", "resolved", z, 25 * H),
        ("rate", "resolved", "resolved", z, 26 * H),
        ("reopen", "resolved", "dispatched", z, 26 * H),
        ("pickup", "dispatched", "picked_up", z, 27 * H),
        ("resolve", "picked_up", "resolved", z, 31 * H),
        ("rate", "resolved", "closed", z, 32 * H),
    ]
    assert events[4].data["solve_due"] == (T0 + 29 * H).isoformat()  # 24 h after the first pickup
    assert events[7].data["solve_due"] == (T0 + 51 * H).isoformat()  # 返工: 24 h after the new pickup
    assert order.rework_count == 1 and order.rating == "满意" and order.closed_at == T0 + 32 * H
    assert done.order.version == 8  # one conditional UPDATE per move after filing
    audit = select(AuditEvent.action).where(AuditEvent.entity_id == number).order_by(AuditEvent.id)
    assert list(session.scalars(audit)) == [f"order.{e.action}" for e in events]
