"""The 重点项目台账 as an XLSX workbook: a 汇总 sheet, then one sheet per month of the year.

Each month's sheet has one row per active project: the register (编号 … 年度计划), the month's
investment (the 月汇报's figure when there is one, else the sum of the month's weekly reports),
the year's cumulative figure and 完成率 (reports.cumulative_investment, as the chat shows them),
one column per reporting week with its 绿白黄红 colour (未报; blank for a week before the project
was registered, 无需周报 for a project past construction), the 月汇报's words, and the open 督办卡.
Only reports in force count (replaced_at IS NULL). A week belongs to the month of its Thursday,
as in ISO 8601, so no week is counted twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.errors import Invalid
from bot.models import Department
from bot.spreadsheets import Col, Sheet, Target, add_sheet, new_book, save, wan
from handlers.projects.cycle import Cycle, applies_to, cycle_of, monday_of, month_of_week
from handlers.projects.models import (
    COLOUR_LABELS,
    OPEN_CARD_STATUSES,
    TRACKED_STAGES,
    MonthlyReport,
    Project,
    SupervisionCard,
    WeeklyReport,
)
from handlers.projects.parsing import format_wan
from handlers.projects.reports import cumulative_investment, month_investment
from handlers.projects.rules import ProjectRules

UNREPORTED = "未报"
NOT_DUE = "无需周报"  # a project past construction (竣工/投产) owes no weekly report
LABELS = (*COLOUR_LABELS.values(), UNREPORTED)  # 绿 白 黄 红 未报
FILLS = dict(zip(LABELS, ("C6EFCE", "FFFFFF", "FFEB9C", "FFC7CE", "D9D9D9"), strict=True))
FILLS[NOT_DUE] = "F2F2F2"
SUMMARY_SHEET = "汇总"

BASE_COLUMNS = (
    Col("编号", 14),
    Col("名称", 30, "long"),
    Col("责任单位", 16),
    Col("包抓县领导", 11),
    Col("阶段", 7),
    Col("总投资(万元)", 13, "wan"),
    Col("年度计划(万元)", 13, "wan"),
    Col("本月完成投资(万元)", 13, "wan"),
    Col("年度累计完成(万元)", 13, "wan"),
    Col("完成率", 9, "rate"),
)
REPORT_COLUMNS = (
    Col("前期工作", 28, "long"),
    Col("资金到位(万元)", 13, "wan"),
    Col("形象进度", 28, "long"),
    Col("存在问题", 28, "long"),
    Col("措施", 28, "long"),
    Col("督办卡(未销号)", 11),
)
SUMMARY_COLUMNS = (
    Col("责任单位", 18),
    Col("项目数", 8),
    *(Col(label, 7, "colour") for label in LABELS),
    Col(NOT_DUE, 9, "colour"),
    Col("总投资(万元)", 14, "wan"),
    Col("年度计划(万元)", 14, "wan"),
    Col("年度累计完成(万元)", 14, "wan"),
    Col("完成率", 9, "rate"),
    Col("督办卡(未销号)", 11),
)


# ---------------------------------------------------------------------------------------------
# Months and weeks


def ledger_months(year: int, today: date) -> list[date]:
    """The first days of the months the ledger covers: the whole year, or up to today's month."""
    if year > today.year:
        raise Invalid(f"{year}年还没有开始，没有台账可导出（今天是{today:%Y-%m-%d}）。")
    last = today.month if year == today.year else 12
    return [date(year, month, 1) for month in range(1, last + 1)]


def weeks_in(month: date, today: date) -> list[date]:
    """The Mondays of the month's reporting weeks that have begun by `today`."""
    thursday = month + timedelta(days=(3 - month.weekday()) % 7)
    weeks = []
    while thursday.month == month.month and thursday - timedelta(days=3) <= today:
        weeks.append(thursday - timedelta(days=3))
        thursday += timedelta(days=7)
    return weeks


def week_title(week: date) -> str:
    """「第45周 11.2-11.8」: the ISO week number and its days."""
    sunday = week + timedelta(days=6)
    return f"第{week.isocalendar().week}周\n{week.month}.{week.day}-{sunday.month}.{sunday.day}"


# ---------------------------------------------------------------------------------------------
# What the reports say


