"""重点项目: projects and their task forces, weekly colour reports, monthly reports, supervision cards.

Amounts are whole 元 in BIGINT columns (exact, no floating point, no Decimal quirks on SQLite);
people read and type them in 万元. Reports are never overwritten: a second report for the same
period marks the first `replaced_at` and the history stays.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, UTCDateTime
from bot.models import Department, Enterprise, Person


class Stage(StrEnum):
    """Where a project is in its life."""

    PLANNING = "planning"  # 谋划
    SIGNED = "signed"  # 签约
    STARTED = "started"  # 开工
    BUILDING = "building"  # 在建
    COMPLETED = "completed"  # 竣工
    OPERATING = "operating"  # 投产

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]


STAGE_LABELS = {
    Stage.PLANNING: "谋划",
    Stage.SIGNED: "签约",
    Stage.STARTED: "开工",
    Stage.BUILDING: "在建",
    Stage.COMPLETED: "竣工",
    Stage.OPERATING: "投产",
}


TRACKED_STAGES = (Stage.PLANNING, Stage.SIGNED, Stage.STARTED, Stage.BUILDING)  # weekly reports due


class Colour(StrEnum):
    """The weekly 绿白黄红 mark, best first."""

    GREEN = "green"  # 绿: ahead of plan
    WHITE = "white"  # 白: on plan
    YELLOW = "yellow"  # 黄: lagging
    RED = "red"  # 红: stalled

    @property
    def label(self) -> str:
        return COLOUR_LABELS[self]

    @property
    def rank(self) -> int:
        """0 (绿) … 3 (红): larger is worse."""
        return list(Colour).index(self)


COLOUR_LABELS = {Colour.GREEN: "绿", Colour.WHITE: "白", Colour.YELLOW: "黄", Colour.RED: "红"}
COLOUR_MEANINGS = {Colour.GREEN: "超前", Colour.WHITE: "正常", Colour.YELLOW: "滞后", Colour.RED: "停滞"}


class CardKind(StrEnum):
    """A 督办卡 comes from a project's colours; a 批示卡 from a leader's 交办."""

    SUPERVISE = "supervise"  # 督办卡
    INSTRUCT = "instruct"  # 批示卡

    @property
    def label(self) -> str:
        return "督办卡" if self is CardKind.SUPERVISE else "批示卡"


class CardStatus(StrEnum):
    """A card's life: drafted by the system, issued by a leader, answered, cleared (销号)."""

    DRAFT = "draft"  # 待签发
    ISSUED = "issued"  # 已签发, awaiting the answer
    ANSWERED = "answered"  # 已反馈, awaiting 销号
    CLEARED = "cleared"  # 已销号
    DISMISSED = "dismissed"  # 不签发 (a draft the leader set aside)

    @property
    def label(self) -> str:
        return CARD_STATUS_LABELS[self]


CARD_STATUS_LABELS = {
    CardStatus.DRAFT: "待签发",
    CardStatus.ISSUED: "办理中",
    CardStatus.ANSWERED: "待销号",
    CardStatus.CLEARED: "已销号",
    CardStatus.DISMISSED: "未签发",
}
OPEN_CARD_STATUSES = (CardStatus.ISSUED, CardStatus.ANSWERED)


def _in(column: str, values: type[StrEnum]) -> CheckConstraint:
    listed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_valid")


def _one_in_force(name: str, period: str) -> Index:
    """At most one report in force (replaced_at IS NULL) per project and period, on every backend."""
    in_force = text("replaced_at IS NULL")
    return Index(name, "project_id", period, unique=True, postgresql_where=in_force, sqlite_where=in_force)


class Project(Base):
    """A key project: one leader, one task force, one responsible department (一个项目一名领导一套专班)."""

    __tablename__ = "projects"
    __table_args__ = (_in("stage", Stage),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # 项目编号, as the county numbers them
    name: Mapped[str] = mapped_column(String(200))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))  # 业主单位
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # 包抓县领导
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)  # 责任单位
    stage: Mapped[str] = mapped_column(String(16), default=Stage.PLANNING.value)
    total_investment_yuan: Mapped[int] = mapped_column(BigInteger, default=0)  # 总投资
    annual_plan_yuan: Mapped[int] = mapped_column(BigInteger, default=0)  # 年度计划投资
    plan_year: Mapped[int] = mapped_column(Integer)  # the year annual_plan_yuan is for
    # 本年已完成投资 when the project was registered: the year's investment before weekly reports began
    invested_before_yuan: Mapped[int] = mapped_column(BigInteger, default=0)
    starts_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)  # 计划竣工: milestones count back from it
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    enterprise: Mapped[Enterprise | None] = relationship()
    leader: Mapped[Person | None] = relationship()
    department: Mapped[Department] = relationship()
    members: Mapped[list[ProjectMember]] = relationship(
        back_populates="project", cascade="all, delete-orphan"
    )
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="Milestone.month"
    )

    @property
    def stage_enum(self) -> Stage:
        return Stage(self.stage)

    @property
    def leads(self) -> list[Person]:
        """The officials answerable for the weekly report (责任人), or the whole task force if none is."""
        chosen = [m.person for m in self.members if m.is_lead and m.person.active]
        return chosen or [m.person for m in self.members if m.person.active]


