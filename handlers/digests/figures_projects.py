"""A digest's key-project figures: the last reporting week due by the cutoff, and the 督办卡 at the cutoff.

The cutoff is the period's end, or `now` when that is earlier (a digest of a running period). The
week shown is the last one whose reports were due (cycle.Cycle.deadline_at) by the cutoff, so
Monday's 周报 and 日报 show last week's colours, not the week before; and its reports are those
in force AT the cutoff (made before it, and not replaced before it), so a 补报 or a correction
typed after the cutoff (allowed until the week's escalation) leaves the digest as it was: the
same period gives the same figures however late it is recomputed. Its projects are those of the
scope that are active and in a TRACKED stage (as they are now: stages keep no history) and were
registered by the week's prompt, as 督办卡 drafting counts them.

督办卡/批示卡 are replayed from their audit rows before the cutoff — the status each change left,
and the 期限 as 签发 or 交办 set it — so a later 反馈, 销号 or 签发 does not change the digest.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import Session, joinedload

from bot.clock import as_utc, local
from bot.models import AuditEvent
from handlers.complaints.cards import excerpt
from handlers.digests.model import ProjectFigures, ProjectLine, Scope
from handlers.projects.cycle import Cycle, applies_to, cycle_of, day_label, monday_of
from handlers.projects.models import (
    COLOUR_LABELS,
    OPEN_CARD_STATUSES,
    TRACKED_STAGES,
    CardStatus,
    Colour,
    Project,
    SupervisionCard,
    WeeklyReport,
)
from handlers.projects.rules import ProjectRules

UNREPORTED = "未报"
COLOUR_KEYS = (*COLOUR_LABELS.values(), UNREPORTED)  # 绿 白 黄 红 未报
MAX_WEEKS_BACK = 6  # a week's reports are due on its prompt day: never this many weeks later
CARD_ENTITY = "supervision_card"  # handlers.projects.supervision.audit
NAME_LENGTH = 30  # a 批示卡 without a project is named by the start of its matter
Reports = dict[tuple[int, date], WeeklyReport]


def project_figures(session: Session, scope: Scope, cutoff: datetime, rules: ProjectRules) -> ProjectFigures:
    """The scope's projects in the last week closed by `cutoff`, and its cards as they stood then."""
    cycle = closed_week(cutoff, rules)
    week, before = cycle.week, cycle.week - timedelta(days=7)
    projects = tracked_projects(session, scope)
    reports = weekly_reports(session, [p.id for p in projects], (week, before), at=cutoff)
    marks = week_marks(projects, reports, cycle)
    cards = card_states(session, scope, cutoff)
    today = local(as_utc(cutoff)).date()
    return ProjectFigures(
        week_label=cycle.label,
        colours=colour_counts(marks),
        colours_before=colour_counts(week_marks(projects, reports, cycle_of(before, rules))),
        red=[_line(p, r.problems.strip()) for p, r in marks if r and r.colour_enum is Colour.RED],
        yellow=[_line(p, r.problems.strip()) for p, r in marks if r and r.colour_enum is Colour.YELLOW],
        unreported=[_line(p) for p, r in marks if r is None],
        disagreements=[_line(p, note) for p, r in marks if r and (note := disagreement(r))],
        cards_open=sum(1 for _, status, _ in cards if status in OPEN_CARD_STATUSES),
        cards_overdue=[
            _card_line(c, f"{c.number}，期限{day_label(due)}") for c, due in overdue(cards, today)
        ],
        cards_draft=[_card_line(c, c.number) for c, status, _ in cards if status is CardStatus.DRAFT],
    )


# ---------------------------------------------------------------- weekly colours


def closed_week(cutoff: datetime, rules: ProjectRules) -> Cycle:
    """The last reporting week whose reports were due (deadline_at) by `cutoff`."""
    week = monday_of(local(as_utc(cutoff)).date())
    for _ in range(MAX_WEEKS_BACK):
        cycle = cycle_of(week, rules)
        if cycle.deadline_at <= as_utc(cutoff):
            return cycle
        week -= timedelta(days=7)
    return cycle_of(week, rules)


def scope_filter(scope: Scope) -> Any:
    """The scope's Project rows: its projects, else its departments' (every one for the county)."""
    if scope.project_ids is not None:
        return Project.id.in_(scope.project_ids)
    if scope.department_ids is not None:
        return Project.department_id.in_(scope.department_ids)
    return true()


def tracked_projects(session: Session, scope: Scope) -> list[Project]:
    """The scope's active projects in a stage that reports weekly, by code."""
    query = (
        select(Project)
        .options(joinedload(Project.department))
        .where(
            scope_filter(scope),
            Project.active.is_(True),
            Project.stage.in_([s.value for s in TRACKED_STAGES]),
        )
        .order_by(Project.code)
    )
    return list(session.scalars(query))


