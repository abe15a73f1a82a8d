"""政策匹配: enterprise profiles (each value with its source and date), policy versions, pushes, answers."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, UTCDateTime
from bot.models import Enterprise, Person


class ProfileSource(StrEnum):
    """Who gave a profile value: the enterprise itself, an official, or a bulk import."""

    ENTERPRISE = "enterprise"  # 企业自报
    OFFICIAL = "official"  # 干部核实
    IMPORT = "import"  # 批量导入

    @property
    def label(self) -> str:
        return {"enterprise": "企业自报", "official": "干部核实", "import": "批量导入"}[self.value]


class ProfileValue(Base):
    """One value of one attribute of an enterprise, as given at a moment; the newest one counts.

    Values are never overwritten: an answer given last year can be explained by the value it used.
    """

    __tablename__ = "profile_values"
    __table_args__ = (
        CheckConstraint("source IN ('enterprise', 'official', 'import')", name="source_valid"),
        Index("ix_profile_values_enterprise_attribute", "enterprise_id", "attribute", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    attribute: Mapped[str] = mapped_column(String(32))  # a key of handlers.policies.attributes
    value: Mapped[Any] = mapped_column(JSON)  # normalised: numbers, ISO dates, lists of labels
    source: Mapped[str] = mapped_column(String(16))
    given_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)

    enterprise: Mapped[Enterprise] = relationship()
    given_by: Mapped[Person | None] = relationship()


class PolicyMode(StrEnum):
    """How an enterprise gets the benefit."""

    AUTOMATIC = "免申即享"  # granted without applying: pushed to every qualifying enterprise
    INSTANT = "即申即享"  # apply and get it at once
    APPLY = "申报"  # an ordinary application


class Policy(Base):
    """One version of a support policy (惠企政策); a changed policy is a new version of the same code."""

    __tablename__ = "policies"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("level IN ('国家', '省', '市', '县')", name="level_valid"),
        CheckConstraint("mode IN ('免申即享', '即申即享', '申报')", name="mode_valid"),
        Index("ix_policies_valid", "valid_from", "valid_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))  # e.g. SD-GXQY-2026
    version: Mapped[int] = mapped_column(default=1)
    current: Mapped[bool] = mapped_column(default=True)  # the newest version of its code
    title: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(100))
    doc_number: Mapped[str] = mapped_column(String(100))  # 文号
    level: Mapped[str] = mapped_column(String(4))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    benefit: Mapped[str] = mapped_column(Text)
    amount_wan: Mapped[float | None] = mapped_column()  # 万元, where known
    mode: Mapped[str] = mapped_column(String(8))
    how_to: Mapped[str] = mapped_column(Text)  # how to get it
    deadline: Mapped[date | None] = mapped_column(Date)  # application deadline, if any
    contact: Mapped[str] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(String(500))
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # see handlers.policies.condition_reading
    examples: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # enterprises that must / must not match
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(200))  # the file it came from


class PushStatus(StrEnum):
    """A 免申即享 push, from the card to the benefit delivered (兑现)."""

    PUSHED = "pushed"  # 已推送
    CONFIRMED = "confirmed"  # 企业已确认
    DECLINED = "declined"  # 企业不需要
    DELIVERED = "delivered"  # 已兑现


class PolicyPush(Base):
    """One push of one policy version to one enterprise: unique, so a retried job pushes once."""

    __tablename__ = "policy_pushes"
    __table_args__ = (
        UniqueConstraint("policy_id", "enterprise_id"),
        CheckConstraint("status IN ('pushed', 'confirmed', 'declined', 'delivered')", name="status_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PushStatus.PUSHED.value)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)  # the profile values the match used (audit)
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    policy: Mapped[Policy] = relationship()
    enterprise: Mapped[Enterprise] = relationship()


class PolicyAnswer(Base):
    """A 明白卡 as it was answered: the policy versions and inputs, so it can be explained later."""

    __tablename__ = "policy_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{policy_id, version, outcome, inputs}]
