"""The mechanics of one transition: the conditional UPDATE, the register row and the audit row.

Every transition is one UPDATE … WHERE state = … AND version = …, so two officials clicking 接单
at once, or a click on a card the order has moved past, change nothing: exactly one wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.audit import record
from bot.clock import as_utc
from bot.errors import Conflict, Invalid
from bot.models import Person
from handlers.complaints.models import (
    Action,
    OrderEvent,
    OrderState,
    WorkOrder,
)
from handlers.complaints.queries import get_order, require_actor

MAX_COMMENT = 500


@dataclass(frozen=True)
class Transition:
    """What a service did: the order, the events it wrote, and who should hear about it."""

    order: WorkOrder
    events: list[OrderEvent]
    notify: list[Person] = field(default_factory=list)

    @property
    def event(self) -> OrderEvent:
        return self.events[-1]


def write_event(
    session: Session,
    order: WorkOrder,
    action: Action,
    actor: Person | None,
    now: datetime,
    *,
    before: str | None,
    channel: str,
    **data: Any,
) -> OrderEvent:
    """Write the register row and the audit row for one transition, in the caller's transaction."""
    clean = {k: _jsonable(v) for k, v in data.items() if v is not None}
    event = OrderEvent(
        order_id=order.id,
        at=now,
        actor_id=actor.id if actor else None,
        action=action.value,
        from_state=before,
        to_state=order.state,
        department_id=order.holding_department_id,
        data=clean,
    )
    session.add(event)
    record(
        session,
        at=now,
        actor=actor,
        channel=channel,
        action=f"order.{action.value}",
        entity="work_order",
        entity_id=order.number,
        data=clean,
    )
    session.flush()
    return event


def _jsonable(value: Any) -> Any:
    return as_utc(value).isoformat() if isinstance(value, datetime) else value


def move(session: Session, order: WorkOrder, expected: Iterable[OrderState], **values: Any) -> str:
    """Apply a change only if nobody moved the order since it was read; returns the state before."""
    allowed = [s.value for s in expected]
    before = order.state
    stmt = (
        update(WorkOrder)
        .where(WorkOrder.id == order.id, WorkOrder.version == order.version, WorkOrder.state.in_(allowed))
        .values(version=WorkOrder.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(order)
        raise Conflict(f"诉求 {order.number} 已被他人处理，当前状态：{order.state_enum.label}。")
    session.refresh(order)
    return before


def check_state(
    order: WorkOrder, expected_version: int | None, allowed: tuple[OrderState, ...], verb: str
) -> None:
    # A card carries the version it showed: a click on an older card is stale even if the state matches.
    if expected_version is not None and expected_version != order.version:
        raise Conflict(
            f"这张卡片已过期：诉求 {order.number} 当前状态为「{order.state_enum.label}」，请查看最新消息。"
        )
    if order.state_enum in allowed:
        return
    if order.state_enum is OrderState.DISPATCHED and OrderState.PICKED_UP in allowed:
        raise Conflict(f"诉求 {order.number} 尚未接单，请先接单再{verb}。")
    raise Conflict(f"诉求 {order.number} 当前状态为「{order.state_enum.label}」，不能{verb}。")


def order_for_holder(
    session: Session,
    person: Person,
    number: str,
    expected_version: int | None,
    allowed: tuple[OrderState, ...],
    verb: str,
) -> WorkOrder:
    """The order, if `person` may act on it for the holding department and it is in an `allowed` state."""
    order = get_order(session, number)
    require_actor(person, order)
    check_state(order, expected_version, allowed, verb)
    return order


def required_text(text: str, message: str, limit: int = MAX_COMMENT) -> str:
    """A reason or result: `message` if empty, refused over `limit` characters."""
    value = text.strip()
    if not value:
        raise Invalid(message)
    if len(value) > limit:
        raise Invalid(f"内容太长了（{len(value)}字），最多{limit}字。")
    return value
