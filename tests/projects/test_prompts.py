"""The weekly and monthly clocks: prompts, reminders, late reminders and leader lists, each once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.clock import LOCAL_ZONE
from bot.models import OutboxMessage, Role
from bot.replies import GroupText, reply_from_dict
from bot.runtime import Runtime
from bot.settings import Settings
from bot.wecom.outbound import render_app_message, render_group_message
from handlers.projects.models import Project
from handlers.projects.rules import ProjectRules
from jobs import projects as project_jobs
from jobs import runtime as job_runtime
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


def test_after_a_long_holiday_a_week_two_weeks_back_still_gets_its_late_reminder(
    runtime, standin, county, clock, session_factory, monkeypatch
):
    # Prompts on Saturday: 14 Feb 2026 is a 调休 working day; 春节 runs to the 23rd, so week 7's
    # late reminder falls on Tuesday 24 February, two weeks after the week began.
    monkeypatch.setattr(project_jobs, "rules_from", lambda settings: ProjectRules(prompt_day=5))
    with session_factory() as s:
        for project in s.scalars(select(Project)):
            project.created_at = datetime(2026, 1, 5, tzinfo=UTC)
        s.commit()
    at(clock, "2026-02-24 09:10")
    project_jobs.sweep()
    late = [k for k in keys_since(session_factory, 0) if k.startswith("proj:2026-02-09:late:")]
    assert len(late) == 4  # 张强, 王芳, 郑立新 and the 发改局 group
    seen = len(sent(session_factory))
    at(clock, "2026-02-24 18:00")
    project_jobs.sweep()
    assert any(
        k == "proj:2026-02-09:escalate:" + k.rsplit(":", 1)[-1] for k in keys_since(session_factory, seen)
    )


# ---- how the groups are told to answer, and long lists ------------------------------------


@pytest.fixture
def rebuild(settings, engine, redis_conn, clock, session_factory):
    """Install a runtime whose settings differ from the test settings."""

    def build(**changes) -> Runtime:
        rt = Runtime.build(settings.with_(**changes), clock=clock, connection=redis_conn, engine=engine)
        job_runtime.install(rt)
        return rt

    yield build
    job_runtime.install(None)


def group_lines(session_factory) -> list[str]:
    """The lines of the latest group message."""
    groups = [m for m in sent(session_factory) if m.recipient.startswith("group:")]
    return groups[-1].payload["content"].splitlines()


def test_without_an_ai_bot_the_group_is_told_to_answer_in_the_app(
    rebuild, standin, county, clock, session_factory
):
    rebuild(aibot_token="", aibot_aes_key="")
    at(clock, "2026-11-27 09:10")
    project_jobs.sweep()
    lines = group_lines(session_factory)
    assert "@" not in "\n".join(lines)  # nobody to @ in the group
    assert lines[1].startswith("请在企业微信「政企直通车」应用中发送：进展 编号 颜色")
    assert "卡片" in lines[1]  # the prompt card in the app works too


def test_the_group_is_told_the_ai_bots_name_before_the_list(rebuild, standin, county, clock, session_factory):
    assert Settings.from_env({}).aibot_name == "政企直通车"
    assert Settings.from_env({"ZTC_AIBOT_NAME": " @项目小助手 "}).aibot_name == "项目小助手"
    rebuild(aibot_name="项目小助手")
    at(clock, "2026-11-27 15:00")  # the prompt (still due), then the reminder
    project_jobs.sweep()
    lines = group_lines(session_factory)
    assert lines[0].startswith("**【重点项目周进展】第48周") and "以下项目尚未报送" in lines[0]
    assert lines[1] == "在群里 @项目小助手 发送：进展 编号 颜色 完成投资 形象进度:… 问题:…"
    assert lines[2].startswith("颜色：") and lines[3].startswith("> XM001")  # how to answer, then the list


LONG_NAME = "城南产业园标准厂房二期扩建及配套基础设施建设工程"  # 24 characters, 72 bytes


@pytest.fixture
def crowded(session_factory) -> list[str]:
    """60 projects of 发改局 (a group robot), each with its own 责任人, all led by 李县长."""
    with session_factory() as s:
        fgj = builders.department(s, "县发改局", "FGJ", group_webhook_key="fgj-robot")
        builders.person(s, "fgj_head", Role.OFFICIAL, "周局长", department=fgj, is_head=True)
        leader = builders.person(s, "leader_li", Role.LEADER, "李县长")
        codes = []
        for n in range(60):
            lead = builders.person(s, f"fgj_official_{n:03d}", Role.OFFICIAL, f"干部{n}", department=fgj)
            codes.append(f"XM{n:03d}")
            builders.project(s, codes[-1], f"{LONG_NAME}{n}", fgj, leads=(lead,), leader=leader)
        s.commit()
    return codes


def codes_in(text: str, codes: list[str]) -> list[str]:
    """The project codes a text lists."""
    return [c for c in codes if f" {c} {LONG_NAME}" in text]


def listed(contents: list[str], codes: list[str]) -> None:
    """Together the texts list every code once."""
    assert sorted(c for text in contents for c in codes_in(text, codes)) == codes


def test_a_long_group_list_goes_in_numbered_parts_none_cut(runtime, standin, crowded, clock, session_factory):
    at(clock, "2026-11-27 09:10")
    project_jobs.sweep()
    groups = [m for m in sent(session_factory) if m.recipient == "group:fgj-robot"]
    assert len(groups) >= 2
    contents = []
    for index, row in enumerate(groups, 1):
        reply = reply_from_dict(row.payload)
        assert isinstance(reply, GroupText)
        rendered = render_group_message(reply)["markdown"]["content"]
        assert rendered.startswith(reply.content)  # within 4096 bytes: nothing cut
        first, how = reply.content.splitlines()[:2]
        assert first.endswith(f"（{index}/{len(groups)}）") and how.startswith("在群里 @政企直通车 发送")
        # each part mentions the 责任人 of its own projects
        assert {f"fgj_official_{c[2:]}" for c in codes_in(reply.content, crowded)} == set(reply.mentioned)
        contents.append(reply.content)
    listed(contents, crowded)
    keys = [m.idempotency_key for m in groups]
    assert keys[0] == "proj:2026-11-23:prompt:group:" + keys[0].rsplit(":", 1)[-1]
    assert keys[1:] == [f"{keys[0]}:{i}" for i in range(2, len(groups) + 1)]
    seen = len(sent(session_factory))
    project_jobs.sweep()
    assert len(sent(session_factory)) == seen


def app_texts(session_factory, seen: int, user: str) -> list[str]:
    """The texts queued for `user` since `seen`, checked to render uncut."""
    texts = []
    for row in sent(session_factory)[seen:]:
        if row.recipient == user:
            content = row.payload["content"]
            assert render_app_message(reply_from_dict(row.payload), user, 1)["text"]["content"] == content
            texts.append(content)
    return texts


def test_the_leaders_late_list_and_the_monthly_late_list_go_in_numbered_parts(
    runtime, standin, crowded, clock, session_factory
):
    at(clock, "2026-11-30 18:00")
    project_jobs.sweep()
    parts = app_texts(session_factory, 0, "leader_li")
    assert len(parts) >= 3
    for index, text in enumerate(parts, 1):
        assert text.startswith(
            f"【未报送进展】第48周（11月23日—11月29日）以下60个重点项目经提醒仍未报送（{index}/{len(parts)}）："
        )
    listed(parts, crowded)

    seen = len(sent(session_factory))
    at(clock, "2026-11-21 09:20")
    project_jobs.monthly()
    for user in ("fgj_head", "leader_li"):
        parts = app_texts(session_factory, seen, user)
        assert len(parts) >= 2 and all(f"（{i}/{len(parts)}）：" in t for i, t in enumerate(parts, 1))
        listed(parts, crowded)
