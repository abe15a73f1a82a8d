"""The 诉求工单 register: the work orders filed (挂号) in a period, and every event of those orders.

Times are Excel datetimes in Beijing time. The 统一社会信用代码 is written in full (officials need
it) and never logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.clock import as_utc, fmt_local
from bot.models import Department
from bot.spreadsheets import Col, Sheet, Target, excel_time, save_book
from handlers.complaints.figures import ARRIVALS, RESPONSES, SOLVE_OUTCOMES
from handlers.complaints.flow import CLOCK_WORDS, HISTORY_VERBS, RUNG_LABELS
from handlers.complaints.models import STATE_LABELS, Action, OrderEvent, OrderState, WorkOrder
from handlers.digests.exports import Exported, Span

ORDER_COLUMNS = (
    Col("单号", 13),
    Col("企业", 26, "long"),
    Col("统一社会信用代码", 21),
    Col("类别", 9),
    Col("紧急程度", 8),
    Col("诉求内容", 40, "long"),
    Col("承办部门", 16),
    Col("状态", 12),
    Col("提交时间", 16, "time"),
    Col("接单时限", 16, "time"),
    Col("接单时间", 16, "time"),
    Col("办结时限", 16, "time"),
    Col("办结时间", 16, "time"),
    Col("结果", 30, "long"),
    Col("评价", 12),
    Col("返工次数", 8),
    Col("是否超时", 8),
    Col("是否延期", 22),
)
EVENT_COLUMNS = (
    Col("单号", 13),
    Col("时间", 16, "time"),
    Col("动作", 10),
    Col("部门", 16),
    Col("操作人", 10),
    Col("说明", 50, "long"),
)
DETAIL_KEYS = ("to_department", "reason", "note", "result", "rating", "comment", "until", "rung")


def register_orders(session: Session, span: Span, department: Department | None) -> list[WorkOrder]:
    """The orders filed in the span (those the department ever held, if given), oldest first."""
    query = select(WorkOrder).where(WorkOrder.filed_at >= span.start_at, WorkOrder.filed_at < span.end_at)
    if department is not None:
        held = select(OrderEvent.order_id).where(OrderEvent.department_id == department.id)
        query = query.where(WorkOrder.id.in_(held))
    query = query.options(selectinload(WorkOrder.enterprise), selectinload(WorkOrder.holding_department))
    return list(session.scalars(query.order_by(WorkOrder.filed_at, WorkOrder.id)))


EVENT_BATCH = 5_000  # order ids per query: PostgreSQL takes at most 65,535 bound parameters


def order_events(session: Session, orders: list[WorkOrder]) -> dict[int, list[OrderEvent]]:
    """Every event of the orders, by order id, in the order they happened (in batches of ids)."""
    events: dict[int, list[OrderEvent]] = {o.id: [] for o in orders}
    ids = list(events)
    for first in range(0, len(ids), EVENT_BATCH):
        batch = ids[first : first + EVENT_BATCH]
        query = (
            select(OrderEvent).where(OrderEvent.order_id.in_(batch)).options(selectinload(OrderEvent.actor))
        )
        for event in session.scalars(query.order_by(OrderEvent.order_id, OrderEvent.id)):
            events[event.order_id].append(event)
    return events


def was_late(events: list[OrderEvent], now: datetime) -> bool:
    """Late for pickup or solve at any time: a deadline passed before the answer (or by now, unanswered)."""
    for index, event in enumerate(events):
        clock = _clock(event)
        if clock is None:
            continue
        due, answers = clock
        answer = next((e for e in events[index + 1 :] if Action(e.action) in answers), None)
        if as_utc(answer.at if answer is not None else now) > due:
            return True
    return False


def _clock(event: OrderEvent) -> tuple[datetime, frozenset[Action]] | None:
    """The deadline an event starts and the actions that answer it: 接单 after an arrival, 办结 after 接单."""
    action = Action(event.action)
    if action in ARRIVALS and event.to_state == OrderState.DISPATCHED.value and "pickup_due" in event.data:
        return as_utc(datetime.fromisoformat(event.data["pickup_due"])), RESPONSES
    if action is Action.PICKUP and "solve_due" in event.data:
        return as_utc(datetime.fromisoformat(event.data["solve_due"])), SOLVE_OUTCOMES
    return None


def extension_text(events: list[OrderEvent]) -> str:
    """「是，至2026-11-27 18:00」 for the latest approved 延期, else 「否」."""
    approved = [e for e in events if e.action == Action.EXTEND_APPROVED.value]
    if not approved:
        return "否"
    until = approved[-1].data.get("until")
    return f"是，至{fmt_local(datetime.fromisoformat(until))}" if until else "是"


def rating_text(order: WorkOrder) -> str | None:
    """The enterprise's rating, 「未评价（自动销号）」, or empty."""
    if order.rating:
        return order.rating
    return "未评价（自动销号）" if order.auto_closed else None


