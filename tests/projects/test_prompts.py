"""The weekly and monthly clocks: prompts, reminders, late reminders and leader lists, each once."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from bot.clock import LOCAL_ZONE
from bot.models import OutboxMessage, Role
from jobs import projects as project_jobs
from tests import builders
from tests.builders import Chat


def at(clock, text: str) -> None:
    """Set the fixed clock to a Beijing time, e.g. "2026-11-27 09:10"."""
    clock.set(datetime.fromisoformat(text).replace(tzinfo=LOCAL_ZONE))


@pytest.fixture
def county(session_factory):
    """Two projects of 发改局 (which has a group robot), one of 商务局 (no group), one finished."""
    with session_factory() as s:
        fgj = builders.department(s, "县发改局", "FGJ", group_webhook_key="fgj-robot")
        swj = builders.department(s, "县商务局", "SWJ")
        zhang = builders.person(s, "fgj_zhang", Role.OFFICIAL, "张强", department=fgj)
        wang = builders.person(s, "fgj_wang", Role.OFFICIAL, "王芳", department=fgj)
        builders.person(s, "fgj_head", Role.OFFICIAL, "周局长", department=fgj, is_head=True)
        zheng = builders.person(s, "swj_zheng", Role.OFFICIAL, "郑立新", department=swj)
        leader = builders.person(s, "leader_li", Role.LEADER, "李县长")
        builders.project(
            s, "XM001", "城南产业园标准厂房", fgj, leads=(zhang,), leader=leader, annual_plan_wan=8000
        )
        builders.project(s, "XM002", "高铁站前广场", fgj, leads=(wang,), leader=leader)
        builders.project(s, "XM003", "县商贸物流中心", swj, leads=(zheng,), leader=leader)
        builders.project(s, "XM004", "老城区管网改造", swj, leads=(zheng,), stage="completed")
        s.commit()


def sent(session_factory) -> list[OutboxMessage]:
    with session_factory() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def keys_since(session_factory, seen: int) -> list[str]:
    return [m.idempotency_key for m in sent(session_factory)[seen:]]


def test_friday_prompts_each_lead_with_a_card_and_each_group_once(
    runtime, standin, county, clock, session_factory
):
    at(clock, "2026-11-27 09:05")
    assert project_jobs.sweep() == 0  # not yet
    at(clock, "2026-11-27 09:10")
    project_jobs.sweep()
    rows = sent(session_factory)
    cards = {m.recipient: m.payload for m in rows if m.payload["type"] == "TemplateCard"}
    assert set(cards) == {"fgj_zhang", "fgj_wang", "swj_zheng"}  # XM004 is finished: no prompt
    card = cards["fgj_zhang"]
    assert card["title"] == "重点项目周进展 · 第48周（11月23日—11月29日）"
    assert card["desc"] == "请于2026-11-27 18:00前报送"
    assert card["buttons"][0]["key"] == "proj:colour:XM001:2026-11-23:green"
    [group] = [m for m in rows if m.recipient.startswith("group:")]
    assert (
        group.recipient == "group:fgj-robot"
        and "XM001 城南产业园标准厂房（责任人：张强）" in group.payload["content"]
    )
    assert "XM003" not in group.payload["content"]  # 商务局 has no group robot
    project_jobs.sweep()
    at(clock, "2026-11-27 09:15")
    project_jobs.sweep()
    assert len(sent(session_factory)) == len(rows)  # reruns send nothing twice


def test_reminders_go_only_to_those_still_missing_then_the_leader_gets_the_list(
    runtime, standin, county, clock, session_factory
):
    chat = Chat(runtime)
    at(clock, "2026-11-27 09:10")
    project_jobs.sweep()
    seen = len(sent(session_factory))
    at(clock, "2026-11-27 11:00")
    chat.text("fgj_zhang", "进展 XM001 白 完成投资7000万 形象进度:主体封顶")
    seen = len(sent(session_factory))
    at(clock, "2026-11-27 15:00")
    project_jobs.sweep()
    reminders = sent(session_factory)[seen:]
    assert {m.recipient for m in reminders} == {"fgj_wang", "swj_zheng", "group:fgj-robot"}
    assert (
        "【进展提醒】XM002 高铁站前广场 第48周（11月23日—11月29日）进展尚未报送"
        in reminders[0].payload["content"]
    )
    seen = len(sent(session_factory))

    at(clock, "2026-11-30 09:10")  # Monday: the late reminder
    chat.text("swj_zheng", "进展 XM003 黄 完成投资0 形象进度:招商中")  # … 商务局 reports late first
    project_jobs.sweep()
    late = [
        m
        for m in sent(session_factory)[seen:]
        if "补报提醒" in m.payload.get("content", "") or m.recipient.startswith("group:")
    ]
    assert {m.recipient for m in late} == {"fgj_wang", "group:fgj-robot"}
    seen = len(sent(session_factory))

    at(clock, "2026-11-30 18:00")  # the leader's list
    project_jobs.sweep()
    [listed] = sent(session_factory)[seen:]
    assert listed.recipient == "leader_li"
    assert "以下1个重点项目经提醒仍未报送" in listed.payload["content"]
    assert "XM002 高铁站前广场（县发改局，责任人 王芳）" in listed.payload["content"]
    at(clock, "2026-12-01 18:01")
    assert project_jobs.sweep() == 0  # past the window: nothing more for that week


def test_a_late_report_on_monday_counts_for_last_week(runtime, standin, county, clock, session_factory):
    at(clock, "2026-11-30 10:00")
    text = Chat(runtime).text("fgj_wang", "进展 XM002 白 完成投资0 形象进度:设计")
    assert "第48周（11月23日—11月29日）进展（补报）" in text


def test_monthly_reminders_on_the_15th_and_19th_then_heads_and_leaders(
    runtime, standin, county, clock, session_factory
):
    at(clock, "2026-11-14 09:20")
    assert project_jobs.monthly() == 0
    at(clock, "2026-11-15 09:20")
    Chat(runtime).text("fgj_zhang", "月汇报 XM001 完成投资:500万 形象进度:主体施工")
    project_jobs.monthly()
    reminded = {m.recipient for m in sent(session_factory)}
    assert reminded == {"fgj_wang", "swj_zheng"}  # XM001 reported; XM004 finished
    seen = len(sent(session_factory))
    at(clock, "2026-11-21 09:20")
    project_jobs.monthly()
    late = {m.recipient: m.payload["content"] for m in sent(session_factory)[seen:]}
    assert set(late) == {"fgj_head", "leader_li"}
    assert "XM002 高铁站前广场（县发改局）" in late["fgj_head"] and "XM003" not in late["fgj_head"]
    assert "XM003 县商贸物流中心（县商务局）" in late["leader_li"] and "XM001" not in late["leader_li"]
    assert "11月20日前应报送的月汇报" in late["leader_li"]
    assert project_jobs.monthly() == len(late)  # rerun: the same messages, already queued once
    assert len(sent(session_factory)) == seen + len(late)
