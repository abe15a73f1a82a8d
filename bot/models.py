"""The platform's tables: people and roles, inbound messages, the outbox, the audit trail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, UTCDateTime


class Role(StrEnum):
    """What a person may do; checked by the router on every command and card click."""

    ENTERPRISE = "enterprise"  # 企业联系人
    OFFICIAL = "official"  # 干部
    LEADER = "leader"  # 县领导
    ADMIN = "admin"  # 管理员

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {Role.ENTERPRISE: "企业", Role.OFFICIAL: "干部", Role.LEADER: "县领导", Role.ADMIN: "管理员"}


class DepartmentKind(StrEnum):
    """包联部门 contact a set of enterprises; 职能部门 own a kind of problem; many are both."""

    CONTACT = "contact"  # 包联部门
    FUNCTIONAL = "functional"  # 职能部门
    BOTH = "both"
    OFFICE = "office"  # e.g. 县委督查室, 营商办: coordinates, neither of the above


def _enum_check(column: str, enum: type[StrEnum]) -> CheckConstraint:
    values = ", ".join(f"'{m.value}'" for m in enum)
    return CheckConstraint(f"{column} IN ({values})", name=f"{column}_valid")


class Department(Base):
    """A county department (局/办/乡镇)."""

    __tablename__ = "departments"
    __table_args__ = (_enum_check("kind", DepartmentKind),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=DepartmentKind.BOTH.value)
    group_webhook_key: Mapped[str | None] = mapped_column(String(100))  # its group's 群机器人
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    people: Mapped[list[Person]] = relationship(back_populates="department")


class Person(Base):
    """Someone who talks to the bot, known by his WeCom userid."""

    __tablename__ = "people"
    __table_args__ = (_enum_check("role", Role),)

    id: Mapped[int] = mapped_column(primary_key=True)
    wecom_userid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    title: Mapped[str | None] = mapped_column(String(50))  # 职务
    is_head: Mapped[bool] = mapped_column(default=False)  # 部门负责人
    mobile: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    erased: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    department: Mapped[Department | None] = relationship(back_populates="people")
    memberships: Mapped[list[EnterpriseMember]] = relationship(
        back_populates="person", foreign_keys="EnterpriseMember.person_id"
    )

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class Oversight(Base):
    """A county leader's 分管: the departments he oversees (escalations and digests follow it)."""

    __tablename__ = "oversight"
    __table_args__ = (UniqueConstraint("leader_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)

    leader: Mapped[Person] = relationship()
    department: Mapped[Department] = relationship()


class Enterprise(Base):
    """An enterprise, identified by its 统一社会信用代码."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))  # 包联部门
    region: Mapped[str | None] = mapped_column(String(50))  # 乡镇/园区
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    contact_department: Mapped[Department | None] = relationship()
    members: Mapped[list[EnterpriseMember]] = relationship(back_populates="enterprise")


class BindingStatus(StrEnum):
    """A person's claim to speak for an enterprise, until confirmed."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class EnterpriseMember(Base):
    """A person's binding to an enterprise, confirmed by its 包联部门 or an admin."""

    __tablename__ = "enterprise_members"
    __table_args__ = (
        UniqueConstraint("person_id", "enterprise_id"),
        _enum_check("status", BindingStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    status: Mapped[str] = mapped_column(String(16), default=BindingStatus.PENDING.value)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    person: Mapped[Person] = relationship(back_populates="memberships", foreign_keys=[person_id])
    enterprise: Mapped[Enterprise] = relationship(back_populates="members")


class InboundStatus(StrEnum):
    """Where an inbound message is in its handling."""

    RECEIVED = "received"  # stored, not yet handled (slow path or crash)
    HANDLED = "handled"
    FAILED = "failed"  # the handler raised an unexpected error; the user was told


class InboundMessage(Base):
    """Every inbound message and event, stored before it is acknowledged."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        _enum_check("status", InboundStatus),
        Index("ix_inbound_pending", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)  # retries collide here
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # Inbound.to_dict()
    status: Mapped[str] = mapped_column(String(16), default=InboundStatus.RECEIVED.value)
    reply: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # the passive answer, for retries
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxStatus(StrEnum):
    """An outbound message's life: pending → sending → sent, or failed (dead letter)."""

    PENDING = "pending"
    SENDING = "sending"  # leased by a worker until lease_until
    SENT = "sent"
    FAILED = "failed"  # gave up; `ztc outbox failed` lists, `ztc outbox retry` replays


class OutboxMessage(Base):
    """One message to one recipient (or group), written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (
        _enum_check("status", OutboxStatus),
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_recipient", "recipient", "created_at"),  # earlier messages to one person
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(128))  # userid, or "group:<webhook key>"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # reply_to_dict()
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)  # scheduled or backed-off send time
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    invalid_users: Mapped[str | None] = mapped_column(String(255))
    platform_msgid: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Who changed what, when, from which channel; never updated or deleted."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    actor_userid: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # wecom | aibot | wechat | cli | job
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)
