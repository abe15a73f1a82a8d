"""A Digest for a scope and period, computed from stored rows (model.py says what it holds).

What a digest can know of its period ends at the cutoff: the period's end, or `now` while the
period still runs. Work orders come from the register (figures_orders.py); key projects from the
last reporting week due by the cutoff, as reported then, and the 督办卡 audit rows (figures_projects.py);
inspections by their registration time; 免申即享 pushes by their timestamps. So an ended period,
recomputed later after more events, gives the same Digest — except for what keeps no history: a
project's stage, an inspection's later 综合查一次 (joint_key, and the outcome of a visit moved to
the joint day, are set in place), and which departments and projects a leader's scope names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from bot.models import Enterprise, Oversight, Person
from handlers.digests.figures_orders import FiguresFor, cutoff, order_figures, remembered, total_rates
from handlers.digests.figures_projects import project_figures
from handlers.digests.model import (
    Digest,
    InspectionFigures,
    InspectionLine,
    Period,
    PolicyFigures,
    Scope,
    TrendPoint,
)
from handlers.inspections.models import Inspection, Outcome
from handlers.policies.models import PolicyPush, PushStatus
from handlers.projects.models import Project
from handlers.projects.rules import ProjectRules

COUNTY = "全县"
COUNTY_UNSET = "全县（未设分管）"  # a leader with neither 分管 nor 包抓 sees the county
TREND_PERIODS = 6
CONFIRMED = (PushStatus.CONFIRMED.value, PushStatus.DELIVERED.value)  # 不需要 also sets confirmed_at


def county_scope() -> Scope:
    """The whole county: every department and project."""
    return Scope(COUNTY)


def leader_scope(session: Session, leader: Person) -> Scope:
    """A leader's 分管 departments and his projects; his 包抓 projects alone when he oversees none.

    His projects are those he 包抓s, and those without a 包抓 leader in a department he oversees
    (as handlers.projects.registry.project_leaders finds a project's leader). A leader with
    neither 分管 nor 包抓 (not yet set up) gets the county, and the label says why.
    """
    query = select(Oversight.department_id).where(Oversight.leader_id == leader.id)
    departments = frozenset(session.scalars(query))
    if not departments:
        led = frozenset(session.scalars(select(Project.id).where(Project.leader_id == leader.id)))
        if led:  # no department's orders, inspections or pushes: just his projects and their cards
            return Scope(f"{leader.name}包抓项目", frozenset(), led)
        return Scope(COUNTY_UNSET)
    unled = and_(Project.leader_id.is_(None), Project.department_id.in_(departments))
    projects = frozenset(
        session.scalars(select(Project.id).where(or_(Project.leader_id == leader.id, unled)))
    )
    return Scope(f"{leader.name}分管", departments, projects)


def compute(session: Session, scope: Scope, period: Period, *, now: datetime, rules: ProjectRules) -> Digest:
    """Everything the scope's digest for `period` says but the trend (trend() reads more periods)."""
    until = cutoff(period, now)
    return Digest(
        period=period,
        scope=scope,
        orders=order_figures(session, scope, period, now, remembered(session, scope, now)),
        projects=project_figures(session, scope, until, rules),
        inspections=inspection_figures(session, scope, period.start_at, until),
        policies=policy_figures(session, scope, period.start_at, until),
    )


def trend(
    session: Session, scope: Scope, period: Period, n: int = TREND_PERIODS, *, now: datetime | None = None
) -> list[TrendPoint]:
    """The scope's three rates in the `n` periods ending with `period` (cut at `now`), oldest first."""
    return trend_points(period, remembered(session, scope, now or period.end_at), n)


def trend_points(period: Period, figures_for: FiguresFor, n: int) -> list[TrendPoint]:
    """The trend from the scope's figures of each period, oldest first, `period` last."""
    periods: list[Period] = []
    for _ in range(n):
        periods.insert(0, periods[0].previous() if periods else period)
    return [_point(p, figures_for) for p in periods]


def _point(period: Period, figures_for: FiguresFor) -> TrendPoint:
    """One period's 响应率, 解决率 and 满意率 for the scope."""
    rates = total_rates(figures_for(period).values())
    return TrendPoint(period.label, rates["响应率"].value, rates["解决率"].value, rates["满意率"].value)


def inspection_figures(session: Session, scope: Scope, start: datetime, end: datetime) -> InspectionFigures:
    """Inspections registered in [start, end) by the scope's departments."""
    query = (
        select(Inspection)
        .options(joinedload(Inspection.enterprise), joinedload(Inspection.department))
        .where(Inspection.created_at >= start, Inspection.created_at < end)
        .order_by(Inspection.created_at, Inspection.id)
    )
    if scope.department_ids is not None:
        query = query.where(Inspection.department_id.in_(scope.department_ids))
    found = list(session.scalars(query))
    return InspectionFigures(
        registered=len(found),
        blocked=[_inspection_line(i, i.rule_text) for i in found if i.outcome_enum is Outcome.BLOCKED],
        exempted=[
            _inspection_line(i, f"{i.category}：{i.rule_text}")
            for i in found
            if i.outcome_enum is Outcome.EXEMPT
        ],
        joint=sum(1 for i in found if i.joint_key),
    )


def _inspection_line(inspection: Inspection, note: str) -> InspectionLine:
    """An inspection as the digest lists it."""
    return InspectionLine(inspection.number, inspection.enterprise.name, inspection.department.name, note)


def policy_figures(session: Session, scope: Scope, start: datetime, end: datetime) -> PolicyFigures:
    """免申即享 pushes sent, confirmed and delivered in [start, end), to the scope's enterprises."""
    return PolicyFigures(
        pushed=_pushes(session, scope, _within(PolicyPush.pushed_at, start, end)),
        confirmed=_pushes(
            session, scope, _within(PolicyPush.confirmed_at, start, end), PolicyPush.status.in_(CONFIRMED)
        ),
        delivered=_pushes(session, scope, _within(PolicyPush.delivered_at, start, end)),
    )


def _within(column: Any, start: datetime, end: datetime) -> Any:
    """`column` in [start, end)."""
    return and_(column >= start, column < end)


def _pushes(session: Session, scope: Scope, *where: Any) -> int:
    """Pushes meeting `where`, to enterprises whose 包联部门 is in scope (every one for the county)."""
    query = select(func.count(PolicyPush.id)).where(*where)
    if scope.department_ids is not None:
        query = query.join(Enterprise, PolicyPush.enterprise_id == Enterprise.id).where(
            Enterprise.contact_department_id.in_(scope.department_ids)
        )
    return session.scalar(query) or 0
