"""Weekly 绿白黄红 reports: reading what officials type, the cycle, the objective colour, and the chat."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import openpyxl
import pytest
from sqlalchemy import select

from bot.errors import Conflict, Invalid
from bot.models import AuditEvent, OutboxMessage, Role
from handlers.projects import reports
from handlers.projects.cycle import current_cycles, cycle_of, prompt_day, reporting_week
from handlers.projects.ledger import write_ledger
from handlers.projects.models import Colour, MonthlyReport, Project, WeeklyReport
from handlers.projects.objective import WeekFigures, objective_colour
from handlers.projects.parsing import format_wan, parse_amount, parse_colour, parse_report_line
from handlers.projects.reports import (
    MonthlyEntry,
    WeeklyEntry,
    cumulative_investment,
    record_monthly,
    record_weekly,
)
from handlers.projects.rules import ProjectRules
from tests import builders
from tests.builders import Chat
from tests.conftest import T0

RULES = ProjectRules()
WEEK = date(2026, 11, 23)  # Monday; T0 (Tuesday 24th 09:30) is in it


# ---- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "yuan"),
    [("1200万", 12_000_000), ("1.2亿", 120_000_000), ("500000元", 500_000), ("1,200", 12_000_000),
     ("３５．５万", 355_000), ("300W", 3_000_000), ("0", 0), ("1200万元", 12_000_000)],
)  # fmt: skip
def test_amounts_in_wan_yi_and_yuan(typed, yuan):
    assert parse_amount(typed) == yuan


@pytest.mark.parametrize(
    ("typed", "named"),
    [("1200完", "是不是想写「1200万」"), ("abc", "「abc」不是金额"), ("一千万", "不是金额"),
     ("-5万", "不是金额"), ("200000亿", "超过10万亿元"), ("12美元", "单位「美元」无法识别")],
)  # fmt: skip
def test_bad_amounts_are_named(typed, named):
    with pytest.raises(Invalid, match=named):
        parse_amount(typed)


def test_amounts_read_back_as_people_write_them():
    assert [format_wan(y) for y in (120_000_000, 12_000_000, 355_000, 800)] == [
        "1.2亿",
        "1200万",
        "35.5万",
        "800元",
    ]


def test_colours_in_chinese_and_english_and_others_refused_by_name():
    assert [parse_colour(w) for w in ("绿", "白色", "Yellow", "RED")] == list(Colour)
    with pytest.raises(Invalid, match=r"「蓝」不是进度颜色.*不用红黄蓝"):
        parse_colour("蓝")
    with pytest.raises(Invalid, match="「橙色」不是进度颜色"):
        parse_report_line("XM001 橙色 投资5万")


def test_a_one_line_report_in_any_order():
    line = parse_report_line("XM001 黄 问题:用地手续未办结 完成投资1200万 形象进度：主体封顶 需协调:规划调整")
    assert (line.project, line.colour, line.invested_yuan) == ("XM001", Colour.YELLOW, 12_000_000)
    assert (line.progress, line.problems, line.help_needed) == ("主体封顶", "用地手续未办结", "规划调整")
    assert (
        parse_report_line("XM001 green 投资 1.2亿 主体封顶").progress == "主体封顶"
    )  # unlabelled = 形象进度
    with pytest.raises(Invalid, match="「问题」写了两次"):
        parse_report_line("XM001 黄 问题:a 问题:b")


@pytest.mark.parametrize(
    ("typed", "parts"),
    [("XM001 黄 完成投资1200万 形象进度:主体封顶 问题:融资困难", (12_000_000, "主体封顶", "融资困难", "")),
     ("XM001 黄 完成投资0 形象进度:主体施工 问题:投资方资金不到位", (0, "主体施工", "投资方资金不到位", "")),
     ("XM001 白 完成投资0 形象进度:进度正常", (0, "进度正常", "", "")),
     ("XM001 黄 完成投资0 形象进度:停工 需协调:建议县里协调电力", (0, "停工", "", "建议县里协调电力")),
     ("XM001 黄 完成投资0 问题:进度滞后", (0, "", "进度滞后", "")),
     ("XM001 黄 完成投资0 形象进度:停工 问题: 进度滞后 建议增派", (0, "停工", "进度滞后 建议增派", "")),
     ("XM001 黄 投资 1.2亿 问题较多 困难:缺工人", (120_000_000, "问题较多", "缺工人", "")),
     ("XM001 黄 投资:300万 进度:桩基 建议:加快审批", (3_000_000, "桩基", "", "加快审批"))],
)  # fmt: skip
def test_label_words_inside_a_value_are_plain_text(typed, parts):
    line = parse_report_line(typed)
    assert (line.invested_yuan, line.progress, line.problems, line.help_needed) == parts


def test_nothing_to_report_in_a_one_line_report_is_empty():
    line = parse_report_line("XM001 白 完成投资0 形象进度:设计 问题:无 需协调:暂无")
    assert (line.problems, line.help_needed, line.problems_given) == ("", "", True)
    for word in ("没有", "暂无", "无"):
        assert parse_report_line(f"XM001 白 投资0 进度:x 问题:{word}").problems == ""


# ---- the cycle ----------------------------------------------------------------------------


def test_the_prompt_moves_off_holidays():
    assert prompt_day(WEEK, RULES) == date(2026, 11, 27)  # an ordinary Friday
    assert prompt_day(date(2026, 9, 28), RULES) == date(2026, 9, 30)  # 国庆: Friday 2 Oct is off
    cycle = cycle_of(date(2026, 9, 28), RULES)
    assert cycle.late_at == datetime(2026, 10, 8, 1, 10, tzinfo=UTC)  # the next working day, 09:10 Beijing


def test_a_late_report_fills_last_weeks_gap_until_the_escalation():
    monday_morning = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00, before 18:00's escalation
    assert reporting_week(monday_morning, RULES) == WEEK
    assert reporting_week(monday_morning, RULES, reported={WEEK}) == date(2026, 11, 30)
    monday_night = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    assert reporting_week(monday_night, RULES) == date(2026, 11, 30)


def test_a_week_whose_prompt_came_before_the_project_was_registered_is_not_owed():
    monday_morning = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00
    registered_at_8 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday 08:00: after last Friday's prompt
    assert reporting_week(monday_morning, RULES, registered_at=registered_at_8) == date(2026, 11, 30)
    before_the_prompt = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # Friday 09:00, the prompt is at 09:10
    assert reporting_week(monday_morning, RULES, registered_at=before_the_prompt) == WEEK


def test_after_a_long_holiday_a_week_two_weeks_back_is_still_in_its_late_window():
    rules = ProjectRules(prompt_day=5)  # Saturday: 14 Feb 2026 is a 调休 working day, then 春节 until 23 Feb
    now = datetime(2026, 2, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00, the first working day after 春节
    cycles = current_cycles(now, rules)
    assert [c.week for c in cycles] == [date(2026, 2, d) for d in (2, 9, 16, 23)]
    assert [c.week for c in cycles if c.late_at <= now < c.escalate_at] == [date(2026, 2, 9)]
    assert reporting_week(now, rules) == date(2026, 2, 9)  # the oldest week still open for 补报
    assert reporting_week(now, rules, reported={date(2026, 2, 9)}) == date(2026, 2, 16)


# ---- the objective colour -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("done_wan", "colour", "reason"),
    [(7000, Colour.WHITE, "序时进度90%"), (5000, Colour.YELLOW, "落后27个百分点"),
     (3000, Colour.RED, "落后52个百分点"), (8000, Colour.GREEN, "超前10个百分点")],
)  # fmt: skip
def test_the_colour_from_plan_to_date(done_wan, colour, reason):
    day = date(2026, 11, 24)  # 328/365 of the year: 序时进度 89.9%
    found = objective_colour(
        day=day, annual_plan_yuan=80_000_000, done_this_year_yuan=done_wan * 10_000,
        recent=[WeekFigures(WEEK, 1, "")], rules=RULES,
    )  # fmt: skip
    assert found is not None and found.colour is colour and reason in found.reason


def test_three_weeks_without_investment_or_progress_is_red():
    weeks = [WeekFigures(date(2026, 11, 23 - 7 * n), 0, "场平") for n in range(3)]
    found = objective_colour(
        day=date(2026, 11, 24), annual_plan_yuan=0, done_this_year_yuan=0, recent=weeks, rules=RULES
    )
    assert found is not None and found.colour is Colour.RED and "连续3周" in found.reason
    moving = [weeks[0], WeekFigures(weeks[1].week, 0, "桩基"), weeks[2]]
    assert (
        objective_colour(
            day=date(2026, 11, 24), annual_plan_yuan=0, done_this_year_yuan=0, recent=moving, rules=RULES
        )
        is None
    )


# ---- the chat -----------------------------------------------------------------------------


@pytest.fixture
def county(session_factory):
    """发改局 with a 责任人 and a member of the 城南产业园 task force, another official, a leader."""
    with session_factory() as s:
        fgj = builders.department(s, "县发改局", "FGJ", group_webhook_key="fgj-robot")
        swj = builders.department(s, "县商务局", "SWJ")
        zhang = builders.person(s, "fgj_zhang", Role.OFFICIAL, "张强", department=fgj)
        li = builders.person(s, "fgj_li", Role.OFFICIAL, "李娜", department=fgj)
        builders.person(s, "fgj_head", Role.OFFICIAL, "周局长", department=fgj, is_head=True)
        zheng = builders.person(s, "swj_zheng", Role.OFFICIAL, "郑立新", department=swj)
        leader = builders.person(s, "leader_li", Role.LEADER, "李县长")
        builders.person(s, "admin", Role.ADMIN, "孙丽")
        builders.project(s, "XM001", "城南产业园标准厂房", fgj, leads=(zhang,), members=(li,), leader=leader,
                         annual_plan_wan=8000)  # fmt: skip
        builders.project(
            s, "XM002", "县商贸物流中心", swj, leads=(zheng,), leader=leader, annual_plan_wan=2000
        )
        builders.project(s, "XM003", "城南污水处理中心", fgj, stage="completed")
        s.commit()


@pytest.fixture
def chat(runtime, standin, county) -> Chat:
    return Chat(runtime)


def _reports(session_factory) -> list[WeeklyReport]:
    with session_factory() as s:
        return list(s.scalars(select(WeeklyReport).order_by(WeeklyReport.id)))


def _outbox_to(session_factory, recipient: str) -> list[OutboxMessage]:
    with session_factory() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == recipient)))


def test_a_one_line_report_is_recorded_with_the_colour_the_numbers_give(chat, session_factory):
    text = chat.text("fgj_zhang", "进展 XM001 白 完成投资1200万 形象进度:主体封顶 问题:用地手续未办结")
    assert "✅ 已记录 XM001 城南产业园标准厂房 第48周（11月23日—11月29日）进展" in text
    assert "颜色：白（正常）｜本周完成投资：1200万｜年度累计：1200万" in text
    assert "按数据测算：红（停滞），年度计划8000万，已完成1200万（15%），序时进度90%，落后75个百分点" in text
    assert "已同时报包抓县领导" in text
    [report] = _reports(session_factory)
    assert (report.colour, report.objective_colour, report.week) == ("white", "red", WEEK)
    [told] = _outbox_to(session_factory, "leader_li")
    assert (
        "【颜色不一致】XM001" in told.payload["content"]
        and "报送为白（正常），按数据测算为红（停滞）" in told.payload["content"]
    )
    with session_factory() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "project.weekly_reported")) is not None


def test_a_second_report_in_the_week_replaces_the_first_and_keeps_it(chat, session_factory, clock):
    chat.text("fgj_zhang", "进展 XM001 红 完成投资0 形象进度:停工待料")
    clock.advance(hours=2)
    text = chat.text("fgj_li", "进展 xm001 红 完成投资200万 形象进度:复工")
    assert "已替换本周 11月24日 09:30 的报送，原记录保留" in text
    first, second = _reports(session_factory)
    assert first.replaced_at is not None and second.replaced_at is None and second.invested_yuan == 2_000_000
    assert "已同时报" not in text  # red is not rosier than any computed colour
    assert _outbox_to(session_factory, "leader_li") == []


def test_someone_elses_project_is_refused_and_nothing_is_stored(chat, session_factory):
    text = chat.text("swj_zheng", "进展 XM001 绿 完成投资100万 形象进度:完工")
    assert "由县发改局负责（责任人：张强）" in text and "您不在该项目专班" in text
    assert chat.text("fgj_head", "进展 XM001 白 完成投资0 形象进度:设计").startswith("✅")  # the head may
    assert len(_reports(session_factory)) == 1


@pytest.mark.parametrize(
    ("typed", "answer"),
    [("进展 XM009 白 投资0 形象进度:x", "没有找到项目「XM009」"),
     ("进展 XM001 蓝 投资0 形象进度:x", "「蓝」不是进度颜色"),
     ("进展 XM001 黄 完成投资1200完 形象进度:x", "是不是想写「1200万」"),
     ("进展 中心 白 投资0 形象进度:x", "「中心」对应多个项目，请写项目编号")],
)  # fmt: skip
def test_bad_reports_get_a_precise_answer(chat, session_factory, typed, answer):
    assert answer in chat.text("fgj_zhang", typed)
    assert _reports(session_factory) == []


def test_step_by_step_asks_only_what_is_missing_and_names_bad_answers(chat, session_factory):
    assert "请回复本周进度颜色" in chat.text("fgj_zhang", "进展")  # his only project
    assert "「紫」不是进度颜色" in chat.text("fgj_zhang", "紫")
    assert "本周完成投资多少" in chat.text("fgj_zhang", "黄")
    assert "是不是想写「300万」" in chat.text("fgj_zhang", "300完")
    assert "形象进度是什么" in chat.text("fgj_zhang", "300万")
    assert "存在问题和需协调事项" in chat.text("fgj_zhang", "完成桩基")
    assert chat.text("fgj_zhang", "无").startswith("✅ 已记录 XM001")
    [report] = _reports(session_factory)
    assert (report.colour, report.invested_yuan, report.progress, report.problems) == (
        "yellow",
        3_000_000,
        "完成桩基",
        "",
    )


def test_a_partial_line_asks_for_the_rest(chat, session_factory):
    assert "本周完成投资多少" in chat.text("fgj_zhang", "进展 XM001 黄 形象进度:主体施工")
    assert "存在问题" in chat.text("fgj_zhang", "100万")
    chat.text("fgj_zhang", "缺钢材")
    [report] = _reports(session_factory)
    assert (report.progress, report.problems) == ("主体施工", "缺钢材")


def test_the_prompt_cards_colour_button_starts_the_questions(chat, session_factory):
    replies = chat.click("fgj_zhang", f"proj:colour:XM001:{WEEK.isoformat()}:green")
    assert "本周完成投资多少" in replies[0].content
    chat.text("fgj_zhang", "2000万")
    chat.text("fgj_zhang", "主体封顶")
    chat.text("fgj_zhang", "无")
    assert _reports(session_factory)[0].colour == "green"
    stale = chat.click("fgj_zhang", "proj:colour:XM001:2026-11-16:green")
    assert "已过期" in stale[0].content


def test_monthly_report_needs_investment_and_progress_and_replaces(chat, session_factory, clock):
    assert "缺少「完成投资」「形象进度」" in chat.text("fgj_zhang", "月汇报 XM001 问题:无")
    assert "没有看懂「随便写」" in chat.text("fgj_zhang", "月汇报 XM001 随便写 完成投资:1万")
    text = chat.text("fgj_zhang", "月汇报 XM001 完成投资:3000万 形象进度:主体封顶 资金到位:2000万 措施:加快")
    assert "已记录 XM001 城南产业园标准厂房 11月汇报（已过20日，记为逾期报送）" in text
    assert "本月完成投资：3000万｜资金到位：2000万" in text
    chat.text("fgj_zhang", "月汇报 XM001 完成投资:3100万 形象进度:主体封顶")
    with session_factory() as s:
        rows = list(s.scalars(select(MonthlyReport).order_by(MonthlyReport.id)))
    assert [r.replaced_at is None for r in rows] == [False, True]


def test_lists_and_details_by_role(chat):
    chat.text("fgj_zhang", "进展 XM001 黄 完成投资100万 形象进度:主体施工 问题:缺工人")
    mine = chat.text("fgj_zhang", "我的项目")
    assert "XM001 城南产业园标准厂房【在建】黄（滞后）" in mine and "XM002" not in mine
    leader = chat.text("leader_li", "我的项目")
    assert "XM001" in leader and "XM002 县商贸物流中心【在建】本周未报" in leader
    assert "XM001 城南产业园标准厂房（县发改局）缺工人" in chat.text("leader_li", "项目 黄")
    assert "没有最近报红（停滞）的项目" in chat.text("leader_li", "项目 红")
    detail = chat.text("leader_li", "项目 XM001")
    assert "包抓县领导：李县长" in detail and "第48周（11月23日—11月29日） 黄（滞后） 主体施工" in detail
    assert "不在您负责或包抓的范围内" in chat.text("swj_zheng", "项目 XM001")
    assert "✅" not in chat.text("leader_li", "进展 XM001 绿 投资0 形象进度:x")  # leaders do not report


def test_investment_done_before_reporting_began_counts_toward_the_year(chat, session_factory):
    with session_factory() as s:
        project = s.scalars(select(Project).where(Project.code == "XM001")).one()
        project.invested_before_yuan = 60_000_000  # 本年已完成投资 at registration: 6000万
        s.commit()
    text = chat.text("fgj_zhang", "进展 XM001 白 完成投资1200万 形象进度:主体封顶")
    assert "年度累计：7200万" in text
    assert "按数据测算：白（正常），年度计划8000万，已完成7200万（90%），序时进度90%" in text
    assert "已同时报" not in text


def test_nothing_in_a_one_line_report_is_stored_empty_and_not_asked_again(chat, session_factory):
    text = chat.text("fgj_zhang", "进展 XM001 白 完成投资100万 形象进度:主体施工 问题:无")
    assert text.startswith("✅ 已记录") and "存在问题" not in text
    assert "本周完成投资多少" in chat.text("fgj_li", "进展 XM001 黄 形象进度:主体施工 问题:没有")
    assert chat.text("fgj_li", "100万").startswith("✅ 已记录")  # 「问题:没有」 answered the question
    assert [r.problems for r in _reports(session_factory)] == ["", ""]


def test_monthly_report_label_words_inside_a_value_are_plain_text(chat, session_factory):
    typed = "月汇报 XM001 完成投资:3000万 形象进度:主体封顶 措施:督促施工单位加快进度：确保12月底封顶"
    text = chat.text("fgj_zhang", typed)
    assert "形象进度：主体封顶" in text
    with session_factory() as s:
        row = s.scalars(select(MonthlyReport)).one()
    assert (row.progress, row.measures) == ("主体封顶", "督促施工单位加快进度:确保12月底封顶")
    twice = chat.text("fgj_zhang", "月汇报 XM001 完成投资:1万 形象进度:x 存在问题:a 问题:b")
    assert "「问题」写了两次" in twice


def _add_weekly(s, project: Project, week: date, wan: int) -> None:
    s.add(
        WeeklyReport(
            project=project, week=week, colour="white", invested_yuan=wan * 10_000, progress=f"施工{week}",
            channel="wecom", reported_at=T0,
        )
    )  # fmt: skip


def test_the_years_investment_is_the_same_in_the_reply_the_detail_the_colour_and_the_ledger(
    chat, session_factory, tmp_path
):
    with session_factory() as s:
        project = s.scalars(select(Project).where(Project.code == "XM001")).one()
        _add_weekly(s, project, date(2025, 12, 29), 200)  # its Thursday is 1 January: January's
        _add_weekly(s, project, date(2026, 9, 28), 300)  # Thursday 1 October: October's, which has a 月汇报
        _add_weekly(s, project, date(2026, 10, 5), 100)
        _add_weekly(s, project, date(2026, 11, 2), 500)
        s.add(
            MonthlyReport(
                project=project, month=date(2026, 10, 1), invested_yuan=30_000_000, progress="主体封顶",
                channel="wecom", reported_at=T0,
            )
        )  # fmt: skip
        s.commit()
    text = chat.text("fgj_zhang", "进展 XM001 黄 完成投资1200万 形象进度:主体封顶")  # 200 + 3000 + 500 + 1200
    assert "年度累计：4900万" in text
    assert "按数据测算：黄（滞后），年度计划8000万，已完成4900万（61%）" in text
    assert "已完成：4900万" in chat.text("leader_li", "项目 XM001")
    with session_factory() as s:
        write_ledger(s, tmp_path / "ledger.xlsx", 2026, today=date(2026, 11, 24))
    header, *rows = openpyxl.load_workbook(tmp_path / "ledger.xlsx")["2026年11月"].iter_rows(values_only=True)
    [row] = [dict(zip(header, r, strict=True)) for r in rows if r[0] == "XM001"]
    assert row["年度累计完成(万元)"] == 4900


def test_the_computed_colour_counts_only_what_was_reported_before_the_week():
    project = Project(plan_year=2026, invested_before_yuan=1_000)
    weekly = {date(2026, 10, 26): 10, date(2026, 11, 2): 20, date(2026, 11, 9): 40, date(2026, 11, 16): 80}
    monthly = {date(2026, 10, 1): 300, date(2026, 11, 1): 600}
    assert cumulative_investment(project, 2026, weekly, monthly) == 1_000 + 300 + 600
    # before 16 November: October's 月汇报, then November's weeks so far (its 月汇报 may include this week)
    assert cumulative_investment(project, 2026, weekly, monthly, until_week=date(2026, 11, 16)) == 1_360
    assert cumulative_investment(project, 2025, weekly, monthly) == 0  # weeks and plan of another year


def test_a_project_registered_after_last_weeks_prompt_reports_for_this_week(chat, session_factory, clock):
    with session_factory() as s:
        project = s.scalars(select(Project).where(Project.code == "XM001")).one()
        project.created_at = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday 08:00
        s.commit()
    clock.set(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))  # Monday 10:00: last week's 补报 window is open
    text = chat.text("fgj_zhang", "进展 XM001 白 完成投资0 形象进度:设计")
    assert "第49周（11月30日—12月6日）进展" in text and "补报" not in text
    assert [r.week for r in _reports(session_factory)] == [date(2026, 11, 30)]
    assert "已过期" in chat.click("fgj_zhang", f"proj:colour:XM001:{WEEK.isoformat()}:green")[0].content


def test_a_prompt_card_is_valid_while_its_week_is_open(chat, session_factory, clock):
    with session_factory() as s:
        project = s.scalars(select(Project).where(Project.code == "XM001")).one()
        project.created_at = datetime(2026, 1, 5, tzinfo=UTC)
        s.commit()
    # 春节: the week of 16 February is all holiday; its prompt goes out on Tuesday 24th 09:10, due 18:00
    clock.set(datetime(2026, 2, 24, 2, 0, tzinfo=UTC))
    text = chat.text("fgj_zhang", "进展 XM001 白 完成投资0 形象进度:复工准备")
    assert "第8周（2月16日—2月22日）进展" in text and "补报" not in text
    clock.set(datetime(2026, 2, 24, 6, 0, tzinfo=UTC))  # 14:00: a correction from the prompt card
    assert "本周完成投资多少" in chat.click("fgj_zhang", "proj:colour:XM001:2026-02-16:yellow")[0].content
    chat.text("fgj_zhang", "0")
    chat.text("fgj_zhang", "复工准备")
    assert "已替换" in chat.text("fgj_zhang", "缺工人")
    reports_made = [(r.week, r.colour, r.replaced_at is None) for r in _reports(session_factory)]
    assert reports_made == [(date(2026, 2, 16), "white", False), (date(2026, 2, 16), "yellow", True)]


def test_two_reports_at_the_same_moment_the_second_is_told_not_failed(session, monkeypatch):
    fgj = builders.department(session, "县发改局", "FGJ")
    zhang = builders.person(session, "fgj_zhang", Role.OFFICIAL, "张强", department=fgj)
    project = builders.project(session, "XM001", "城南产业园标准厂房", fgj, leads=(zhang,))
    entry = WeeklyEntry(Colour.WHITE, 0, "设计")
    record_weekly(session, project, zhang, entry, now=T0, rules=RULES, channel="wecom")
    record_monthly(session, project, zhang, MonthlyEntry(0, "设计"), now=T0, channel="wecom")
    # the other report is committed a moment after this one looked for it
    monkeypatch.setattr(reports, "current_weekly", lambda *args: None)
    monkeypatch.setattr(reports, "current_monthly", lambda *args: None)
    red = replace(entry, colour=Colour.RED)
    with pytest.raises(Conflict, match="同一时间有人报送了该项目本周进展，请发送「项目 XM001」查看后再报"):
        record_weekly(session, project, zhang, red, now=T0, rules=RULES, channel="wecom")
    with pytest.raises(Conflict, match="同一时间有人报送了该项目本月汇报"):
        record_monthly(session, project, zhang, MonthlyEntry(1, "设计"), now=T0, channel="wecom")
    in_force = session.scalars(select(WeeklyReport).where(WeeklyReport.replaced_at.is_(None))).all()
    assert [r.colour for r in in_force] == ["white"]  # the transaction goes on, the first report stands
    assert [r.invested_yuan for r in session.scalars(select(MonthlyReport))] == [0]