def order_row(order: WorkOrder, events: list[OrderEvent], now: datetime) -> list[Any]:
    """One order's cells, in ORDER_COLUMNS' order."""
    return [
        order.number,
        order.enterprise.name,
        order.enterprise.uscc,
        order.category,
        order.urgency,
        order.description,
        order.holding_department.name,
        STATE_LABELS[order.state_enum],
        excel_time(order.filed_at),
        excel_time(order.pickup_due_at),
        excel_time(order.picked_up_at),
        excel_time(order.solve_due_at),
        excel_time(order.resolved_at),
        order.result,
        rating_text(order),
        order.rework_count,
        "是" if was_late(events, now) else "否",
        extension_text(events),
    ]


def event_row(number: str, event: OrderEvent, departments: dict[int, str]) -> list[Any]:
    """One event's cells, in EVENT_COLUMNS' order (派单 is the system's, whoever filed)."""
    action = Action(event.action)
    system = event.actor is None or action is Action.DISPATCH
    return [
        number,
        excel_time(event.at),
        HISTORY_VERBS.get(action, event.action),
        departments.get(event.department_id) if event.department_id is not None else None,
        "系统" if system or event.actor is None else event.actor.name,
        event_detail(event.data) or None,
    ]


def event_detail(data: dict[str, Any]) -> str:
    """The event's words: 转至…, reasons, notes, results, ratings, 延期至…, the 盯单 rung."""
    return "；".join(_detail(key, data[key]) for key in DETAIL_KEYS if data.get(key) not in (None, ""))


def _detail(key: str, value: Any) -> str:
    """One part of an event's words."""
    if key == "to_department":
        return f"转至{value}"
    if key == "until":
        return f"延期至{fmt_local(datetime.fromisoformat(str(value)))}"
    if key == "comment":
        return f"意见：{value}"
    if key == "rung":
        clock, _, step = str(value).rpartition(".")
        label = RUNG_LABELS.get(step, step)
        return f"{CLOCK_WORDS[clock]}·{label}" if clock in CLOCK_WORDS else label
    return str(value)


def write_orders(
    session: Session, target: Target, span: Span, *, now: datetime, department: Department | None = None
) -> Exported:
    """诉求工单 filed in the span: a row per order, then 办理记录 with every event of those orders."""
    orders = register_orders(session, span, department)
    events = order_events(session, orders)
    departments = _names(session, (e.department_id for evs in events.values() for e in evs))
    order_rows = [order_row(o, events[o.id], now) for o in orders]
    event_rows = [event_row(o.number, e, departments) for o in orders for e in events[o.id]]
    save_book(
        target, [Sheet("诉求工单", ORDER_COLUMNS, order_rows), Sheet("办理记录", EVENT_COLUMNS, event_rows)]
    )
    return Exported("诉求工单", span, len(orders), _orders_summary(orders, order_rows, len(event_rows)))


def _orders_summary(orders: list[WorkOrder], rows: list[list[Any]], events: int) -> str:
    """「共3件（已销号1件、超时1件、延期0件），办理记录9条。」."""
    closed = sum(o.state_enum is OrderState.CLOSED for o in orders)
    late = sum(row[16] == "是" for row in rows)
    extended = sum(str(row[17]).startswith("是") for row in rows)
    return f"共{len(orders)}件（已销号{closed}件、超时{late}件、延期{extended}件），办理记录{events}条。"


def _names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Department names by id."""
    wanted = {i for i in ids if i is not None}
    query = select(Department.id, Department.name).where(Department.id.in_(wanted))
    return {ident: name for ident, name in session.execute(query)} if wanted else {}
