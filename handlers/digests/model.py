"""What a digest holds: a period, a scope, and the figures of each feature — plain data, no queries.

handlers/digests/figures.py computes a Digest from stored events for an exact period (the same
period always gives the same Digest); composing.py turns it into messages and charts.py into a
PNG. Periods are local (Asia/Shanghai) days, half-open [start, end).

A 日报's period is the days since the working day before (daily_period: Monday's covers Fri–Sun),
so the period before a DAY period is the previous 日报's, not the calendar day before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.clock import LOCAL_ZONE, as_utc
from bot.workdays import is_working_day
from handlers.complaints.figures import Rate


class PeriodKind(StrEnum):
    """How long a digest's period is."""

    DAY = "day"  # 日报: yesterday
    WEEK = "week"  # 周报: last Monday–Sunday
    MONTH = "month"  # 排名 本月/上月
    QUARTER = "quarter"  # 排名 本季


@dataclass(frozen=True)
class Period:
    """A run of local days [start, end), e.g. one day or one ISO week."""

    kind: PeriodKind
    start: date
    end: date  # exclusive

    @property
    def start_at(self) -> datetime:
        """The first instant, as aware UTC."""
        return as_utc(datetime.combine(self.start, datetime.min.time(), tzinfo=LOCAL_ZONE))

    @property
    def end_at(self) -> datetime:
        """The instant after the last, as aware UTC."""
        return as_utc(datetime.combine(self.end, datetime.min.time(), tzinfo=LOCAL_ZONE))

    @property
    def label(self) -> str:
        """「11月23日」, 「第48周（11月23日—11月29日）」, 「2026年11月」, 「2026年第四季度」."""
        last = self.end - timedelta(days=1)
        if self.kind is PeriodKind.DAY and last == self.start:
            return f"{self.start.month}月{self.start.day}日"
        if self.kind is PeriodKind.DAY:  # after a weekend or holiday: the days since the last one
            return f"{self.start.month}月{self.start.day}日—{last.month}月{last.day}日"
        if self.kind is PeriodKind.WEEK:
            week = self.start.isocalendar().week
            return f"第{week}周（{self.start.month}月{self.start.day}日—{last.month}月{last.day}日）"
        if self.kind is PeriodKind.MONTH:
            return f"{self.start.year}年{self.start.month}月"
        quarter = "一二三四"[(self.start.month - 1) // 3]
        return f"{self.start.year}年第{quarter}季度"

    def previous(self) -> Period:
        """The period of the same kind just before this one: for a 日报, the previous 日报's period.

        A DAY period starts on a working day (daily_period), so the one before it is the 日报 sent
        on its start: Tuesday's (Monday) is compared with Monday's (Fri–Sun), never with Sunday.
        """
        if self.kind is PeriodKind.DAY:
            return daily_period(self.start)
        if self.kind is PeriodKind.WEEK:
            return Period(self.kind, self.start - timedelta(days=7), self.start)
        months = 1 if self.kind is PeriodKind.MONTH else 3
        return Period(self.kind, _add_months(self.start, -months), self.start)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def previous_working_day(day: date) -> date:
    """The last working day before `day`."""
    earlier = day - timedelta(days=1)
    while not is_working_day(earlier):
        earlier -= timedelta(days=1)
    return earlier


def daily_period(today: date) -> Period:
    """The 日报 sent on `today`: the days since the previous working day's (Monday's covers Fri–Sun)."""
    return Period(PeriodKind.DAY, previous_working_day(today), today)


def day_period(day: date) -> Period:
    """The one local day `day`."""
    return Period(PeriodKind.DAY, day, day + timedelta(days=1))


def week_period(day: date) -> Period:
    """The Monday–Sunday week containing `day`."""
    monday = day - timedelta(days=day.weekday())
    return Period(PeriodKind.WEEK, monday, monday + timedelta(days=7))


def month_period(day: date) -> Period:
    """The calendar month containing `day`."""
    first = day.replace(day=1)
    return Period(PeriodKind.MONTH, first, _add_months(first, 1))


def quarter_period(day: date) -> Period:
    """The calendar quarter containing `day`."""
    first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return Period(PeriodKind.QUARTER, first, _add_months(first, 3))


@dataclass(frozen=True)
class Scope:
    """Whose digest: the whole county, or a leader's 分管 departments and 包抓 projects."""

    label: str  # 「全县」, 「李县长分管」, 「李县长包抓项目」 (no 分管) or 「全县（未设分管）」
    department_ids: frozenset[int] | None = None  # None: every department; empty: none (projects only)
    project_ids: frozenset[int] | None = None  # None: the projects of department_ids (all for the county)

    @property
    def county(self) -> bool:
        return self.department_ids is None


RATE_NAMES = ("响应率", "解决率", "满意率", "退回率", "返工率")  # the first three: higher is better


@dataclass(frozen=True)
class DepartmentOrders:
    """One department's work orders in the period."""

    department_id: int
    name: str
    new: int  # dispatched to it in the period
    open: int  # held by it at the period's end (not those it sent back: OrderFigures.returned)
    late: int  # of those, past a deadline at the period's end
    oldest: str | None  # the number of its longest-waiting open order
    oldest_since: datetime | None
    rates: dict[str, Rate]  # RATE_NAMES → Rate
    score: float | None  # the ranking score (mean of 响应率, 解决率, 满意率 that have a value)


@dataclass(frozen=True)
class OrderFigures:
    """Work orders: the period's totals, per department, and the rates now and the period before.

    open and late are the orders the scope's departments hold at the period's end; an order 退回
    (sent back, awaiting a coordinator) is no department's: it is counted in `returned` only.
    """

    new: int
    open: int  # held by a department of the scope at the period's end (退回 orders not included)
    late: int
    departments: list[DepartmentOrders]  # ranked best first (红榜 at the top, 黑榜 at the bottom)
    rates: dict[str, Rate]  # the scope's totals, RATE_NAMES → Rate
    rates_before: dict[str, Rate]  # the same for the previous period
    late_orders: list[tuple[str, str, str, int, datetime]]  # (number, enterprise, department, version, since)
    returned: int = 0  # 待协调（退回）: sent back by a department of the scope, awaiting a coordinator
    returned_late: int = 0  # … of those, past their pickup deadline (超时未协调)


@dataclass(frozen=True)
class ProjectLine:
    """A project as a digest lists it."""

    code: str
    name: str
    department: str
    note: str = ""  # its problem, the two colours, or the card's number


@dataclass(frozen=True)
class ProjectFigures:
    """Key projects: the last closed reporting week's colours, and 督办卡."""

    week_label: str
    colours: dict[str, int]  # 绿/白/黄/红/未报 → projects, for the week
    colours_before: dict[str, int]  # … for the week before
    red: list[ProjectLine]
    yellow: list[ProjectLine]
    unreported: list[ProjectLine]
    disagreements: list[ProjectLine]  # note: 「报白，测算红」
    cards_open: int
    cards_overdue: list[ProjectLine]  # note: the card number and its deadline
    cards_draft: list[ProjectLine]  # awaiting the leader's 签发; note: the card number


@dataclass(frozen=True)
class InspectionLine:
    """An inspection as a digest lists it."""

    number: str
    enterprise: str
    department: str
    note: str  # the rule that blocked or exempted it


@dataclass(frozen=True)
class InspectionFigures:
    """企业宁静日: registrations in the period."""

    registered: int
    blocked: list[InspectionLine]
    exempted: list[InspectionLine]
    joint: int  # 综合查一次 visits (inspections that joined another's)


@dataclass(frozen=True)
class PolicyFigures:
    """免申即享: pushes sent, confirmed and delivered in the period."""

    pushed: int
    confirmed: int
    delivered: int


@dataclass(frozen=True)
class TrendPoint:
    """The three rates of one earlier period, for the trend chart."""

    label: str
    response: float | None
    solve: float | None
    satisfaction: float | None


@dataclass(frozen=True)
class Digest:
    """Everything a leader's digest says, for one scope and period."""

    period: Period
    scope: Scope
    orders: OrderFigures
    projects: ProjectFigures
    inspections: InspectionFigures
    policies: PolicyFigures
    trend: list[TrendPoint] = field(default_factory=list)  # oldest first, this period last
