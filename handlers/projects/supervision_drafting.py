"""Drafting 督办卡 from the weekly colours: a project 黄, 红 or unreported `supervise_weeks` weeks in
a row gets a draft for its leader to 签发 (see supervision.py for what happens next)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.directory import heads_of
from bot.models import Person
from bot.numbering import insert_numbered
from handlers.projects.cycle import day_label, monday_of
from handlers.projects.models import (
    COLOUR_MEANINGS,
    OPEN_CARD_STATUSES,
    TRACKED_STAGES,
    CardKind,
    CardStatus,
    Colour,
    Project,
    SupervisionCard,
    WeeklyReport,
)
from handlers.projects.registry import project_leaders
from handlers.projects.rules import ProjectRules
from handlers.projects.supervision import (
    BUSY,
    DUE_WORKING_DAYS,
    LETTER,
    audit,
    local_today,
    working_days_after,
)

STREAK = "streak:"  # trigger of a drafted card: "streak:<Monday of the last week>"
LAGGING = (Colour.YELLOW, Colour.RED)


@dataclass(frozen=True)
class WeekMark:
    """One week of a streak: the current report's colour, or None when nothing was reported."""

    week: date
    report: WeeklyReport | None

    @property
    def colour(self) -> Colour | None:
        """The reported colour, None when unreported."""
        return self.report.colour_enum if self.report else None

    @property
    def lagging(self) -> bool:
        """黄, 红 or unreported."""
        return self.colour is None or self.colour in LAGGING

    @property
    def label(self) -> str:
        """「11月16日当周 黄（滞后）」 or 「11月16日当周 未报送」."""
        colour = self.colour
        mark = f"{colour.label}（{COLOUR_MEANINGS[colour]}）" if colour else "未报送"
        return f"{day_label(self.week)}当周 {mark}"


def draft_for_week(session: Session, week: date, rules: ProjectRules, now: datetime) -> list[SupervisionCard]:
    """Draft a 督办卡 for every tracked project (TRACKED_STAGES) 黄/红/unreported `supervise_weeks`
    weeks in a row up to `week`.

    Idempotent: a project with a draft or open 督办卡 is skipped, and a streak must start after
    the week of the project's last drafted card, so a rerun (or next week's run while the same
    streak goes on) drafts nothing new. Returns the cards drafted now.
    """
    week = monday_of(week)
    window = [week - timedelta(weeks=n) for n in reversed(range(rules.supervise_weeks))]
    query = select(Project).where(
        Project.active.is_(True), Project.stage.in_([s.value for s in TRACKED_STAGES])
    )  # 竣工/投产 projects report no more weeks: their silence is not a lag
    projects = list(session.scalars(query.order_by(Project.code)))
    reports = _current_reports(session, [p.id for p in projects], window)
    busy, last_streak = _earlier_cards(session, [p.id for p in projects])
    drafted = []
    for project in projects:
        if project.id in busy or window[0] <= last_streak.get(project.id, date.min):
            continue
        marks = [WeekMark(w, reports.get((project.id, w))) for w in window]
        if not all(m.report or _existed_in(project, m.week) for m in marks):
            continue  # a new project is not 'unreported' for weeks before it was registered
        if all(m.lagging for m in marks):
            drafted.append(_draft(session, project, marks, now))
    return drafted


def _current_reports(
    session: Session, project_ids: list[int], weeks: list[date]
) -> dict[tuple[int, date], WeeklyReport]:
    """The current (not replaced) report of each project and week, in one query."""
    if not project_ids:
        return {}
    query = select(WeeklyReport).where(
        WeeklyReport.project_id.in_(project_ids),
        WeeklyReport.week.in_(weeks),
        WeeklyReport.replaced_at.is_(None),
    )
    return {(r.project_id, r.week): r for r in session.scalars(query)}


def _earlier_cards(session: Session, project_ids: list[int]) -> tuple[set[int], dict[int, date]]:
    """Projects with a draft or open 督办卡, and each project's last drafted streak week."""
    query = select(SupervisionCard.project_id, SupervisionCard.status, SupervisionCard.trigger).where(
        SupervisionCard.kind == CardKind.SUPERVISE.value, SupervisionCard.project_id.in_(project_ids)
    )
    running = {CardStatus.DRAFT.value, *(s.value for s in OPEN_CARD_STATUSES)}
    busy: set[int] = set()
    last: dict[int, date] = {}
    for project_id, status, trigger in session.execute(query):
        if project_id is None:
            continue  # the query asks for projects' cards; this keeps the types honest
        if status in running:
            busy.add(project_id)
        if trigger.startswith(STREAK):
            week = date.fromisoformat(trigger.removeprefix(STREAK))
            last[project_id] = max(week, last.get(project_id, date.min))
    return busy, last


def _existed_in(project: Project, week: date) -> bool:
    """Whether the project was registered by the end of `week`."""
    return local_today(project.created_at) <= week + timedelta(days=6)


def _draft(session: Session, project: Project, marks: list[WeekMark], now: datetime) -> SupervisionCard:
    """A new draft for one project's streak, numbered and audited."""
    due = working_days_after(local_today(now), DUE_WORKING_DAYS)
    reported = any(m.report for m in marks)
    card = SupervisionCard(
        kind=CardKind.SUPERVISE.value,
        status=CardStatus.DRAFT.value,
        project_id=project.id,
        trigger=f"{STREAK}{marks[-1].week.isoformat()}",
        problem=streak_problem(project, marks),
        action=_action(due, reported),
        leader=project_leader(session, project),
        assignee=project_assignee(session, project),
        department_id=project.department_id,
        due_on=due,
        drafted_at=now,
    )
    insert_numbered(session, card, SupervisionCard.number, LETTER, now, busy=BUSY)
    audit(session, card, "draft", None, now, "job", trigger=card.trigger)
    return card


def streak_problem(project: Project, marks: Sequence[WeekMark]) -> str:
    """What the card says went wrong: the weeks and their colours, and the latest 存在问题."""
    head = f"项目 {project.code} {project.name} 连续{len(marks)}周"
    if not any(m.report for m in marks):
        return f"{head}未报送进展（{'、'.join(day_label(m.week) + '当周' for m in marks)}）。"
    text = f"{head}进展滞后{'或未报送' if any(m.report is None for m in marks) else ''}：" + "，".join(
        m.label for m in marks
    )
    latest = next((m.report for m in reversed(marks) if m.report and m.report.problems.strip()), None)
    return f"{text}。" + (f"最近报送的问题：{latest.problems.strip()}" if latest else "")


def _action(due: date, reported: bool) -> str:
    """办理要求: explain and fix a lag, or report what was never reported."""
    if reported:
        return f"请于{day_label(due)}前说明滞后原因、提出整改措施并反馈。"
    return f"请于{day_label(due)}前补报项目进展、说明未报送原因并反馈。"


def project_assignee(session: Session, project: Project) -> Person | None:
    """The project's first 责任人; else the head of its responsible department."""
    leads = project.leads
    if leads:
        return leads[0]
    heads = heads_of(session, project.department_id)
    return heads[0] if heads else None


def project_leader(session: Session, project: Project) -> Person | None:
    """Who 签发s the project's draft: its 包抓县领导, else the one leader standing in for it.

    Without a 包抓县领导 the alerts go to the leaders overseeing the department (every leader when
    nobody does); only when that is exactly one leader is the draft his. Otherwise None: the draft
    goes to the admins (supervision.deciders), who 签发 it or leave it, rather than to an
    arbitrary one of several leaders.
    """
    leaders = project_leaders(session, project)
    return leaders[0] if len(leaders) == 1 else None
