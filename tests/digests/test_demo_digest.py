"""The acceptance run: the demo county, a fixed clock, the scheduled 日报 and 周报 through the worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.clock import LOCAL_ZONE
from bot.demo import seed
from bot.models import EnterpriseMember, OutboxMessage, Person, Role
from handlers.complaints import service as orders
from handlers.digests import charts
from jobs import digests as digest_jobs
from tests.conftest import run_jobs

LEADERS = {"leader_wang", "leader_li", "leader_zhao"}


def test_the_demo_countys_leaders_and_group_get_their_daily_and_weekly_digests_once(
    runtime, standin, clock, session_factory
):
    seed(runtime)
    runtime.settings = runtime.settings.with_(
        digest_county_leaders=("leader_wang",), digest_group_webhook="demo-leaders-robot"
    )
    with session_factory() as s:  # a contact of the demo files one request on Friday
        member = s.scalars(select(EnterpriseMember).where(EnterpriseMember.status == "confirmed")).first()
        assert member is not None
        contact = s.get_one(Person, member.person_id)
        clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=LOCAL_ZONE))
        filed = orders.file_order(
            s, contact, "厂区门前道路破损，货车进出困难", "其他", "普通", clock.now()
        ).order
        number, department = filed.number, filed.holding_department.name
        s.commit()

    clock.set(datetime(2026, 11, 30, 8, 30, tzinfo=LOCAL_ZONE))  # Monday: 日报 (Fri–Sun) and 周报 (week 48)
    assert digest_jobs.sweep() == 2 * (len(LEADERS) + 1)
    run_jobs(runtime)
    assert digest_jobs.sweep() == 0  # the job runs every 5 minutes: nothing twice

    delivered = standin.messages()
    for leader in LEADERS:
        texts = [
            m["body"]["markdown"]["content"]
            for m in delivered
            if m["touser"] == leader and m["msgtype"] == "markdown"
        ]
        assert [t.splitlines()[0] for t in texts] == [
            f"**【日报】{_scope(leader)} · 11月27日—11月29日**",
            f"**【周报】{_scope(leader)} · 第48周（11月23日—11月29日）**",
        ], leader
        pictures = [m for m in delivered if m["touser"] == leader and m["msgtype"] == "image"]
        assert len(pictures) == (2 if charts.chart_available() else 0)
    county = next(m for m in delivered if m["touser"] == "leader_wang" and m["msgtype"] == "markdown")
    assert (
        "**诉求** 新增1 · 在办1 · 超时1" in county["body"]["markdown"]["content"]
    )  # filed Fri 10:00, due Sat
    assert f"超时诉求 {number}（{department}" in county["body"]["markdown"]["content"]
    group = standin.groups("demo-leaders-robot")
    assert [g["msgtype"] for g in group].count("markdown") == 2
    with session_factory() as s:
        assert {m.status for m in s.scalars(select(OutboxMessage))} == {"sent"}
        leaders = {p.wecom_userid for p in s.scalars(select(Person).where(Person.role == Role.LEADER.value))}
    assert leaders == LEADERS


def _scope(leader: str) -> str:
    return {"leader_wang": "全县", "leader_li": "李明华分管", "leader_zhao": "赵志刚分管"}[leader]
