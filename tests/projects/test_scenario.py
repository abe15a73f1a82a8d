"""The issue's acceptance story for 重点项目, end to end through both encrypted callbacks on a fixed clock.

Two weeks of 县发改局's projects: the Friday prompt reaches each 责任人 (a card in the app) and
the department's group (its 群机器人) at 09:10 Beijing time, found by the cron process's own
tick; 张强 answers in the group by @-ing the AI bot, 王芳 forgets, is reminded at 15:00 and
answers with the card's colour button in the app. The next week 张强 reports 黄 again and 王芳
stays silent: she is reminded, reminded late on Monday, and listed to the leader at 18:00, when
XM001's second yellow week drafts a 督办卡. The leader issues it with one tap, 张强 answers it,
and the leader clears it (销号). Everyone reads exactly their messages, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

import pytest
from sqlalchemy import select

from bot.clock import LOCAL_ZONE, FixedClock
from bot.models import OutboxMessage, OutboxStatus, Role
from bot.runtime import Runtime
from bot.standin.platform import WeComPlatform
from bot.standin.server import StandinServer
from handlers.projects.models import CardStatus, SupervisionCard, WeeklyReport
from jobs.schedule import tick
from tests import builders
from tests.conftest import run_jobs
from tests.stories import passive_text, reads, summary

GROUP = "wrkFGJgroup0001"  # 县发改局's group chat, where the AI bot and the 群机器人 both are
ROBOT = "fgj-robot"


@pytest.fixture
def county(session_factory, standin: StandinServer) -> None:
    """县发改局 (with its group), two projects with a 责任人 each, the department head, the leader."""
    with session_factory() as s:
        fgj = builders.department(s, "县发改局", "FGJ", group_webhook_key=ROBOT)
        zhang = builders.person(s, "fgj_zhang", Role.OFFICIAL, "张强", department=fgj)
        wang = builders.person(s, "fgj_wang", Role.OFFICIAL, "王芳", department=fgj)
        builders.person(s, "fgj_head", Role.OFFICIAL, "周局长", department=fgj, is_head=True)
        leader = builders.person(s, "leader_li", Role.LEADER, "李县长")
        builders.project(
            s, "XM001", "城南产业园标准厂房", fgj, leads=(zhang,), leader=leader, annual_plan_wan=8000
        )
        builders.project(s, "XM002", "高铁站前广场", fgj, leads=(wang,), leader=leader, annual_plan_wan=1000)
        s.commit()
    standin.bind_group(ROBOT, GROUP)


@dataclass
class Story:
    """What people do, and what they read back, with the cron process ticking on the fixed clock."""

    platform: WeComPlatform
    runtime: Runtime
    standin: StandinServer
    seen: int = 0
    seen_group: int = 0

    def at(self, moment: str) -> None:
        """Beijing time moves forward to `moment`; the cron process ticks and the worker runs."""
        clock = self.runtime.clock
        assert isinstance(clock, FixedClock)
        target = datetime.fromisoformat(moment).replace(tzinfo=LOCAL_ZONE)
        assert target >= clock.now(), f"the story cannot go back to {moment}"
        clock.set(target)
        tick()
        run_jobs(self.runtime)

    def news(self) -> dict[str, list[str]]:
        """What each person received in the app since the last look: 'card: <title>' or 'text: …'."""
        fresh = [m for m in self.standin.messages() if m["seq"] > self.seen]
        self.seen = max((m["seq"] for m in fresh), default=self.seen)
        received: dict[str, list[str]] = {}
        for message in fresh:
            received.setdefault(message["touser"], []).append(summary(message))
        return received

    def group_news(self) -> list[str]:
        """What the group received since the last look (群机器人 posts and AI-bot answers)."""
        fresh = self.standin.group_chat(GROUP, since=self.seen_group)
        self.seen_group = max((e["seq"] for e in fresh), default=self.seen_group)
        return [e["content"] for e in fresh]

    def types(self, user: str, text: str) -> str:
        """`user` types in the app's 1:1 chat; the passive answer."""
        return passive_text(self.platform.send_text(user, text))

    def says_in_group(self, user: str, text: str) -> str:
        """`user` @-s the bot in the group; the passive stream's text."""
        delivery = self.platform.group_say(user, GROUP, text)
        assert delivery.status == 200, delivery
        return delivery.text or ""

    def clicks(self, user: str, button: str, *, on: str) -> str:
        """`user` taps `button` on the latest card titled with `on`; the passive answer."""
        cards = [
            m for m in self.standin.messages(user)
            if m["msgtype"] == "template_card" and on in m["body"]["template_card"]["main_title"]["title"]
        ]  # fmt: skip
        assert cards, f"{user} has no card「{on}」"
        card = cards[-1]
        key = next(b["key"] for b in card["body"]["template_card"]["button_list"] if b["text"] == button)
        delivery = self.platform.click(
            user, event_key=key, task_id=card["task_id"], response_code=card["response_code"]
        )
        return passive_text(delivery)


