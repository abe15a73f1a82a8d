"""The register's figures per department — 响应率, 解决率, 满意率, 退回率, 返工率 — from OrderEvent rows only.

A period is half-open, [start, end), in event time; only events inside it are read, so the same
period always gives the same numbers (events are never changed). Ask only for periods that have
ended (end ≤ now): a deadline counted as missed at `end` may still be met if `end` is in the future.

For a department D, an *arrival* is an event that leaves an order waiting at D for pickup:
dispatch, transfer (转办) to D, a 退回 decided to D, or reopen (返工) at D. Its *response* is the
order's next pickup, transfer or return (退回), whoever made it — while an order waits at D only D
(or a leader for it) can move it. The pickup deadline is the order's, carried in the arrival's
data: 转办 and 退回 do not reset it, so a department receiving an already-late order is late too.

- 响应率 = arrivals answered by their pickup deadline / arrivals decided in the period
  (decided: answered before `end`, or the deadline passed by `end`; still-running ones wait).
- 解决率 = D's pickups whose next resolve-or-transfer is a resolve by the pickup's solve deadline
  / D's pickups decided in the period. The deadline is the 24 h promise: an approved 延期 does not
  make a late solution timely (DOMAIN: the order "stays visibly late"). A pickup handed on by
  转办 counts as not solved by D.
- 满意率 = ratings 满意 or 基本满意 of D's resolutions / all ratings of D's resolutions; an
  auto-closed (unrated) order is not a rating.
- 退回率 = D's 退回 / D's arrivals.
- 返工率 = 不满意 ratings of D's resolutions / D's resolutions (办结).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import as_utc
from bot.models import Department
from handlers.complaints.models import SATISFIED, Action, OrderEvent, OrderState

ARRIVALS = frozenset({Action.DISPATCH, Action.TRANSFER, Action.RETURN_DECIDED, Action.REOPEN})
RESPONSES = frozenset({Action.PICKUP, Action.TRANSFER, Action.RETURN})
SOLVE_OUTCOMES = frozenset({Action.RESOLVE, Action.TRANSFER})
SOLVED = frozenset({Action.RESOLVE})
Judged = tuple[int, int]


@dataclass(frozen=True)
class Rate:
    """A ratio that keeps its parts (the summaries show "12/15")."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def percent(self) -> str:
        return "—" if self.value is None else f"{self.value * 100:.1f}%"


@dataclass
class Tally:
    """The counts behind one department's rates."""

    arrivals: int = 0
    responses_decided: int = 0
    responded_in_time: int = 0
    pickups_decided: int = 0
    solved_in_time: int = 0
    ratings: int = 0
    satisfied: int = 0
    returns: int = 0
    resolutions: int = 0
    reworks: int = 0


@dataclass(frozen=True)
class DepartmentFigures:
    """One department's five rates for a period."""

    department_id: int
    department: str
    tally: Tally = field(repr=False)

    @property
    def response_rate(self) -> Rate:  # 响应率
        return Rate(self.tally.responded_in_time, self.tally.responses_decided)

    @property
    def solve_rate(self) -> Rate:  # 解决率
        return Rate(self.tally.solved_in_time, self.tally.pickups_decided)

    @property
    def satisfaction_rate(self) -> Rate:  # 满意率
        return Rate(self.tally.satisfied, self.tally.ratings)

    @property
    def return_rate(self) -> Rate:  # 退回率
        return Rate(self.tally.returns, self.tally.arrivals)

    @property
    def rework_rate(self) -> Rate:  # 返工率
        return Rate(self.tally.reworks, self.tally.resolutions)


def department_figures(session: Session, start: datetime, end: datetime) -> list[DepartmentFigures]:
    """The five rates of every department with events in [start, end), by department id."""
    query = select(OrderEvent).where(OrderEvent.at >= start, OrderEvent.at < end)
    by_order: dict[int, list[OrderEvent]] = defaultdict(list)
    for event in session.scalars(query.order_by(OrderEvent.order_id, OrderEvent.id)):
        by_order[event.order_id].append(event)
    tallies: dict[int, Tally] = defaultdict(Tally)
    for events in by_order.values():
        _count_order(events, end, tallies)
    query_names = select(Department.id, Department.name).where(Department.id.in_(tallies))
    names = {dept_id: name for dept_id, name in session.execute(query_names)}
    return [DepartmentFigures(d, names[d], tallies[d]) for d in sorted(tallies)]


def _count_order(events: list[OrderEvent], end: datetime, tallies: dict[int, Tally]) -> None:
    # One order's events, in order: each is counted for the department it names.
    for i, event in enumerate(events):
        if event.department_id is None:
            continue
        tally, action, later = tallies[event.department_id], Action(event.action), events[i + 1 :]
        if action in ARRIVALS and event.to_state == OrderState.DISPATCHED.value:
            tally.arrivals += 1
            decided, met = _judge(event, "pickup_due", _first(later, RESPONSES), RESPONSES, end)
            tally.responses_decided += decided
            tally.responded_in_time += met
        if action is Action.PICKUP:
            decided, met = _judge(event, "solve_due", _first(later, SOLVE_OUTCOMES), SOLVED, end)
            tally.pickups_decided += decided
            tally.solved_in_time += met
        _count_simple(event, action, tally)


def _count_simple(event: OrderEvent, action: Action, tally: Tally) -> None:
    if action is Action.RETURN:
        tally.returns += 1
    elif action is Action.RESOLVE:
        tally.resolutions += 1
    elif action is Action.RATE:
        tally.ratings += 1
        tally.satisfied += event.data.get("rating") in SATISFIED
        tally.reworks += event.data.get("rating") == "不满意"


def _first(events: Iterable[OrderEvent], actions: frozenset[Action]) -> OrderEvent | None:
    return next((e for e in events if Action(e.action) in actions), None)


def _judge(
    event: OrderEvent, key: str, outcome: OrderEvent | None, good: frozenset[Action], end: datetime
) -> Judged:
    """(decided, met) for one clock: decided once answered or past its deadline; met if answered in time."""
    due = datetime.fromisoformat(event.data[key])
    if outcome is None and due > as_utc(end):
        return 0, 0  # still running at the end of the period: neither met nor missed yet
    return 1, int(outcome is not None and Action(outcome.action) in good and as_utc(outcome.at) <= due)
