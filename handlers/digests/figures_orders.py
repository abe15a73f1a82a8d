"""A digest's work-order figures: new, open and late orders per department, the five rates, ranked.

Everything is read from the register (OrderEvent), never from an order's current columns, so a
digest recomputed later — after more events — is the same:

- new: DISPATCH events in the period (only 挂号 dispatches; 转办 and 返工 are not new orders);
- open / late: each order's state at the period's end is replayed from its events before the
  end. The orders replayed are those filed before the end and not closed (销号, final) before it;
  open is 待接单 or 办理中 with a department. Late is past the deadline the 盯单 ladder runs on at
  that moment (the solve deadline once picked up, else the pickup deadline), where the solve
  deadline is the 24 h promise: an approved 延期 leaves the order "visibly late" (DOMAIN §1), as
  the 解决率 counts it;
- returned: an order 已退回 at the period's end waits for a coordinator, not for the department
  that sent it back, so it is counted apart (待协调（退回）, and how many of those are past their
  pickup deadline: 超时未协调), never as that department's open or late order; it belongs to a
  leader's scope when the department that returned it does;
- the rates: handlers.complaints.figures.department_figures, summed part by part for the scope.

A period still running is read up to `now` (its cutoff): the rates do not count a deadline as
missed before it has passed, and open and late are as they are now.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.clock import as_utc
from bot.models import Department, Enterprise
from handlers.complaints.figures import DepartmentFigures, Rate, department_figures
from handlers.complaints.models import OPEN_STATES, Action, OrderEvent, OrderState, WorkOrder
from handlers.digests.model import RATE_NAMES, DepartmentOrders, OrderFigures, Period, Scope

MAX_LATE_LISTED = 10
SCORED = RATE_NAMES[:3]  # 响应率, 解决率, 满意率: the ranking's score
ROUND_STARTS = frozenset({Action.DISPATCH, Action.REOPEN})  # the clocks start afresh
NOT_VERSIONED = frozenset({Action.FILE, Action.DISPATCH, Action.REMIND, Action.ESCALATE})
FiguresFor = Callable[[Period], dict[int, DepartmentFigures]]  # scope_figures of one scope, remembered


@dataclass
class Replay:
    """One order as its events leave it at a moment."""

    number: str
    enterprise: str
    state: OrderState | None = None
    holder: int | None = None
    pickup_due: datetime | None = None
    solve_due: datetime | None = None  # the 24 h promise of the current round, once picked up
    round_start: datetime | None = None  # 派单, or the last 返工
    version: int = 1

    def late_since(self, end: datetime) -> datetime | None:
        """The deadline it is past at `end` (as the 盯单 ladder picks it), or None."""
        picked = self.solve_due is not None and self.state in (OrderState.PICKED_UP, OrderState.DISPATCHED)
        due = self.solve_due if picked else self.pickup_due
        return due if due is not None and due < as_utc(end) else None


@dataclass(frozen=True)
class Held:
    """An order open at a period's end: who holds it, since when, and (if late) since when."""

    number: str
    enterprise: str
    department_id: int
    version: int
    since: datetime  # 派单 or the last 返工
    late_since: datetime | None
    returned: bool = False  # 已退回: awaiting a coordinator; department_id is the one that sent it back


def in_scope(scope: Scope, department_id: int | None) -> bool:
    """Whether a department belongs to the scope (every one for the county)."""
    if department_id is None:
        return False
    return scope.department_ids is None or department_id in scope.department_ids


def order_figures(
    session: Session, scope: Scope, period: Period, now: datetime, figures_for: FiguresFor
) -> OrderFigures:
    """The scope's work orders in `period` (up to `now` while it runs), and the rates of the one before."""
    until = cutoff(period, now)
    figures, before = figures_for(period), figures_for(period.previous())
    new = new_orders(session, scope, period.start_at, until)
    open_orders = [h for h in held_at(session, until) if in_scope(scope, h.department_id)]
    held = [h for h in open_orders if not h.returned]  # a 退回 order is no department's to do
    returned = [h for h in open_orders if h.returned]
    names = department_names(session, set(figures) | set(new) | {h.department_id for h in held})
    departments = [_department(d, names[d], figures.get(d), new[d], held) for d in names]
    late = sorted((h for h in held if h.late_since), key=lambda h: (h.late_since, h.number))
    return OrderFigures(
        new=sum(new.values()),
        open=len(held),
        late=len(late),
        departments=ranked(departments),
        rates=total_rates(figures.values()),
        rates_before=total_rates(before.values()),
        late_orders=[_late_line(h, names) for h in late[:MAX_LATE_LISTED]],
        returned=len(returned),
        returned_late=sum(1 for h in returned if h.late_since),
    )


def scope_figures(
    session: Session, scope: Scope, period: Period, now: datetime
) -> dict[int, DepartmentFigures]:
    """The register's figures of the scope's departments for a period (up to `now` if still running)."""
    found = department_figures(session, period.start_at, cutoff(period, now))
    return {f.department_id: f for f in found if in_scope(scope, f.department_id)}


def cutoff(period: Period, now: datetime) -> datetime:
    """The period's end, or `now` while it runs: what a digest can know of it."""
    return min(period.end_at, as_utc(now))


def remembered(session: Session, scope: Scope, now: datetime) -> FiguresFor:
    """scope_figures for one scope, each period read once (a digest and its trend share them)."""
    memo: dict[Period, dict[int, DepartmentFigures]] = {}

    def figures_for(period: Period) -> dict[int, DepartmentFigures]:
        """The scope's figures of `period`, from the memo when read before."""
        if period not in memo:
            memo[period] = scope_figures(session, scope, period, now)
        return memo[period]

    return figures_for


