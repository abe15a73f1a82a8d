"""Registers for a period as XLSX: work orders (诉求), key projects' weekly reports and cards, inspections.

A period is a run of local (Beijing) days, both ends included. Work orders count when they were
filed (挂号) in the period, inspections when they were registered (报备), 督办卡/批示卡 when they
were drafted; a weekly report counts when it is in force (not replaced) and its week belongs to
the period — a week belongs to the period holding its Thursday, as in the 台账, so no week is
counted in two months. Times are Excel datetimes in Beijing time; amounts are numbers in 万元
(bot.spreadsheets). The 统一社会信用代码 is written in full (officials need it) and never logged.

This module holds the period and the dispatch by kind; each register is written by its own module:
exports_orders, exports_projects, exports_inspections.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from bot.clock import LOCAL_ZONE, as_utc
from bot.errors import Invalid
from bot.models import Department
from bot.spreadsheets import Target

MAX_DAYS = 366
# Registers start this century; a year outside is a typo, and 0001 or 9999 cannot become UTC instants.
FIRST_YEAR, LAST_YEAR = 2000, 2099
_DAY = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
TITLES = {"orders": "诉求工单", "projects": "重点项目周报", "inspections": "涉企检查"}


# ---------------------------------------------------------------------------------------------
# The period


@dataclass(frozen=True)
class Span:
    """A run of local days, `start` to `end`, both included."""

    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        """The first instant, as aware UTC."""
        return _midnight(self.start)

    @property
    def end_at(self) -> datetime:
        """The instant after the last day, as aware UTC (the span is [start_at, end_at))."""
        return _midnight(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        """How many days the span covers."""
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        """「2026年11月24日」, 「2026年11月1日至11月24日」, 「2025年12月1日至2026年1月31日」."""
        first = f"{self.start.year}年{self.start.month}月{self.start.day}日"
        if self.start == self.end:
            return first
        year = f"{self.end.year}年" if self.end.year != self.start.year else ""
        return f"{first}至{year}{self.end.month}月{self.end.day}日"


def _midnight(day: date) -> datetime:
    """The local midnight starting `day`, as aware UTC."""
    return as_utc(datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_ZONE))


def parse_day(text: str) -> date:
    """「2026-11-01」 (also 2026/11/1, 2026年11月1日) → the date; anything else is refused by name."""
    match = _DAY.fullmatch(unicodedata.normalize("NFKC", text).strip())
    try:
        if match is None:
            raise ValueError(text)
        day = date(*(int(part) for part in match.groups()))
    except ValueError:
        raise Invalid(f"「{text}」不是日期，请写成 年-月-日，如 2026-11-01。") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise Invalid(f"「{text}」的年份不对，请写{FIRST_YEAR}至{LAST_YEAR}年之间的日期。")
    return day


def span_between(start: date, end: date) -> Span:
    """The span from `start` to `end`; refused when reversed or longer than MAX_DAYS."""
    if start > end:
        raise Invalid(f"开始日期{start:%Y-%m-%d}晚于结束日期{end:%Y-%m-%d}，请检查。")
    span = Span(start, end)
    if span.days > MAX_DAYS:
        raise Invalid(f"期间共{span.days}天，一次最多导出{MAX_DAYS}天，请分段导出。")
    return span


def span_of(start: str | None, end: str | None, today: date) -> Span:
    """The span of `--from`/`--to` as typed: `--to` defaults to today, `--from` to the first of its month."""
    last = parse_day(end) if end else today
    first = parse_day(start) if start else last.replace(day=1)
    return span_between(first, last)


# ---------------------------------------------------------------------------------------------
# What a register holds, and the register of each kind


@dataclass(frozen=True)
class Exported:
    """What a register holds, for the line that goes with the file."""

    title: str  # 诉求工单 / 重点项目周报 / 涉企检查
    span: Span
    rows: int  # how many things it lists (0: nothing in the span)
    summary: str

    def text(self) -> str:
        """「2026年11月1日至11月24日 诉求工单：共3件…」."""
        return f"{self.span.label} {self.title}：{self.summary}"


Writer = Callable[..., Exported]


def writers() -> dict[str, Writer]:
    """The register writers by kind (imported here: their modules import this one)."""
    from handlers.digests.exports_inspections import write_inspections
    from handlers.digests.exports_orders import write_orders
    from handlers.digests.exports_projects import write_projects

    return {"orders": write_orders, "projects": write_projects, "inspections": write_inspections}


def write_register(
    kind: str,
    session: Session,
    target: Target,
    span: Span,
    *,
    now: datetime,
    department: Department | None = None,
) -> Exported:
    """Write the register of `kind` (orders, projects, inspections) for the span."""
    return writers()[kind](session, target, span, now=now, department=department)
