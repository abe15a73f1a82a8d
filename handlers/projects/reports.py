"""Weekly 绿白黄红 reports and monthly 月汇报: recorded with history, judged against the numbers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.audit import record
from bot.clock import as_utc, local
from bot.errors import Conflict
from bot.models import Person
from handlers.projects.cycle import (
    Cycle,
    current_cycles,
    cycle_of,
    is_open,
    month_of_week,
    reporting_week,
)
from handlers.projects.models import Colour, MonthlyReport, Project, WeeklyReport
from handlers.projects.objective import Objective, WeekFigures, disagrees, objective_colour
from handlers.projects.registry import require_reporter
from handlers.projects.rules import ProjectRules

HISTORY_WEEKS = 12  # enough for any stall window a county would configure


@dataclass(frozen=True)
class WeeklyEntry:
    """What an official reports for a week (every part settled)."""

    colour: Colour
    invested_yuan: int
    progress: str
    problems: str = ""
    help_needed: str = ""


@dataclass(frozen=True)
class Recorded:
    """A recorded weekly report, what it replaced, and what the numbers say."""

    report: WeeklyReport
    replaced: WeeklyReport | None
    cycle: Cycle
    objective: Objective | None
    late: bool

    @property
    def disagrees(self) -> bool:
        """The reported colour is rosier than the computed one: the leader is told."""
        return disagrees(self.report.colour_enum, self.objective)


def current_weekly(session: Session, project: Project, week: date) -> WeeklyReport | None:
    """The report in force for a project and week (a replaced one is history)."""
    query = select(WeeklyReport).where(
        WeeklyReport.project_id == project.id, WeeklyReport.week == week, WeeklyReport.replaced_at.is_(None)
    )
    return session.scalar(query)


def recent_weekly(session: Session, project: Project, before: date, limit: int) -> list[WeeklyReport]:
    """The project's reports in force for weeks before `before`, newest first."""
    query = (
        select(WeeklyReport)
        .where(
            WeeklyReport.project_id == project.id,
            WeeklyReport.week < before,
            WeeklyReport.replaced_at.is_(None),
        )
        .order_by(WeeklyReport.week.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def reported_weeks(session: Session, project: Project, weeks: Iterable[date]) -> set[date]:
    """Those of `weeks` the project has a report in force for."""
    query = select(WeeklyReport.week).where(
        WeeklyReport.project_id == project.id,
        WeeklyReport.week.in_(list(weeks)),
        WeeklyReport.replaced_at.is_(None),
    )
    return set(session.scalars(query))


def week_for(session: Session, project: Project, now: datetime, rules: ProjectRules) -> date:
    """The week a report typed now is for (a late report fills an earlier week's gap)."""
    *earlier, _ = current_cycles(now, rules)
    reported = reported_weeks(session, project, [c.week for c in earlier])
    return reporting_week(now, rules, reported=reported, registered_at=project.created_at)


def open_weeks(project: Project, now: datetime, rules: ProjectRules) -> list[date]:
    """The weeks a report made now may be for: earlier ones still open for 补报, and this week."""
    *earlier, this = current_cycles(now, rules)
    return [c.week for c in earlier if is_open(c, now, project.created_at)] + [this.week]


def record_weekly(
    session: Session,
    project: Project,
    person: Person,
    entry: WeeklyEntry,
    *,
    now: datetime,
    rules: ProjectRules,
    channel: str,
    week: date | None = None,
) -> Recorded:
    """Record a week's report; a second one for the same week replaces the first, which is kept.

    The week is the one a report typed now is for (week_for), or `week` (a prompt card's) while
    that week is open for reporting. Two reports made at the same moment: the unique index keeps
    one in force and the other person is told (Conflict), not shown an error.
    """
    require_reporter(project, person)
    if week is None:
        week = week_for(session, project, now, rules)
    elif week not in open_weeks(project, now, rules):
        label = cycle_of(week, rules).label
        raise Conflict(f"{label}已过报送时间；请发送「进展 {project.code}」报送本周进展。")
    cycle = cycle_of(week, rules)
    try:
        with session.begin_nested():
            replaced = current_weekly(session, project, week)
            if replaced is not None:
                replaced.replaced_at = now
                session.flush()  # the old row leaves "current" before the new one joins it
            objective = _objective(session, project, week, entry, now, rules)
            report = WeeklyReport(
                project=project,
                week=week,
                colour=entry.colour.value,
                invested_yuan=entry.invested_yuan,
                progress=entry.progress,
                problems=entry.problems,
                help_needed=entry.help_needed,
                objective_colour=objective.colour.value if objective else None,
                objective_reason=objective.reason[:200] if objective else None,
                reporter=person,
                channel=channel,
                reported_at=now,
            )
            session.add(report)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"同一时间有人报送了该项目本周进展，请发送「项目 {project.code}」查看后再报。"
        ) from exc
    _audit_weekly(session, report, replaced, person, now, channel)
    return Recorded(report, replaced, cycle, objective, late=as_utc(now) > cycle.deadline_at)


def _objective(
    session: Session, project: Project, week: date, entry: WeeklyEntry, now: datetime, rules: ProjectRules
) -> Objective | None:
    """The colour the numbers give: the year's investment before this week, plus this report."""
    year = month_of_week(week).year  # the year the week counts in (its Thursday's)
    day = min(local(as_utc(now)).date(), week + timedelta(days=6))
    day = min(max(day, date(year, 1, 1)), date(year, 12, 31))
    history = recent_weekly(session, project, week, HISTORY_WEEKS)
    recent = [WeekFigures(week, entry.invested_yuan, entry.progress)]
    recent += [WeekFigures(r.week, r.invested_yuan, r.progress) for r in history]
    done = entry.invested_yuan + year_to_date(session, project, year, until_week=week)
    return objective_colour(
        day=day,
        annual_plan_yuan=project.annual_plan_yuan if project.plan_year == year else 0,
        done_this_year_yuan=done,
        recent=recent,
        rules=rules,
    )


# ---- the year's investment ------------------------------------------------------------------


def month_investment(
    weekly: Mapping[date, int], monthly: Mapping[date, int], month: date, *, until_week: date | None = None
) -> int | None:
    """A month's investment: its 月汇报's figure, else the sum of its weekly reports; None: nothing reported.

    `weekly` maps Mondays to the reports in force, `monthly` first days of months to the 月汇报 in
    force. A week counts in the month of its Thursday. With `until_week`, only what was known
    before that week: its own month is the sum of its earlier weeks (a 月汇报 of that month may
    already include the week), later months are nothing.
    """
    if until_week is not None and month > month_of_week(until_week):
        return None
    partial = until_week is not None and month == month_of_week(until_week)
    if not partial and month in monthly:
        return monthly[month]
    figures = [
        yuan
        for week, yuan in weekly.items()
        if month_of_week(week) == month and (until_week is None or week < until_week)
    ]
    return sum(figures) if figures else None


def cumulative_investment(
    project: Project,
    year: int,
    weekly: Mapping[date, int],
    monthly: Mapping[date, int],
    *,
    until_week: date | None = None,
    through_month: date | None = None,
) -> int:
    """年度累计: 本年已完成投资 at registration (if the plan is for `year`) and each month's investment.

    Up to the end of `through_month` (default December), or before `until_week` (month_investment).
    """
    last = through_month.month if through_month is not None else 12
    before = project.invested_before_yuan if project.plan_year == year else 0
    months = (date(year, m, 1) for m in range(1, last + 1))
    return before + sum(month_investment(weekly, monthly, m, until_week=until_week) or 0 for m in months)


def year_to_date(session: Session, project: Project, year: int, *, until_week: date | None = None) -> int:
    """The project's 年度累计 for `year` from the reports in force (see cumulative_investment).

    The same figure the 进展 reply, 项目 detail, the computed colour and the 台账 show.
    """
    weekly_query = select(WeeklyReport.week, WeeklyReport.invested_yuan).where(
        WeeklyReport.project_id == project.id,
        WeeklyReport.replaced_at.is_(None),
        WeeklyReport.week.between(date(year, 1, 1) - timedelta(days=3), date(year, 12, 31)),
    )
    weekly = {w: y for w, y in session.execute(weekly_query) if month_of_week(w).year == year}
    monthly_query = select(MonthlyReport.month, MonthlyReport.invested_yuan).where(
        MonthlyReport.project_id == project.id,
        MonthlyReport.replaced_at.is_(None),
        MonthlyReport.month.between(date(year, 1, 1), date(year, 12, 1)),
    )
    monthly = {m: y for m, y in session.execute(monthly_query)}
    return cumulative_investment(project, year, weekly, monthly, until_week=until_week)


def _audit_weekly(
    session: Session,
    report: WeeklyReport,
    replaced: WeeklyReport | None,
    person: Person,
    now: datetime,
    channel: str,
) -> None:
    record(
        session,
        at=now,
        actor=person,
        channel=channel,
        action="project.weekly_reported",
        entity="project",
        entity_id=report.project.code,
        data={
            "week": report.week.isoformat(),
            "colour": report.colour,
            "invested_yuan": report.invested_yuan,
            "objective": report.objective_colour,
            "replaced_report": replaced.id if replaced else None,
        },
    )


def missing_weekly(session: Session, projects: list[Project], week: date) -> list[Project]:
    """Those of `projects` with no report in force for the week."""
    if not projects:
        return []
    query = select(WeeklyReport.project_id).where(
        WeeklyReport.week == week,
        WeeklyReport.replaced_at.is_(None),
        WeeklyReport.project_id.in_([p.id for p in projects]),
    )
    reported = set(session.scalars(query))
    return [p for p in projects if p.id not in reported]


# ---- 月汇报 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthlyEntry:
    """A month's report as typed; amounts in whole 元."""

    invested_yuan: int
    progress: str
    preliminary: str = ""
    funds_in_place_yuan: int = 0
    problems: str = ""
    measures: str = ""


def month_of(day: date) -> date:
    """The first day of `day`'s month: the name of a monthly period."""
    return day.replace(day=1)


def current_monthly(session: Session, project: Project, month: date) -> MonthlyReport | None:
    """The 月汇报 in force for a project and month."""
    query = select(MonthlyReport).where(
        MonthlyReport.project_id == project.id,
        MonthlyReport.month == month,
        MonthlyReport.replaced_at.is_(None),
    )
    return session.scalar(query)


def record_monthly(
    session: Session, project: Project, person: Person, entry: MonthlyEntry, *, now: datetime, channel: str
) -> tuple[MonthlyReport, MonthlyReport | None]:
    """Record this month's 月汇报; a second one replaces the first, which is kept as history."""
    require_reporter(project, person)
    month = month_of(local(as_utc(now)).date())
    try:
        with session.begin_nested():
            replaced = current_monthly(session, project, month)
            if replaced is not None:
                replaced.replaced_at = now
                session.flush()
            report = MonthlyReport(
                project=project,
                month=month,
                preliminary=entry.preliminary,
                funds_in_place_yuan=entry.funds_in_place_yuan,
                invested_yuan=entry.invested_yuan,
                progress=entry.progress,
                problems=entry.problems,
                measures=entry.measures,
                reporter=person,
                channel=channel,
                reported_at=now,
            )
            session.add(report)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"同一时间有人报送了该项目本月汇报，请发送「项目 {project.code}」查看后再报。"
        ) from exc
    data = {"month": month.isoformat(), "invested_yuan": entry.invested_yuan}
    data["replaced_report"] = replaced.id if replaced else None
    record(
        session, at=now, actor=person, channel=channel, action="project.monthly_reported", entity="project",
        entity_id=project.code, data=data,
    )  # fmt: skip
    return report, replaced


def missing_monthly(session: Session, projects: list[Project], month: date) -> list[Project]:
    """Those of `projects` without a 月汇报 in force for the month."""
    if not projects:
        return []
    query = select(MonthlyReport.project_id).where(
        MonthlyReport.month == month,
        MonthlyReport.replaced_at.is_(None),
        MonthlyReport.project_id.in_([p.id for p in projects]),
    )
    reported = set(session.scalars(query))
    return [p for p in projects if p.id not in reported]
