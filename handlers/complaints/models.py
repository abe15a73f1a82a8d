"""Work orders (诉求工单), their immutable event register (台账) and the category routing rules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, UTCDateTime
from bot.models import Department, Enterprise, Person

# The problem types of DOMAIN.md §1; validated by the service, not the database, so a county
# can add its own without a migration.
CATEGORIES = ("审批", "用地", "融资", "用工", "环评", "水电气", "政策兑现", "执法检查", "其他")
URGENCIES = ("普通", "紧急")
RATINGS = ("满意", "基本满意", "不满意")
SATISFIED = frozenset({"满意", "基本满意"})
MAX_TEXT = 1000


class OrderState(StrEnum):
    """Where an order is: dispatched → picked_up → resolved → closed; returned awaits a coordinator."""

    DISPATCHED = "dispatched"  # 待接单: the holding department must pick it up
    PICKED_UP = "picked_up"  # 办理中
    RETURNED = "returned"  # 已退回: a coordinator or leader decides where it goes
    RESOLVED = "resolved"  # 已办结: waiting for the enterprise's sign-off (签单)
    CLOSED = "closed"  # 已销号

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    OrderState.DISPATCHED: "待接单",
    OrderState.PICKED_UP: "办理中",
    OrderState.RETURNED: "已退回待协调",
    OrderState.RESOLVED: "已办结待评价",
    OrderState.CLOSED: "已销号",
}
OPEN_STATES = (OrderState.DISPATCHED, OrderState.PICKED_UP, OrderState.RETURNED)


class Action(StrEnum):
    """What an OrderEvent records."""

    FILE = "file"
    DISPATCH = "dispatch"
    PICKUP = "pickup"
    TRANSFER = "transfer"
    RETURN = "return"
    RETURN_DECIDED = "return_decided"
    EXTEND_REQUESTED = "extend_requested"
    EXTEND_APPROVED = "extend_approved"
    EXTEND_REJECTED = "extend_rejected"
    RESOLVE = "resolve"
    RATE = "rate"
    REOPEN = "reopen"
    AUTO_CLOSE = "auto_close"
    REMIND = "remind"
    ESCALATE = "escalate"


class ClockMode(StrEnum):
    """How the 24 hours are counted (see handlers.complaints.clocks)."""

    NATURAL = "natural"
    WORKING = "working"


def _in(column: str, values: tuple[str, ...] | type[StrEnum]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


ARMED = text("alarm_at IS NOT NULL")  # closed orders (most of a register) have no alarm


class WorkOrder(Base):
    """One enterprise request, from 挂号 to 销号; every change bumps `version` (optimistic locking)."""

    __tablename__ = "work_orders"
    __table_args__ = (
        _in("state", OrderState),
        _in("urgency", URGENCIES),
        _in("clock_mode", ClockMode),
        CheckConstraint(
            f"rating IS NULL OR rating IN ({', '.join(repr(r) for r in RATINGS)})", name="rating_valid"
        ),
        CheckConstraint("rework_count >= 0", name="rework_count_valid"),
        Index("ix_work_orders_holder_state", "holding_department_id", "state"),
        Index("ix_work_orders_enterprise_filed", "enterprise_id", "filed_at"),
        # What is due (alarms.due_alarms) is answered from this index alone, whatever the register's
        # size: only armed orders are in it, with every column the sweep reads (bench/deadlines.py).
        Index(
            "ix_work_orders_alarm", "alarm_at", "alarm_rung", "id", postgresql_where=ARMED, sqlite_where=ARMED
        ),
        Index("ix_work_orders_state", "state"),  # the open orders among mostly closed ones (overdue counts)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # S2611-0042
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    category: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(8), default="普通")
    clock_mode: Mapped[str] = mapped_column(String(16), default=ClockMode.NATURAL.value)
    holding_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    state: Mapped[str] = mapped_column(String(16), default=OrderState.DISPATCHED.value)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime)  # restarted by 返工
    pickup_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    solve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the 24 h promise, never moved
    extension_requested_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # awaiting a leader
    extended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # approved 延期
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)  # 办结 text
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[str | None] = mapped_column(String(8))
    rework_count: Mapped[int] = mapped_column(default=0)
    auto_closed: Mapped[bool] = mapped_column(default=False)
    photos: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # chat: media_id; web: file
    # The next 盯单 alarm (handlers.complaints.alarms): indexed, so finding what is due is cheap;
    # a job fires it with a compare-and-set on (alarm_at, alarm_rung), so each is sent once.
    alarm_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alarm_rung: Mapped[str | None] = mapped_column(String(16))
    # When the current holder (or the coordinators, after 退回) got the order: a holder handed an
    # order already late is chased from this moment, not from a deadline that passed before him.
    held_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    enterprise: Mapped[Enterprise] = relationship()
    filed_by: Mapped[Person] = relationship()
    holding_department: Mapped[Department] = relationship()

    @property
    def state_enum(self) -> OrderState:
        return OrderState(self.state)

    @property
    def solve_due(self) -> datetime | None:
        """The deadline reminders run against: the approved 延期 date if any, else the 24 h promise."""
        return self.extended_until or self.solve_due_at


class OrderEvent(Base):
    """One transition in the register; written once, never updated (the figures are computed from it)."""

    __tablename__ = "order_events"
    __table_args__ = (
        _in("action", Action),
        CheckConstraint(
            f"from_state IS NULL OR from_state IN ({', '.join(repr(s.value) for s in OrderState)})",
            name="from_state_valid",
        ),
        CheckConstraint(
            f"to_state IS NULL OR to_state IN ({', '.join(repr(s.value) for s in OrderState)})",
            name="to_state_valid",
        ),
        Index("ix_order_events_order", "order_id", "id"),
        Index("ix_order_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # None: a job
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))  # holder after it
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    order: Mapped[WorkOrder] = relationship()
    actor: Mapped[Person | None] = relationship()


class RoutingRule(Base):
    """Which 职能部门 owns a category: suggested for 转办, and the target when there is no 包联部门."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(16), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))

    department: Mapped[Department] = relationship()
