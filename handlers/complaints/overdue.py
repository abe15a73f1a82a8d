"""How many open orders are past their deadline right now, counted in the database (for /metrics).

"Overdue" is what the 盯单 ladder chases (alarms.ladder): an order 待接单 or 办理中 whose solve
clock runs (picked up once, even if 转办'd since) is late past its solve deadline, the approved
延期 if any; any other open order (待接单 never picked up, 已退回 awaiting a coordinator) is late
past its pickup deadline. One aggregate query over the open orders, answered by clock.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from handlers.complaints.models import OPEN_STATES, OrderState, WorkOrder

CLOCKS = ("pickup", "solve")


def overdue_counts(session: Session, now: datetime) -> dict[str, int]:
    """{"pickup": n, "solve": m}: open orders past the deadline the 盯单 ladder runs on, by clock."""
    solve_due = func.coalesce(WorkOrder.extended_until, WorkOrder.solve_due_at)
    on_solve_clock = WorkOrder.state.in_([OrderState.DISPATCHED.value, OrderState.PICKED_UP.value]) & (
        solve_due.is_not(None)
    )
    clock = case((on_solve_clock, "solve"), else_="pickup")
    # Each deadline compared in its own column's type (a CASE would lose UTCDateTime's binding).
    late = (on_solve_clock & (solve_due < now)) | (~on_solve_clock & (WorkOrder.pickup_due_at < now))
    query = (
        select(clock.label("clock"), func.count())
        .where(WorkOrder.state.in_([s.value for s in OPEN_STATES]), late)
        .group_by(clock)
    )
    counts = dict.fromkeys(CLOCKS, 0)
    counts.update({str(name): int(n) for name, n in session.execute(query)})
    return counts
