"""The intake's sender cache: routing on a recent role is a hint, never a way around a role change."""

from __future__ import annotations

from sqlalchemy import update

from bot.models import Person, Role
from tests import builders
from tests.builders import Chat, pushed_texts
from tests.conftest import run_jobs, selects_sent


def set_role(session_factory, user: str, role: Role) -> None:
    with session_factory() as s:
        s.execute(update(Person).where(Person.wecom_userid == user).values(role=role.value))
        s.commit()


def seed(session_factory) -> None:
    with session_factory() as s:
        gxj = builders.department(s, "县工信局", "GXJ")
        builders.person(s, "gxj_wu", Role.OFFICIAL, "吴晓燕", department=gxj)
        builders.person(s, "zhang_wei", Role.ENTERPRISE, "张伟")
        s.commit()


def test_a_slow_command_from_a_recent_sender_is_queued_without_looking_him_up(
    runtime, session_factory, engine
):
    seed(session_factory)
    chat = Chat(runtime)
    assert "正在处理" in chat.text("gxj_wu", "日报")  # the first time: looked up, remembered
    assert selects_sent(engine, lambda: chat.text("gxj_wu", "日报"), "FROM people") == 0


def test_a_fast_command_sees_a_role_taken_away_at_once(runtime, session_factory):
    seed(session_factory)
    chat = Chat(runtime)
    assert "吴晓燕" in chat.text("gxj_wu", "我是谁")
    set_role(session_factory, "gxj_wu", Role.ENTERPRISE)  # within the cache's seconds
    assert "仅限" in chat.text("gxj_wu", "待办")  # 待办 is for staff: refused on the stored role


def test_a_fast_command_sees_a_role_given_at_once(runtime, session_factory):
    seed(session_factory)
    chat = Chat(runtime)
    assert "仅限" in chat.text("zhang_wei", "待办")
    set_role(session_factory, "zhang_wei", Role.OFFICIAL)
    assert "仅限" not in chat.text("zhang_wei", "待办")


def test_a_slow_command_queued_on_a_stale_role_is_refused_by_the_worker(runtime, session_factory, standin):
    seed(session_factory)
    chat = Chat(runtime)
    assert "吴晓燕" in chat.text("gxj_wu", "我是谁")
    set_role(session_factory, "gxj_wu", Role.ENTERPRISE)
    chat.text("gxj_wu", "日报")  # routed on the remembered role: acknowledged and queued
    run_jobs(runtime)
    (answer,) = pushed_texts(standin.messages("gxj_wu"))
    assert "仅限" in answer  # the worker routed again on the stored role
