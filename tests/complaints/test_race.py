"""Two officials press 接单 on the same order at once: exactly one wins, the other is told."""

from __future__ import annotations

import threading

from sqlalchemy import select

from bot.errors import Conflict
from bot.models import Person
from handlers.complaints import queries, service
from handlers.complaints.models import OrderEvent, WorkOrder
from tests.conftest import T0


def _filed(session_factory, county):
    with session_factory() as s:
        number = service.file_order(s, s.merge(county.boss), "路灯坏了", "其他", "普通", T0).order.number
        s.commit()
    return number


def _pickups(session_factory):
    with session_factory() as s:
        return list(s.scalars(select(OrderEvent).where(OrderEvent.action == "pickup")))


def test_both_read_the_order_then_both_pick_up(session_factory, county):
    number = _filed(session_factory, county)
    with session_factory() as first, session_factory() as second:
        wu, zhou = first.get(Person, county.gxj_wu.id), second.get(Person, county.gxj_zhou.id)
        first.scalar(select(WorkOrder)), second.scalar(select(WorkOrder))  # both see version 1
        service.pick_up(first, wu, number, T0)
        first.commit()
        try:
            service.pick_up(second, zhou, number, T0)
            raise AssertionError("the second pickup should have been refused")
        except Conflict as refused:
            assert "已被他人处理" in refused.message or "办理中" in refused.message
        second.rollback()
    assert [e.actor_id for e in _pickups(session_factory)] == [county.gxj_wu.id]


def test_two_threads_pick_up_at_the_same_moment(session_factory, county):
    number = _filed(session_factory, county)
    barrier, outcomes = threading.Barrier(2), []

    def press(person_id: int) -> None:
        with session_factory() as s:
            person = s.get(Person, person_id)
            queries.get_order(s, number)  # the card was read before either click landed
            barrier.wait()
            try:
                service.pick_up(s, person, number, T0)
                s.commit()
                outcomes.append("won")
            except Conflict:
                s.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=press, args=(p.id,)) for p in (county.gxj_wu, county.gxj_zhou)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["refused", "won"]
    assert len(_pickups(session_factory)) == 1