def weekly_reports(
    session: Session, project_ids: list[int], weeks: Iterable[date], *, at: datetime
) -> Reports:
    """The report in force at `at` of each project and week (made before, replaced not before), one query."""
    if not project_ids:
        return {}
    query = select(WeeklyReport).where(
        WeeklyReport.project_id.in_(project_ids),
        WeeklyReport.week.in_(list(weeks)),
        WeeklyReport.reported_at < at,
        or_(WeeklyReport.replaced_at.is_(None), WeeklyReport.replaced_at >= at),
    )
    return {(r.project_id, r.week): r for r in session.scalars(query)}


def week_marks(
    projects: list[Project], reports: Reports, cycle: Cycle
) -> list[tuple[Project, WeeklyReport | None]]:
    """The projects due a report for the cycle's week (registered by its prompt, or reported), with it."""
    week = cycle.week
    return [
        (p, reports.get((p.id, week)))
        for p in projects
        if (p.id, week) in reports or applies_to(cycle, p.created_at)
    ]


def colour_counts(marks: list[tuple[Project, WeeklyReport | None]]) -> dict[str, int]:
    """绿/白/黄/红/未报 → projects, every key present."""
    counts = dict.fromkeys(COLOUR_KEYS, 0)
    for _, report in marks:
        counts[report.colour_enum.label if report else UNREPORTED] += 1
    return counts


def disagreement(report: WeeklyReport) -> str:
    """「报白，测算红」 when the reported colour is rosier than the computed one, else ""."""
    objective = report.objective_enum
    if objective is None or report.colour_enum.rank >= objective.rank:
        return ""
    return f"报{report.colour_enum.label}，测算{objective.label}"


def _line(project: Project, note: str = "") -> ProjectLine:
    """A project as the digest lists it."""
    return ProjectLine(project.code, project.name, project.department.name, note)


# ---------------------------------------------------------------- 督办卡 and 批示卡

CardState = tuple[SupervisionCard, CardStatus, date]  # the card, its status and 期限 at the cutoff
CardReplay = tuple[str | None, str | None]  # status and 期限 (ISO date) as the audit rows left them


def card_filter(scope: Scope) -> Any:
    """The scope's SupervisionCard rows: its projects' cards, and its departments' other cards."""
    if scope.county:
        return true()
    projects = select(Project.id).where(scope_filter(scope))
    departments = scope.department_ids or frozenset()
    return or_(
        SupervisionCard.project_id.in_(projects),
        and_(SupervisionCard.project_id.is_(None), SupervisionCard.department_id.in_(departments)),
    )


def card_states(session: Session, scope: Scope, cutoff: datetime) -> list[CardState]:
    """The scope's cards drafted before `cutoff` and not cleared by then, each as it stood, by number."""
    query = (
        select(SupervisionCard)
        .options(
            joinedload(SupervisionCard.project).joinedload(Project.department),
            joinedload(SupervisionCard.department),
        )
        .where(
            card_filter(scope),
            SupervisionCard.drafted_at < cutoff,
            or_(SupervisionCard.cleared_at.is_(None), SupervisionCard.cleared_at >= cutoff),  # 销号 is final
        )
        .order_by(SupervisionCard.number)
    )
    cards = list(session.scalars(query).unique())
    replayed = replay_cards(session, [c.number for c in cards], cutoff)
    states = []
    for card in cards:
        status, due = replayed.get(card.number, (None, None))
        if status is not None:
            states.append((card, CardStatus(status), date.fromisoformat(due) if due else card.due_on))
    return states


def replay_cards(session: Session, numbers: list[str], cutoff: datetime) -> dict[str, CardReplay]:
    """Each card's status and 期限 (ISO date, None if never set) after its last change before `cutoff`."""
    if not numbers:
        return {}
    query = (
        select(AuditEvent.entity_id, AuditEvent.data)
        .where(AuditEvent.entity == CARD_ENTITY, AuditEvent.entity_id.in_(numbers), AuditEvent.at < cutoff)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    states: dict[str, CardReplay] = {}
    for number, data in session.execute(query):
        status, due = states.get(str(number), (None, None))
        states[str(number)] = (data.get("status", status), data.get("due_on", due))
    return states


def overdue(cards: list[CardState], today: date) -> list[tuple[SupervisionCard, date]]:
    """Issued cards past their 期限 on `today` (the due day itself is in time), soonest due first."""
    late = [(card, due) for card, status, due in cards if status is CardStatus.ISSUED and due < today]
    return sorted(late, key=lambda item: (item[1], item[0].number))


def _card_line(card: SupervisionCard, note: str) -> ProjectLine:
    """A card as the digest lists it: its project, or (a 批示卡 without one) the start of its matter."""
    project = card.project
    department = card.department or (project.department if project else None)
    name = department.name if department else ""
    if project is not None:
        return ProjectLine(project.code, project.name, name, note)
    return ProjectLine("", excerpt(card.problem, NAME_LENGTH), name, note)