@dataclass
class Reports:
    """The year's reports in force, by project id: weekly by Monday, monthly by month; open cards."""

    weekly: dict[int, dict[date, WeeklyReport]] = field(default_factory=dict)
    monthly: dict[int, dict[date, MonthlyReport]] = field(default_factory=dict)
    open_cards: dict[int, int] = field(default_factory=dict)
    rules: ProjectRules = field(default_factory=ProjectRules)
    cycles: dict[date, Cycle] = field(default_factory=dict)  # computed once per week

    def add_weekly(self, report: WeeklyReport) -> None:
        """Take a report in force (a later one for the same week replaces an earlier one)."""
        self.weekly.setdefault(report.project_id, {})[report.week] = report

    def _amounts(self, project_id: int) -> tuple[dict[date, int], dict[date, int]]:
        """The project's reported 元: weekly by Monday, monthly by month."""
        weekly = {w: r.invested_yuan for w, r in self.weekly.get(project_id, {}).items()}
        monthly = {m: r.invested_yuan for m, r in self.monthly.get(project_id, {}).items()}
        return weekly, monthly

    def invested(self, project_id: int, month: date) -> int | None:
        """The month's investment: the 月汇报's, else its weeks' sum; None when nothing was reported."""
        return month_investment(*self._amounts(project_id), month)

    def cumulative(self, project: Project, month: date) -> int:
        """The investment from January to the end of `month` (with what was done before reporting began)."""
        return cumulative_investment(project, month.year, *self._amounts(project.id), through_month=month)

    def week_label(self, project: Project, week: date) -> str | None:
        """绿/白/黄/红, 未报, 无需周报, or None: the week's prompt came before the project was registered."""
        report = self.weekly.get(project.id, {}).get(week)
        if report is not None:
            return report.colour_enum.label
        cycle = self.cycles.get(week) or self.cycles.setdefault(week, cycle_of(week, self.rules))
        if not applies_to(cycle, project.created_at):
            return None
        return UNREPORTED if project.stage_enum in TRACKED_STAGES else NOT_DUE

    def latest_label(self, project: Project, today: date) -> str:
        """The colour of the project's latest weekly report up to today, else 未报 (or 无需周报)."""
        weeks = [w for w in self.weekly.get(project.id, {}) if w <= today]
        if weeks:
            return self.weekly[project.id][max(weeks)].colour_enum.label
        return UNREPORTED if project.stage_enum in TRACKED_STAGES else NOT_DUE


def ledger_projects(session: Session, department: Department | None = None) -> list[Project]:
    """The active projects (of one department, if given), by code."""
    query = select(Project).where(Project.active.is_(True)).order_by(Project.code)
    if department is not None:
        query = query.where(Project.department_id == department.id)
    query = query.options(selectinload(Project.department), selectinload(Project.leader))
    return list(session.scalars(query))


def load_reports(
    session: Session, projects: list[Project], year: int, rules: ProjectRules | None = None
) -> Reports:
    """The weekly and monthly reports in force for the year's weeks and months, and open cards."""
    ids = [p.id for p in projects]
    reports = Reports(rules=rules or ProjectRules())
    weekly = select(WeeklyReport).where(
        WeeklyReport.project_id.in_(ids),
        WeeklyReport.week.between(monday_of(date(year, 1, 1)), date(year, 12, 31)),
        WeeklyReport.replaced_at.is_(None),
    )
    for report in session.scalars(weekly.order_by(WeeklyReport.reported_at)):  # a later one wins
        if month_of_week(report.week).year == year:
            reports.add_weekly(report)
    monthly = select(MonthlyReport).where(
        MonthlyReport.project_id.in_(ids),
        MonthlyReport.month.between(date(year, 1, 1), date(year, 12, 1)),
        MonthlyReport.replaced_at.is_(None),
    )
    for row in session.scalars(monthly.order_by(MonthlyReport.reported_at)):
        reports.monthly.setdefault(row.project_id, {})[row.month] = row
    reports.open_cards = _open_cards(session, ids)
    return reports


def _open_cards(session: Session, ids: list[int]) -> dict[int, int]:
    """The number of 督办卡/批示卡 issued and not yet cleared (销号), by project id."""
    query = (
        select(SupervisionCard.project_id, func.count())
        .where(
            SupervisionCard.project_id.in_(ids),
            SupervisionCard.status.in_([s.value for s in OPEN_CARD_STATUSES]),
        )
        .group_by(SupervisionCard.project_id)
    )
    return {project_id: count for project_id, count in session.execute(query) if project_id is not None}


# ---------------------------------------------------------------------------------------------
# The summary


@dataclass(frozen=True)
class LedgerSummary:
    """What the 汇总 sheet's 合计 row says, for the reply that goes with the file."""

    year: int
    today: date
    projects: int
    colours: dict[str, int]  # 绿 白 黄 红 未报 无需周报 → number of projects by their latest colour
    total_investment_yuan: int
    annual_plan_yuan: int
    done_yuan: int
    open_cards: int

    @property
    def rate(self) -> float | None:
        """年度累计完成 / 年度计划, or None without a plan."""
        return self.done_yuan / self.annual_plan_yuan if self.annual_plan_yuan else None

    def text(self) -> str:
        """「2026年重点项目12个；最新进度：绿3 白5 黄2 红1 未报1；年度计划…」."""
        colours = " ".join(f"{label}{self.colours.get(label, 0)}" for label in LABELS)
        colours += f" {NOT_DUE}{self.colours[NOT_DUE]}" if self.colours.get(NOT_DUE) else ""
        rate = f"（{self.rate:.1%}）" if self.rate is not None else ""
        return (
            f"{self.year}年重点项目{self.projects}个；最新进度：{colours}；"
            f"年度计划投资{format_wan(self.annual_plan_yuan)}元，"
            f"累计完成{format_wan(self.done_yuan)}元{rate}；未销号督办卡{self.open_cards}张。"
        )


