"""The end of an order: 延期 (a leader approves), 办结, the enterprise's 签单 with 返工, 自动销号."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.audit import record
from bot.clock import as_utc, fmt_local
from bot.directory import officials_of, people_with_role
from bot.errors import Conflict, Invalid, NotAllowed
from bot.models import Person, Role
from handlers.complaints import clocks
from handlers.complaints.models import (
    MAX_TEXT,
    RATINGS,
    SATISFIED,
    Action,
    OrderEvent,
    OrderState,
    WorkOrder,
)
from handlers.complaints.queries import (
    bound_enterprises,
    filer,
    get_order,
    is_leader,
)
from handlers.complaints.register import (
    MAX_COMMENT,
    Transition,
    check_state,
    move,
    order_for_holder,
    required_text,
    write_event,
)

AUTO_CLOSE_AFTER = timedelta(hours=72)


def request_extension(
    session: Session,
    person: Person,
    number: str,
    until: datetime,
    reason: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> Transition:
    """延期 request: the holder records why and a new committed date; a leader must approve it."""
    order = order_for_holder(session, person, number, expected_version, (OrderState.PICKED_UP,), "申请延期")
    reason = required_text(reason, "请写明延期理由。")
    current = order.solve_due
    if current is None or as_utc(until) <= max(as_utc(current), as_utc(now)):
        raise Invalid(f"延期后的时间须晚于当前办结时限（{fmt_local(current or now)}）。")
    before = move(session, order, (OrderState.PICKED_UP,), extension_requested_until=until)
    event = write_event(
        session,
        order,
        Action.EXTEND_REQUESTED,
        person,
        now,
        before=before,
        channel=channel,
        until=until,
        reason=reason,
    )
    return Transition(order, [event], people_with_role(session, Role.LEADER))


def decide_extension(
    session: Session,
    person: Person,
    number: str,
    approve: bool,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> Transition:
    """A leader approves or refuses a 延期; approved, the order shows the new date and stays marked 延期."""
    order = get_order(session, number)
    if not is_leader(person):
        raise NotAllowed("延期须由县领导批准。")
    check_state(order, expected_version, (OrderState.PICKED_UP,), "审批延期")
    until = order.extension_requested_until
    if until is None:
        raise Conflict(f"诉求 {order.number} 没有待审批的延期申请。")
    extended = until if approve else order.extended_until
    before = move(
        session, order, (OrderState.PICKED_UP,), extension_requested_until=None, extended_until=extended
    )
    action = Action.EXTEND_APPROVED if approve else Action.EXTEND_REJECTED
    event = write_event(session, order, action, person, now, before=before, channel=channel, until=until)
    return Transition(order, [event], officials_of(session, order.holding_department_id) + filer(order))


def resolve(
    session: Session,
    person: Person,
    number: str,
    result: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> Transition:
    """办结 with the result; the enterprise is asked to sign it off (签单)."""
    order = order_for_holder(session, person, number, expected_version, (OrderState.PICKED_UP,), "办结")
    result = required_text(result, "请写明办理结果。", MAX_TEXT)
    before = move(
        session,
        order,
        (OrderState.PICKED_UP,),
        state=OrderState.RESOLVED.value,
        resolved_at=now,
        result=result,
        extension_requested_until=None,
    )
    event = write_event(
        session,
        order,
        Action.RESOLVE,
        person,
        now,
        before=before,
        channel=channel,
        result=result,
        solve_due=order.solve_due_at,
        extended_until=order.extended_until,
    )
    return Transition(order, [event], filer(order))


def rate(
    session: Session,
    person: Person,
    number: str,
    rating: str,
    now: datetime,
    *,
    comment: str = "",
    expected_version: int | None = None,
    channel: str = "wecom",
) -> Transition:
    """签单: 满意/基本满意 close the order; 不满意 reopens it (返工) with fresh clocks."""
    order = order_to_rate(session, person, number, expected_version)
    if rating not in RATINGS:
        raise Invalid(f"请选择评价：{'、'.join(RATINGS)}。")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise Invalid(f"评价意见太长了（{len(comment)}字），最多{MAX_COMMENT}字。")
    if rating in SATISFIED:
        return _close(session, person, order, rating, comment, now, channel)
    return _reopen(session, person, order, comment, now, channel)


def order_to_rate(session: Session, person: Person, number: str, expected_version: int | None) -> WorkOrder:
    """The order, if `person` speaks for its enterprise and it awaits the sign-off."""
    order = get_order(session, number)
    if order.enterprise_id not in {e.id for e in bound_enterprises(session, person)}:
        raise NotAllowed(f"只有「{order.enterprise.name}」已绑定的联系人可以评价诉求 {order.number}。")
    check_state(order, expected_version, (OrderState.RESOLVED,), "评价")
    return order


def _close(
    session: Session, person: Person, order: WorkOrder, rating: str, comment: str, now: datetime, channel: str
) -> Transition:
    before = move(
        session, order, (OrderState.RESOLVED,), state=OrderState.CLOSED.value, rating=rating, closed_at=now
    )
    event = write_event(
        session,
        order,
        Action.RATE,
        person,
        now,
        before=before,
        channel=channel,
        rating=rating,
        comment=comment or None,
    )
    return Transition(order, [event], officials_of(session, order.holding_department_id))


def _reopen(
    session: Session, person: Person, order: WorkOrder, comment: str, now: datetime, channel: str
) -> Transition:
    # 返工: the same department does it again, with both clocks started afresh from now.
    before = move(
        session,
        order,
        (OrderState.RESOLVED,),
        state=OrderState.DISPATCHED.value,
        dispatched_at=now,
        held_since=now,
        pickup_due_at=clocks.pickup_deadline(now, order.clock_mode),
        picked_up_at=None,
        solve_due_at=None,
        extended_until=None,
        resolved_at=None,
        result=None,
        rework_count=WorkOrder.rework_count + 1,
    )
    rated = OrderEvent(
        order_id=order.id,
        at=now,
        actor_id=person.id,
        action=Action.RATE.value,
        from_state=before,
        to_state=before,
        department_id=order.holding_department_id,
        data={"rating": "不满意", **({"comment": comment} if comment else {})},
    )
    session.add(rated)  # the rating itself, attributed to the department that resolved it
    record(
        session,
        at=now,
        actor=person,
        channel=channel,
        action="order.rate",
        entity="work_order",
        entity_id=order.number,
        data=rated.data,
    )
    reopened = write_event(
        session,
        order,
        Action.REOPEN,
        person,
        now,
        before=before,
        channel=channel,
        rework_count=order.rework_count,
        pickup_due=order.pickup_due_at,
    )
    return Transition(order, [rated, reopened], officials_of(session, order.holding_department_id))


def auto_close(
    session: Session, number: str, now: datetime, *, after: timedelta = AUTO_CLOSE_AFTER, channel: str = "job"
) -> Transition:
    """销号 an order left unrated `after` its 办结; marked auto_closed, not counted as rated."""
    order = get_order(session, number)
    check_state(order, None, (OrderState.RESOLVED,), "自动销号")
    assert order.resolved_at is not None
    if as_utc(now) < as_utc(order.resolved_at) + after:
        raise Conflict(f"诉求 {order.number} 办结未满{after.total_seconds() / 3600:g}小时，暂不自动销号。")
    before = move(
        session, order, (OrderState.RESOLVED,), state=OrderState.CLOSED.value, closed_at=now, auto_closed=True
    )
    event = write_event(
        session,
        order,
        Action.AUTO_CLOSE,
        None,
        now,
        before=before,
        channel=channel,
        after_hours=after.total_seconds() / 3600,
    )
    return Transition(order, [event], filer(order) + officials_of(session, order.holding_department_id))


def note_reminder(
    session: Session, number: str, action: Action, now: datetime, *, channel: str = "job", **data: Any
) -> OrderEvent:
    """Register a 催办 (remind) or 督办 (escalate) that was sent; the order itself does not change."""
    if action not in (Action.REMIND, Action.ESCALATE):
        raise ValueError(f"not a reminder: {action}")
    order = get_order(session, number)
    return write_event(session, order, action, None, now, before=order.state, channel=channel, **data)
