"""企业宁静日: the county's quiet-day policies, registered inspections, and the 包容免罚清单."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, UTCDateTime
from bot.models import Department, Enterprise, Person


class Outcome(StrEnum):
    """What the rules said when the inspection was registered (kept, never recomputed)."""

    ALLOWED = "allowed"  # 允许
    EXEMPT = "exempt"  # 豁免: a quiet day or the cap, but an exempt category
    BLOCKED = "blocked"  # 不允许: a quiet day, or the annual cap reached

    @property
    def label(self) -> str:
        return {"allowed": "允许检查", "exempt": "豁免检查", "blocked": "不允许检查"}[self.value]


class InspectionStatus(StrEnum):
    """Where a registration is: awaiting the head's approval, approved, or not going ahead."""

    PENDING = "pending"  # 待审批
    APPROVED = "approved"  # 已批准
    REJECTED = "rejected"  # 未批准
    BLOCKED = "blocked"  # 被拦截 (kept for the leader's report)
    CANCELLED = "cancelled"  # 已取消
    DONE = "done"  # 已检查

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    InspectionStatus.PENDING: "待审批",
    InspectionStatus.APPROVED: "已批准",
    InspectionStatus.REJECTED: "未批准",
    InspectionStatus.BLOCKED: "被拦截",
    InspectionStatus.CANCELLED: "已取消",
    InspectionStatus.DONE: "已检查",
}
COUNTED_STATUSES = (InspectionStatus.PENDING, InspectionStatus.APPROVED, InspectionStatus.DONE)


def _in(column: str, values: type[StrEnum]) -> CheckConstraint:
    listed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


class QuietPolicy(Base):
    """One version of the county's rules, in force from `effective_from` until the next version.

    A change is a new row: every inspection keeps the id of the version that decided it, so a
    change never rewrites a past decision.
    """

    __tablename__ = "quiet_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date, unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)  # see handlers.inspections.rules.QuietRules
    source: Mapped[str] = mapped_column(String(200))  # the file it came from, or the admin command
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class Inspection(Base):
    """A planned administrative inspection of an enterprise, as registered (报备) by an official."""

    __tablename__ = "inspections"
    __table_args__ = (
        _in("outcome", Outcome),
        _in("status", InspectionStatus),
        Index("ix_inspections_enterprise_day", "enterprise_id", "planned_on"),
        Index("ix_inspections_department_day", "department_id", "planned_on"),
        Index("ix_inspections_day_status", "planned_on", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # J2612-0003
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    planned_on: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    rule_text: Mapped[str] = mapped_column(Text)  # why: the rule that allowed, exempted or blocked it
    next_allowed_on: Mapped[date | None] = mapped_column(Date)  # for a blocked one
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("quiet_policies.id"))
    status: Mapped[str] = mapped_column(String(16))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # the approving head
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joint_key: Mapped[str | None] = mapped_column(String(32), index=True)  # 综合查一次 group
    result: Mapped[str | None] = mapped_column(Text)  # what the visit found
    lenient_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # 免罚清单 items applied
    rating: Mapped[str | None] = mapped_column(String(8))  # the enterprise's view of the visit
    rating_comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    enterprise: Mapped[Enterprise] = relationship()
    department: Mapped[Department] = relationship()
    registered_by: Mapped[Person] = relationship(foreign_keys=[registered_by_id])
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id])
    policy: Mapped[QuietPolicy | None] = relationship()

    @property
    def outcome_enum(self) -> Outcome:
        return Outcome(self.outcome)

    @property
    def status_enum(self) -> InspectionStatus:
        return InspectionStatus(self.status)


class LenientItem(Base):
    """One entry of the 包容免罚清单: a minor first-time violation that is not fined."""

    __tablename__ = "lenient_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. SCJG-003
    field: Mapped[str] = mapped_column(String(50))  # 领域: 市场监管, 生态环境 …
    violation: Mapped[str] = mapped_column(Text)  # 违法行为
    basis: Mapped[str] = mapped_column(Text)  # 法律依据
    conditions: Mapped[str] = mapped_column(Text)  # 免罚条件 (首次, 危害后果轻微, 及时改正 …)
    measure: Mapped[str | None] = mapped_column(Text)  # 处理方式 (责令改正, 教育提醒)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
