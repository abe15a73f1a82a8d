"""Weekly 绿白黄红 reports and monthly 月汇报: recorded with history, judged against the numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit import record
from bot.clock import as_utc, local
from bot.models import Person
from handlers.projects.cycle import Cycle, cycle_of, monday_of, reporting_week
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


def week_for(session: Session, project: Project, now: datetime, rules: ProjectRules) -> date:
    """The week a report typed now is for (a late report fills last week's gap)."""
    last_week = monday_of(local(as_utc(now)).date()) - timedelta(days=7)
    reported = current_weekly(session, project, last_week) is not None
    return reporting_week(now, rules, reported_last_week=reported)


def record_weekly(
    session: Session,
    project: Project,
    person: Person,
    entry: WeeklyEntry,
    *,
    now: datetime,
    rules: ProjectRules,
    channel: str,
) -> Recorded:
    """Record a week's report; a second one for the same week replaces the first, which is kept."""
    require_reporter(project, person)
    week = week_for(session, project, now, rules)
    cycle = cycle_of(week, rules)
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
    _audit_weekly(session, report, replaced, person, now, channel)
    return Recorded(report, replaced, cycle, objective, late=as_utc(now) > cycle.deadline_at)


def _objective(
    session: Session, project: Project, week: date, entry: WeeklyEntry, now: datetime, rules: ProjectRules
) -> Objective | None:
    """The colour the numbers give, counting this report in."""
    day = min(local(as_utc(now)).date(), week + timedelta(days=6))
    history = recent_weekly(session, project, week, HISTORY_WEEKS)
    recent = [WeekFigures(week, entry.invested_yuan, entry.progress)]
    recent += [WeekFigures(r.week, r.invested_yuan, r.progress) for r in history]
    same_year = project.plan_year == day.year
    done = entry.invested_yuan + (
        invested_in_year(session, project, day.year, before=week) if same_year else 0
    )
    return objective_colour(
        day=day,
        annual_plan_yuan=project.annual_plan_yuan if same_year else 0,
        done_this_year_yuan=done,
        recent=recent,
        rules=rules,
    )


def invested_in_year(session: Session, project: Project, year: int, *, before: date | None = None) -> int:
    """The year's investment: what was done before reporting began, plus the weekly reports in force."""
    query = select(func.coalesce(func.sum(WeeklyReport.invested_yuan), 0)).where(
        WeeklyReport.project_id == project.id,
        WeeklyReport.replaced_at.is_(None),
        WeeklyReport.week >= date(year, 1, 1),
        WeeklyReport.week <= date(year, 12, 31),
    )
    if before is not None:
        query = query.where(WeeklyReport.week < before)
    earlier = project.invested_before_yuan if year == project.plan_year else 0
    return earlier + int(session.scalar(query) or 0)


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
