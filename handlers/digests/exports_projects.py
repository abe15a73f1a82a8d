"""The 重点项目周报 register: the reports in force of a period's weeks; the 督办卡/批示卡 drafted in it.

A week belongs to the period holding its Thursday, as in the 台账, so no week is counted in two
months. Amounts are numbers in 万元; colours are filled as in the 台账.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from bot.models import Department
from bot.spreadsheets import Col, Sheet, Target, excel_time, save_book, wan
from handlers.digests.exports import Exported, Span
from handlers.projects.ledger import FILLS
from handlers.projects.models import CARD_STATUS_LABELS, COLOUR_LABELS, Project, SupervisionCard, WeeklyReport

REPORT_COLUMNS = (
    Col("编号", 14),
    Col("名称", 30, "long"),
    Col("责任单位", 16),
    Col("包抓县领导", 11),
    Col("周次", 24),
    Col("颜色", 7, "colour"),
    Col("测算颜色", 9, "colour"),
    Col("本期完成投资(万元)", 13, "wan"),
    Col("形象进度", 30, "long"),
    Col("存在问题", 30, "long"),
    Col("需协调", 30, "long"),
    Col("报送人", 10),
    Col("报送时间", 16, "time"),
)
CARD_COLUMNS = (
    Col("编号", 13),
    Col("类型", 8),
    Col("项目", 30, "long"),
    Col("问题", 36, "long"),
    Col("责任人", 16),
    Col("期限", 12, "date"),
    Col("状态", 9),
    Col("签发时间", 16, "time"),
    Col("反馈", 36, "long"),
    Col("销号时间", 16, "time"),
)


def week_label(week: date) -> str:
    """「2026年第48周（11.23-11.29）」: the ISO year and week, and its days."""
    iso, sunday = week.isocalendar(), week + timedelta(days=6)
    return f"{iso.year}年第{iso.week}周（{week.month}.{week.day}-{sunday.month}.{sunday.day}）"


def span_reports(session: Session, span: Span, department: Department | None) -> list[WeeklyReport]:
    """The weekly reports in force whose week's Thursday falls in the span, by project code then week."""
    query = (
        select(WeeklyReport)
        .join(Project, WeeklyReport.project_id == Project.id)
        .where(
            WeeklyReport.replaced_at.is_(None),
            WeeklyReport.week.between(span.start - timedelta(days=3), span.end - timedelta(days=3)),
        )
    )
    if department is not None:
        query = query.where(Project.department_id == department.id)
    query = query.options(
        selectinload(WeeklyReport.project).selectinload(Project.department),
        selectinload(WeeklyReport.project).selectinload(Project.leader),
        selectinload(WeeklyReport.reporter),
    )
    return list(session.scalars(query.order_by(Project.code, WeeklyReport.week)))


def report_row(report: WeeklyReport) -> list[Any]:
    """One weekly report's cells, in REPORT_COLUMNS' order."""
    project, objective = report.project, report.objective_enum
    return [
        project.code,
        project.name,
        project.department.name,
        project.leader.name if project.leader is not None else None,
        week_label(report.week),
        COLOUR_LABELS[report.colour_enum],
        COLOUR_LABELS[objective] if objective is not None else None,
        wan(report.invested_yuan),
        report.progress or None,
        report.problems or None,
        report.help_needed or None,
        report.reporter.name if report.reporter is not None else None,
        excel_time(report.reported_at),
    ]


def span_cards(session: Session, span: Span, department: Department | None) -> list[SupervisionCard]:
    """督办卡/批示卡 drafted in the span (the department's, or its projects', if given), by number."""
    query = (
        select(SupervisionCard)
        .outerjoin(Project, SupervisionCard.project_id == Project.id)
        .where(SupervisionCard.drafted_at >= span.start_at, SupervisionCard.drafted_at < span.end_at)
    )
    if department is not None:
        query = query.where(
            or_(SupervisionCard.department_id == department.id, Project.department_id == department.id)
        )
    query = query.options(
        selectinload(SupervisionCard.project),
        selectinload(SupervisionCard.assignee),
        selectinload(SupervisionCard.department),
    )
    return list(session.scalars(query.order_by(SupervisionCard.drafted_at, SupervisionCard.number)))


def card_row(card: SupervisionCard) -> list[Any]:
    """One card's cells, in CARD_COLUMNS' order."""
    project = f"{card.project.code} {card.project.name}" if card.project is not None else None
    return [
        card.number,
        card.kind_enum.label,
        project,
        card.problem,
        _answerable(card),
        card.due_on,
        CARD_STATUS_LABELS[card.status_enum],
        excel_time(card.issued_at),
        card.answer,
        excel_time(card.cleared_at),
    ]


def _answerable(card: SupervisionCard) -> str | None:
    """「县发改局 许亮」: the card's department and the person who must answer it."""
    parts = [p.name for p in (card.department, card.assignee) if p is not None]
    return " ".join(parts) or None


def write_projects(
    session: Session, target: Target, span: Span, *, now: datetime, department: Department | None = None
) -> Exported:
    """重点项目周报 of the span's weeks, a row per report in force; then 督办卡/批示卡 drafted in the span."""
    reports = span_reports(session, span, department)
    cards = span_cards(session, span, department)
    save_book(
        target,
        [
            Sheet("重点项目周报", REPORT_COLUMNS, [report_row(r) for r in reports]),
            Sheet("督办卡批示卡", CARD_COLUMNS, [card_row(c) for c in cards]),
        ],
        fills=FILLS,
    )
    return Exported("重点项目周报", span, len(reports) + len(cards), _projects_summary(reports, cards))


def _projects_summary(reports: list[WeeklyReport], cards: list[SupervisionCard]) -> str:
    """「周报5份（3个项目；绿1 白2 黄1 红1），督办卡/批示卡2张。」."""
    projects = len({r.project_id for r in reports})
    labels = [COLOUR_LABELS[r.colour_enum] for r in reports]
    colours = " ".join(f"{label}{labels.count(label)}" for label in COLOUR_LABELS.values())
    return f"周报{len(reports)}份（{projects}个项目；{colours}），督办卡/批示卡{len(cards)}张。"