def summarise(projects: list[Project], reports: Reports, year: int, today: date) -> LedgerSummary:
    """The figures over all the ledger's projects, as of the ledger's last month."""
    last = ledger_months(year, today)[-1]
    return LedgerSummary(
        year=year,
        today=today,
        projects=len(projects),
        colours=dict(Counter(reports.latest_label(p, today) for p in projects)),
        total_investment_yuan=sum(p.total_investment_yuan for p in projects),
        annual_plan_yuan=sum(_plan(p, year) or 0 for p in projects),
        done_yuan=sum(reports.cumulative(p, last) for p in projects),
        open_cards=sum(reports.open_cards.get(p.id, 0) for p in projects),
    )


def _plan(project: Project, year: int) -> int | None:
    """The project's annual plan if it is for `year` (a plan for another year says nothing of this one)."""
    return project.annual_plan_yuan if project.plan_year == year else None


# ---------------------------------------------------------------------------------------------
# The workbook


def write_ledger(
    session: Session,
    target: Target,
    year: int,
    *,
    today: date,
    department: Department | None = None,
    rules: ProjectRules | None = None,
) -> LedgerSummary:
    """Write the year's ledger (of one department's projects, if given) as XLSX; its summary.

    `rules` place each week's prompt (a week counts for a project registered by then).
    """
    months = ledger_months(year, today)
    projects = ledger_projects(session, department)
    reports = load_reports(session, projects, year, rules)
    book = new_book()
    summary = summarise(projects, reports, year, today)
    _summary_sheet(book, projects, reports, summary)
    for month in months:
        add_sheet(book, _month_sheet(projects, reports, month, today), fills=FILLS)
    save(book, target)
    return summary


def _month_sheet(projects: list[Project], reports: Reports, month: date, today: date) -> Sheet:
    """One month: a row per project, a colour-filled column per reporting week."""
    weeks = weeks_in(month, today)
    columns = (*BASE_COLUMNS, *(Col(week_title(w), 11, "colour") for w in weeks), *REPORT_COLUMNS)
    rows = [_month_row(project, reports, month, weeks) for project in projects]
    return Sheet(f"{month.year}年{month.month}月", columns, rows, freeze="C2")  # 编号 and 名称 stay in view


def _month_row(project: Project, reports: Reports, month: date, weeks: list[date]) -> list[Any]:
    """A project's cells for one month, in the order of the month sheet's columns."""
    plan = _plan(project, month.year)
    done = reports.cumulative(project, month)
    return [
        project.code,
        project.name,
        project.department.name,
        project.leader.name if project.leader is not None else "",
        project.stage_enum.label,
        wan(project.total_investment_yuan),
        wan(plan),
        wan(reports.invested(project.id, month)),
        wan(done),
        done / plan if plan else None,
        *(reports.week_label(project, week) for week in weeks),
        *_monthly_cells(reports.monthly.get(project.id, {}).get(month)),
        reports.open_cards.get(project.id, 0),
    ]


def _monthly_cells(report: MonthlyReport | None) -> list[Any]:
    """前期工作, 资金到位, 形象进度, 存在问题, 措施 of a 月汇报; empty when it was not reported."""
    if report is None:
        return [None] * 5
    funds = wan(report.funds_in_place_yuan)
    return [report.preliminary, funds, report.progress, report.problems, report.measures]


def _summary_sheet(book: Workbook, projects: list[Project], reports: Reports, summary: LedgerSummary) -> None:
    """A row per responsible department, then 合计 (bold), then a note on how the figures were taken."""
    by_department: dict[str, list[Project]] = {}
    for project in sorted(projects, key=lambda p: (p.department.code, p.code)):
        by_department.setdefault(project.department.name, []).append(project)
    rows = [
        _summary_row(name, summarise(group, reports, summary.year, summary.today))
        for name, group in by_department.items()
    ]
    rows.append(_summary_row("合计", summary))
    sheet = add_sheet(book, Sheet(SUMMARY_SHEET, SUMMARY_COLUMNS, rows), fills=FILLS)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    sheet.append([])
    sheet.append([f"截至{summary.today:%Y年%m月%d日}；颜色为各项目最近一次周报的颜色，金额单位：万元。"])


def _summary_row(name: str, summary: LedgerSummary) -> list[Any]:
    """One line of the 汇总 sheet."""
    return [
        name,
        summary.projects,
        *(summary.colours.get(label, 0) for label in LABELS),
        summary.colours.get(NOT_DUE, 0),
        wan(summary.total_investment_yuan),
        wan(summary.annual_plan_yuan),
        wan(summary.done_yuan),
        summary.rate,
        summary.open_cards,
    ]