def test_two_weeks_of_prompts_reports_reminders_and_a_supervision_card_cleared(
    platform, runtime, standin, session_factory, county
):
    # The leaders' 日报/周报 (08:30) have their own story in tests/digests; keep them out of this one.
    runtime.settings = runtime.settings.with_(digest_daily_time=time(23, 0), digest_weekly_time=time(23, 0))
    story = Story(platform, runtime, standin)

    # Friday 27 November: nothing before 09:10, then the prompt to each 责任人 and to the group.
    story.at("2026-11-27 09:05")
    assert story.news() == {} and story.group_news() == []
    story.at("2026-11-27 09:10")
    reads(
        story.news(),
        {"fgj_zhang": ["card: 重点项目周进展 · 第48周"], "fgj_wang": ["card: 重点项目周进展 · 第48周"]},
    )
    [prompt] = story.group_news()
    assert "【重点项目周进展】第48周（11月23日—11月29日）** 请报送本周进展" in prompt
    assert (
        "XM001 城南产业园标准厂房（责任人：张强）" in prompt
        and "XM002 高铁站前广场（责任人：王芳）" in prompt
    )

    # 10:00 张强 answers in the group; the leader hears that 黄 is rosier than the numbers (红).
    story.at("2026-11-27 10:00")
    answer = story.says_in_group("fgj_zhang", "进展 XM001 黄 完成投资600万 形象进度:主体施工 问题:缺工人")
    assert "✅ 已记录 XM001 城南产业园标准厂房 第48周（11月23日—11月29日）进展" in answer
    assert "按数据测算：红（停滞）" in answer
    run_jobs(runtime)
    reads(story.news(), {"leader_li": ["text: 【颜色不一致】XM001 城南产业园标准厂房"]})

    # 15:00 王芳 has not answered: she and the group are reminded; 张强 is not.
    story.at("2026-11-27 15:00")
    reads(story.news(), {"fgj_wang": ["text: 【进展提醒】XM002 高铁站前广场 第48周"]})
    [reminder] = story.group_news()
    assert "以下项目尚未报送" in reminder and "XM002" in reminder and "XM001" not in reminder

    # 16:00 she taps 白 on her card in the app and answers the questions.
    story.at("2026-11-27 16:00")
    assert "本周完成投资多少" in story.clicks("fgj_wang", "白·正常", on="重点项目周进展")
    assert "形象进度是什么" in story.types("fgj_wang", "150万")
    assert "存在问题和需协调事项" in story.types("fgj_wang", "完成设计招标")
    assert story.types("fgj_wang", "无").startswith("✅ 已记录 XM002 高铁站前广场 第48周")
    run_jobs(runtime)
    story.news()  # her card relabelled (已选择): no message to anyone

    # Friday 4 December: the prompt again; 张强 reports 黄 in the app; 王芳 stays silent.
    story.at("2026-12-04 09:10")
    reads(story.news(), {"fgj_zhang": ["card: 第49周"], "fgj_wang": ["card: 第49周"]})
    story.group_news()
    assert story.types("fgj_zhang", "进展 XM001 黄 完成投资200万 形象进度:主体施工 问题:缺工人").startswith(
        "✅"
    )
    run_jobs(runtime)
    story.news()  # the leader's second 颜色不一致
    story.at("2026-12-04 15:00")
    reads(story.news(), {"fgj_wang": ["text: 【进展提醒】XM002"]})
    assert "以下项目尚未报送" in story.group_news()[0]
    story.at("2026-12-07 09:10")  # Monday: the late reminder
    reads(story.news(), {"fgj_wang": ["text: 【补报提醒】XM002 高铁站前广场 第49周"]})
    assert "逾期未报，请补报" in story.group_news()[0]

    # 18:00 the leader gets the list, and XM001's second 黄 week drafts a 督办卡 for him to issue.
    story.at("2026-12-07 18:00")
    reads(story.news(), {"leader_li": ["text: 【未报送进展】第49周", "card: 督办卡待签发"]})
    with session_factory() as s:
        card = s.scalars(select(SupervisionCard)).one()
        assert (
            card.status == CardStatus.DRAFT and card.project.code == "XM001" and card.assignee.name == "张强"
        )
        assert "黄（滞后）" in card.problem and "缺工人" in card.problem

    # The leader issues it with one tap; 张强 answers; the leader clears it.
    story.at("2026-12-08 09:30")
    assert "已签发" in story.clicks("leader_li", "签发", on="督办卡待签发")
    run_jobs(runtime)
    reads(story.news(), {"fgj_zhang": [f"text: {card.number}"]})
    assert "已反馈" in story.types("fgj_zhang", f"反馈 {card.number} 已协调劳务公司补充工人30名，下周复工")
    run_jobs(runtime)
    reads(story.news(), {"leader_li": ["card: 督办卡已反馈，待销号"]})
    assert "已销号" in story.clicks("leader_li", "销号", on="待销号")
    run_jobs(runtime)
    reads(story.news(), {"fgj_zhang": [f"text: {card.number}"]})

    with session_factory() as s:
        assert s.get_one(SupervisionCard, card.id).status == CardStatus.CLEARED
        weeks = [
            (r.project.code, r.week.isoformat(), r.colour)
            for r in s.scalars(select(WeeklyReport).order_by(WeeklyReport.id))
        ]
        pending = s.scalars(
            select(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT.value)
        ).all()
    assert weeks == [
        ("XM001", "2026-11-23", "yellow"),
        ("XM002", "2026-11-23", "white"),
        ("XM001", "2026-11-30", "yellow"),
    ]
    assert pending == []
    assert standin.suppressed() == []  # not even a repeat WeCom had to drop