class ProjectMember(Base):
    """An official of a project's task force (专班); the 责任人 answer the weekly prompt."""

    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    is_lead: Mapped[bool] = mapped_column(default=False)

    project: Mapped[Project] = relationship(back_populates="members")
    person: Mapped[Person] = relationship()


class Milestone(Base):
    """A 倒排工期 node: what must be done by the end of a month, and the investment planned by then."""

    __tablename__ = "project_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    task: Mapped[str] = mapped_column(String(200))
    planned_cumulative_yuan: Mapped[int | None] = mapped_column(BigInteger)  # 累计计划投资 by month end

    project: Mapped[Project] = relationship(back_populates="milestones")


class WeeklyReport(Base):
    """One week's progress of one project: the reported colour beside the one computed from numbers."""

    __tablename__ = "project_weekly_reports"
    __table_args__ = (
        _in("colour", Colour),
        Index("ix_weekly_project_week", "project_id", "week"),
        Index("ix_weekly_week", "week"),
        _one_in_force("uq_weekly_in_force", "week"),  # two reports at the same moment: one wins
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    week: Mapped[date] = mapped_column(Date)  # the Monday of the reported week
    colour: Mapped[str] = mapped_column(String(8))
    invested_yuan: Mapped[int] = mapped_column(BigInteger, default=0)  # 本期完成投资
    progress: Mapped[str] = mapped_column(Text, default="")  # 形象进度
    problems: Mapped[str] = mapped_column(Text, default="")  # 存在问题
    help_needed: Mapped[str] = mapped_column(Text, default="")  # 需协调事项
    objective_colour: Mapped[str | None] = mapped_column(String(8))  # computed from the numbers
    objective_reason: Mapped[str | None] = mapped_column(String(200))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a later report of the week

    project: Mapped[Project] = relationship()
    reporter: Mapped[Person | None] = relationship()

    @property
    def colour_enum(self) -> Colour:
        return Colour(self.colour)

    @property
    def objective_enum(self) -> Colour | None:
        return Colour(self.objective_colour) if self.objective_colour else None


class MonthlyReport(Base):
    """A department's 月汇报 of one project for one month (due by the 20th)."""

    __tablename__ = "project_monthly_reports"
    __table_args__ = (
        Index("ix_monthly_project_month", "project_id", "month"),
        _one_in_force("uq_monthly_in_force", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    preliminary: Mapped[str] = mapped_column(Text, default="")  # 前期工作
    funds_in_place_yuan: Mapped[int] = mapped_column(BigInteger, default=0)  # 资金到位
    invested_yuan: Mapped[int] = mapped_column(BigInteger, default=0)  # 本月完成投资
    progress: Mapped[str] = mapped_column(Text, default="")  # 形象进度
    problems: Mapped[str] = mapped_column(Text, default="")
    measures: Mapped[str] = mapped_column(Text, default="")  # 措施
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship()
    reporter: Mapped[Person | None] = relationship()


class SupervisionCard(Base):
    """A 督办卡 (drafted from a project's colours) or 批示卡 (a leader's 交办), tracked until 销号."""

    __tablename__ = "supervision_cards"
    __table_args__ = (
        _in("kind", CardKind),
        _in("status", CardStatus),
        Index("ix_cards_status_due", "status", "due_on"),
        UniqueConstraint("project_id", "trigger"),  # one draft per project and cause, however often drafted
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # D2611-0001
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=CardStatus.DRAFT.value)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(32))  # e.g. "yellow:2026-11-16" — one draft per cause
    problem: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)  # 办理要求
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # issues and clears it
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # must answer
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    due_on: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)  # card buttons carry it
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)  # the leader's words at 销号 or 退回

    project: Mapped[Project | None] = relationship()
    leader: Mapped[Person | None] = relationship(foreign_keys=[leader_id])
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id])
    department: Mapped[Department | None] = relationship()
    answered_by: Mapped[Person | None] = relationship(foreign_keys=[answered_by_id])

    @property
    def kind_enum(self) -> CardKind:
        return CardKind(self.kind)

    @property
    def status_enum(self) -> CardStatus:
        return CardStatus(self.status)
