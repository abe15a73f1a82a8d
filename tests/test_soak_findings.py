"""What the soak (bench/soak.py, tests/e2e/test_soak.py) found, each kept fixed by a test here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.clock import LOCAL_ZONE
from bot.models import OutboxMessage, Oversight, Role
from bot.standin.server import StandinServer
from jobs import digests as digest_jobs
from tests import builders
from tests.builders import Chat
from tests.conftest import run_jobs


def leader_overseeing_a_department(session_factory) -> None:
    """李县长 (leader_li) overseeing 县工信局, which has one official."""
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.person(s, "gxj_wu", Role.OFFICIAL, "吴晓燕", department=gxj)
        leader = builders.person(s, "leader_li", Role.LEADER, "李县长")
        s.add(Oversight(leader_id=leader.id, department_id=gxj.id))
        s.commit()


def test_a_leader_who_asks_for_the_ranking_twice_gets_both_answers(
    runtime, standin: StandinServer, clock, session_factory
) -> None:
    leader_overseeing_a_department(session_factory)
    chat = Chat(runtime)
    for _ in range(2):  # ten minutes apart: nothing changed, so the ranking reads the same
        assert "正在处理" in chat.text("leader_li", "排名")
        run_jobs(runtime)
        clock.advance(minutes=10)
    with session_factory() as s:
        rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "leader_li")))
    assert [r.status for r in rows] == ["sent", "sent"]  # two answers, both handed to WeCom
    assert len(standin.messages("leader_li")) == 2, standin.suppressed()
    assert "的消息内容相同" in str(standin.messages("leader_li")[1])  # says why it reads the same


def test_a_leader_who_asks_for_the_daily_digest_after_the_morning_push_gets_it(
    runtime, standin: StandinServer, clock, session_factory
) -> None:
    leader_overseeing_a_department(session_factory)
    clock.set(datetime(2026, 11, 25, 8, 30, tzinfo=LOCAL_ZONE))
    assert digest_jobs.sweep() >= 1  # the morning's 日报, pushed
    run_jobs(runtime)
    pushed = len(standin.messages("leader_li"))
    clock.advance(minutes=20)
    assert "正在处理" in Chat(runtime).text("leader_li", "日报")  # he asks for it again
    run_jobs(runtime)
    with session_factory() as s:
        rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "leader_li")))
    assert {r.status for r in rows} == {"sent"} and len(rows) > pushed  # answered, handed to WeCom
    assert len(standin.messages("leader_li")) == len(rows), standin.suppressed()