def rates_of(figures: DepartmentFigures) -> dict[str, Rate]:
    """One department's five rates, RATE_NAMES → Rate."""
    rates = (
        figures.response_rate,
        figures.solve_rate,
        figures.satisfaction_rate,
        figures.return_rate,
        figures.rework_rate,
    )
    return dict(zip(RATE_NAMES, rates, strict=True))


def total_rates(figures: Iterable[DepartmentFigures]) -> dict[str, Rate]:
    """The five rates of several departments together: the parts summed."""
    parts = [rates_of(f) for f in figures]
    return {
        name: Rate(sum(p[name].numerator for p in parts), sum(p[name].denominator for p in parts))
        for name in RATE_NAMES
    }


def score(rates: dict[str, Rate]) -> float | None:
    """The mean of 响应率, 解决率 and 满意率 that have a value; None when none has."""
    values = [v for v in (rates[name].value for name in SCORED) if v is not None]
    return sum(values) / len(values) if values else None


def ranked(departments: list[DepartmentOrders]) -> list[DepartmentOrders]:
    """Best first: higher score, then fewer late orders, then by name; no score last."""
    return sorted(departments, key=lambda d: (d.score is None, -(d.score or 0.0), d.late, d.name))


def new_orders(session: Session, scope: Scope, start: datetime, end: datetime) -> Counter[int]:
    """Orders dispatched (挂号) in [start, end), by the department they went to."""
    query = (
        select(OrderEvent.department_id, func.count())
        .where(
            OrderEvent.action == Action.DISPATCH.value,
            OrderEvent.at >= start,
            OrderEvent.at < end,
        )
        .group_by(OrderEvent.department_id)
    )
    return Counter({d: n for d, n in session.execute(query) if d is not None and in_scope(scope, d)})


def held_at(session: Session, end: datetime) -> list[Held]:
    """Every order open at `end`, replayed from its events before `end` (one query)."""
    query = (
        select(
            OrderEvent.order_id,
            OrderEvent.at,
            OrderEvent.action,
            OrderEvent.to_state,
            OrderEvent.department_id,
            OrderEvent.data,
            WorkOrder.number,
            Enterprise.name,
        )
        .join(WorkOrder, OrderEvent.order_id == WorkOrder.id)
        .join(Enterprise, WorkOrder.enterprise_id == Enterprise.id)
        .where(
            WorkOrder.filed_at < end,
            or_(WorkOrder.closed_at.is_(None), WorkOrder.closed_at >= end),  # 销号 is final
            OrderEvent.at < end,
        )
        .order_by(OrderEvent.order_id, OrderEvent.id)
    )
    replays: dict[int, Replay] = {}
    for row in session.execute(query):
        replay = replays.setdefault(row.order_id, Replay(row.number, row.name))
        step(replay, Action(row.action), row.to_state, row.department_id, row.data or {}, row.at)
    return [held for replay in replays.values() if (held := _held(replay, end)) is not None]


def step(
    replay: Replay,
    action: Action,
    to_state: str | None,
    department_id: int | None,
    data: dict[str, Any],
    at: datetime,
) -> None:
    """Apply one event to the replay of its order."""
    if to_state is not None:
        replay.state = OrderState(to_state)
    if department_id is not None:
        replay.holder = department_id
    if action in ROUND_STARTS:
        replay.round_start, replay.solve_due = as_utc(at), None
    if data.get("pickup_due"):
        replay.pickup_due = as_utc(datetime.fromisoformat(data["pickup_due"]))
    if action is Action.PICKUP and data.get("solve_due"):
        replay.solve_due = as_utc(datetime.fromisoformat(data["solve_due"]))
    replay.version += _bumps(action, to_state)


def _bumps(action: Action, to_state: str | None) -> int:
    """1 if the transition bumped the order's version (a 不满意 rating shares its bump with 返工)."""
    if action in NOT_VERSIONED:
        return 0
    return int(action is not Action.RATE or to_state == OrderState.CLOSED.value)


def _held(replay: Replay, end: datetime) -> Held | None:
    """The replayed order, if it is open at `end`."""
    if replay.state not in OPEN_STATES or replay.holder is None or replay.round_start is None:
        return None
    return Held(
        replay.number, replay.enterprise, replay.holder, replay.version, replay.round_start,
        replay.late_since(end), returned=replay.state is OrderState.RETURNED,
    )  # fmt: skip


def department_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Department names by id, in id order."""
    if not ids:
        return {}
    query = select(Department.id, Department.name).where(Department.id.in_(ids)).order_by(Department.id)
    return dict(session.execute(query).all())


def _department(
    department_id: int,
    name: str,
    figures: DepartmentFigures | None,
    new: int,
    held: list[Held],
) -> DepartmentOrders:
    """One department's line: new, open, late, its longest-waiting open order, its rates."""
    mine = [h for h in held if h.department_id == department_id]
    oldest = min(mine, key=lambda h: (h.since, h.number), default=None)
    rates = rates_of(figures) if figures else {rate: Rate(0, 0) for rate in RATE_NAMES}
    return DepartmentOrders(
        department_id=department_id,
        name=name,
        new=new,
        open=len(mine),
        late=sum(1 for h in mine if h.late_since),
        oldest=oldest.number if oldest else None,
        oldest_since=oldest.since if oldest else None,
        rates=rates,
        score=score(rates),
    )


def _late_line(held: Held, names: dict[int, str]) -> tuple[str, str, str, int, datetime]:
    """(number, enterprise, department, version, late since) for the digest's list."""
    assert held.late_since is not None
    return held.number, held.enterprise, names[held.department_id], held.version, held.late_since
