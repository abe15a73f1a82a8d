"""Registers for a period as XLSX: work orders (诉求), key projects' weekly reports and cards, inspections.

A period is a run of local (Beijing) days, both ends included. Work orders count when they were
filed (挂号) in the period, inspections when they were registered (报备), 督办卡/批示卡 when they
were drafted; a weekly report counts when it is in force (not replaced) and its week belongs to
the period — a week belongs to the period holding its Thursday, as in the 台账, so no week is
counted in two months. Times are Excel datetimes in Beijing time; amounts are numbers in 万元.
The 统一社会信用代码 is written in full (officials need it) and never logged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from bot.clock import LOCAL_ZONE, as_utc, fmt_local, local
from bot.errors import Invalid
from bot.models import Department
from handlers.complaints.figures import ARRIVALS, RESPONSES, SOLVE_OUTCOMES
from handlers.complaints.flow import CLOCK_WORDS, HISTORY_VERBS, RUNG_LABELS
from handlers.complaints.models import STATE_LABELS, Action, OrderEvent, OrderState, WorkOrder
from handlers.inspections.models import STATUS_LABELS, Inspection
from handlers.projects.ledger import FILLS, HEADER_FILL, wan
from handlers.projects.models import CARD_STATUS_LABELS, COLOUR_LABELS, Project, SupervisionCard, WeeklyReport

MAX_DAYS = 366
TIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
WAN_FORMAT = "#,##0.00"
_DAY = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
TargetFile = Path | str | IO[bytes]


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
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise Invalid(f"「{text}」不是日期，请写成 年-月-日，如 2026-11-01。") from None


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


def excel_time(at: datetime | None) -> datetime | None:
    """An instant as a naive Beijing-time datetime (Excel has no time zones); None stays empty."""
    return None if at is None else local(as_utc(at)).replace(tzinfo=None)


# ---------------------------------------------------------------------------------------------
# The workbook


@dataclass(frozen=True)
class Col:
    """A column: its header, width and kind (text, long text, time, date, 万元, or a colour label)."""

    title: str
    width: float
    kind: str = "text"


@dataclass(frozen=True)
class Sheet:
    """One sheet: its name, columns and rows (cells in the columns' order)."""

    title: str
    columns: tuple[Col, ...]
    rows: list[list[Any]]


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


def save_book(target: TargetFile, sheets: Iterable[Sheet]) -> None:
    """Write the sheets as one XLSX workbook: bold frozen headers, widths, formats."""
    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        _fill_sheet(book.create_sheet(sheet.title), sheet)
    book.save(str(target) if isinstance(target, Path) else target)


def _fill_sheet(sheet: Any, data: Sheet) -> None:
    """Header, rows, then each column's look."""
    sheet.append([c.title for c in data.columns])
    for row in data.rows:
        sheet.append(row)
    for index, column in enumerate(data.columns, start=1):
        _style_column(sheet, index, column)
    sheet.freeze_panes = "B2"


def _style_column(sheet: Any, index: int, column: Col) -> None:
    """One column: width, a bold blue header, and its cells' format."""
    sheet.column_dimensions[get_column_letter(index)].width = column.width
    header = sheet.cell(row=1, column=index)
    header.font = Font(bold=True)
    header.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    header.fill = PatternFill("solid", fgColor=HEADER_FILL)
    for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
        _style_cell(cell, column.kind)


def _style_cell(cell: Any, kind: str) -> None:
    """One data cell's look by its column's kind."""
    if kind == "time":
        cell.number_format = TIME_FORMAT
    elif kind == "date":
        cell.number_format = DATE_FORMAT
    elif kind == "wan":
        cell.number_format = WAN_FORMAT
    elif kind == "long":
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    elif kind == "colour" and cell.value in FILLS:
        cell.fill = PatternFill("solid", fgColor=FILLS[cell.value])
        cell.alignment = Alignment(horizontal="center")


def _names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Department names by id."""
    wanted = {i for i in ids if i is not None}
    query = select(Department.id, Department.name).where(Department.id.in_(wanted))
    return {ident: name for ident, name in session.execute(query)} if wanted else {}


# ---------------------------------------------------------------------------------------------
# 诉求工单

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


def order_events(session: Session, orders: list[WorkOrder]) -> dict[int, list[OrderEvent]]:
    """Every event of the orders, by order id, in the order they happened."""
    events: dict[int, list[OrderEvent]] = {o.id: [] for o in orders}
    query = select(OrderEvent).where(OrderEvent.order_id.in_(events)).options(selectinload(OrderEvent.actor))
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
    session: Session, target: TargetFile, span: Span, *, now: datetime, department: Department | None = None
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


# ---------------------------------------------------------------------------------------------
# 重点项目周报 and 督办卡

REPORT_COLUMNS = (
    Col("编号", 14),
    Col("名称", 30, "long"),
    Col("责任单位", 16),
    Col("包抓县领导", 11),
    Col("周次", 24),
    Col("颜色", 7, "colour"),
    Col("测算颜色", 9, "colour"),
    Col("本期完成投资(万元)", 13, "wan"),
    Col("形象进度", 30, "long"),
    Col("存在问题", 30, "long"),
    Col("需协调", 30, "long"),
    Col("报送人", 10),
    Col("报送时间", 16, "time"),
)
CARD_COLUMNS = (
    Col("编号", 13),
    Col("类型", 8),
    Col("项目", 30, "long"),
    Col("问题", 36, "long"),
    Col("责任人", 16),
    Col("期限", 12, "date"),
    Col("状态", 9),
    Col("签发时间", 16, "time"),
    Col("反馈", 36, "long"),
    Col("销号时间", 16, "time"),
)


def week_label(week: date) -> str:
    """「2026年第48周（11.23-11.29）」: the ISO year and week, and its days."""
    iso, sunday = week.isocalendar(), week + timedelta(days=6)
    return f"{iso.year}年第{iso.week}周（{week.month}.{week.day}-{sunday.month}.{sunday.day}）"


def span_reports(session: Session, span: Span, department: Department | None) -> list[WeeklyReport]:
    """The weekly reports in force whose week's Thursday falls in the span, by project code then week."""
    query = (
        select(WeeklyReport)
        .join(Project, WeeklyReport.project_id == Project.id)
        .where(
            WeeklyReport.replaced_at.is_(None),
            WeeklyReport.week.between(span.start - timedelta(days=3), span.end - timedelta(days=3)),
        )
    )
    if department is not None:
        query = query.where(Project.department_id == department.id)
    query = query.options(
        selectinload(WeeklyReport.project).selectinload(Project.department),
        selectinload(WeeklyReport.project).selectinload(Project.leader),
        selectinload(WeeklyReport.reporter),
    )
    return list(session.scalars(query.order_by(Project.code, WeeklyReport.week)))


def report_row(report: WeeklyReport) -> list[Any]:
    """One weekly report's cells, in REPORT_COLUMNS' order."""
    project, objective = report.project, report.objective_enum
    return [
        project.code,
        project.name,
        project.department.name,
        project.leader.name if project.leader is not None else None,
        week_label(report.week),
        COLOUR_LABELS[report.colour_enum],
        COLOUR_LABELS[objective] if objective is not None else None,
        wan(report.invested_yuan),
        report.progress or None,
        report.problems or None,
        report.help_needed or None,
        report.reporter.name if report.reporter is not None else None,
        excel_time(report.reported_at),
    ]


def span_cards(session: Session, span: Span, department: Department | None) -> list[SupervisionCard]:
    """督办卡/批示卡 drafted in the span (the department's, or its projects', if given), by number."""
    query = (
        select(SupervisionCard)
        .outerjoin(Project, SupervisionCard.project_id == Project.id)
        .where(SupervisionCard.drafted_at >= span.start_at, SupervisionCard.drafted_at < span.end_at)
    )
    if department is not None:
        query = query.where(
            or_(SupervisionCard.department_id == department.id, Project.department_id == department.id)
        )
    query = query.options(
        selectinload(SupervisionCard.project),
        selectinload(SupervisionCard.assignee),
        selectinload(SupervisionCard.department),
    )
    return list(session.scalars(query.order_by(SupervisionCard.drafted_at, SupervisionCard.number)))


def card_row(card: SupervisionCard) -> list[Any]:
    """One card's cells, in CARD_COLUMNS' order."""
    project = f"{card.project.code} {card.project.name}" if card.project is not None else None
    return [
        card.number,
        card.kind_enum.label,
        project,
        card.problem,
        _answerable(card),
        card.due_on,
        CARD_STATUS_LABELS[card.status_enum],
        excel_time(card.issued_at),
        card.answer,
        excel_time(card.cleared_at),
    ]


def _answerable(card: SupervisionCard) -> str | None:
    """「县发改局 许亮」: the card's department and the person who must answer it."""
    parts = [p.name for p in (card.department, card.assignee) if p is not None]
    return " ".join(parts) or None


def write_projects(
    session: Session, target: TargetFile, span: Span, *, now: datetime, department: Department | None = None
) -> Exported:
    """重点项目周报 of the span's weeks, a row per report in force; then 督办卡/批示卡 drafted in the span."""
    reports = span_reports(session, span, department)
    cards = span_cards(session, span, department)
    save_book(
        target,
        [
            Sheet("重点项目周报", REPORT_COLUMNS, [report_row(r) for r in reports]),
            Sheet("督办卡批示卡", CARD_COLUMNS, [card_row(c) for c in cards]),
        ],
    )
    return Exported("重点项目周报", span, len(reports) + len(cards), _projects_summary(reports, cards))


def _projects_summary(reports: list[WeeklyReport], cards: list[SupervisionCard]) -> str:
    """「周报5份（3个项目；绿1 白2 黄1 红1），督办卡/批示卡2张。」."""
    projects = len({r.project_id for r in reports})
    labels = [COLOUR_LABELS[r.colour_enum] for r in reports]
    colours = " ".join(f"{label}{labels.count(label)}" for label in COLOUR_LABELS.values())
    return f"周报{len(reports)}份（{projects}个项目；{colours}），督办卡/批示卡{len(cards)}张。"


# ---------------------------------------------------------------------------------------------
# 涉企检查

INSPECTION_COLUMNS = (
    Col("编号", 13),
    Col("企业", 26, "long"),
    Col("部门", 16),
    Col("报备人", 10),
    Col("检查日期", 12, "date"),
    Col("类别", 10),
    Col("事由", 30, "long"),
    Col("判定", 8),
    Col("依据", 40, "long"),
    Col("状态", 8),
    Col("审批人", 10),
    Col("联合检查", 26, "long"),
    Col("结果", 30, "long"),
    Col("免罚条目", 16),
    Col("企业评价", 20, "long"),
)


def span_inspections(session: Session, span: Span, department: Department | None) -> list[Inspection]:
    """The inspections registered in the span (by the department, if given), oldest first."""
    query = select(Inspection).where(
        Inspection.created_at >= span.start_at, Inspection.created_at < span.end_at
    )
    if department is not None:
        query = query.where(Inspection.department_id == department.id)
    query = query.options(
        selectinload(Inspection.enterprise),
        selectinload(Inspection.department),
        selectinload(Inspection.registered_by),
        selectinload(Inspection.decided_by),
    )
    return list(session.scalars(query.order_by(Inspection.created_at, Inspection.id)))


def joint_groups(session: Session, inspections: list[Inspection]) -> dict[str, list[Inspection]]:
    """Every inspection of the 综合查一次 groups the given ones belong to, by joint key."""
    keys = {i.joint_key for i in inspections if i.joint_key}
    groups: dict[str, list[Inspection]] = {key: [] for key in keys}
    if not keys:
        return groups
    query = (
        select(Inspection).where(Inspection.joint_key.in_(keys)).options(selectinload(Inspection.department))
    )
    for inspection in session.scalars(query.order_by(Inspection.planned_on, Inspection.id)):
        groups[str(inspection.joint_key)].append(inspection)
    return groups


def joint_text(inspection: Inspection, groups: dict[str, list[Inspection]]) -> str | None:
    """「与J2611-0001（县应急管理局）综合查一次」, or empty for an inspection on its own."""
    if not inspection.joint_key:
        return None
    others = [i for i in groups.get(inspection.joint_key, []) if i.id != inspection.id]
    listed = "、".join(f"{i.number}（{i.department.name}）" for i in others)
    return f"与{listed}综合查一次" if listed else "综合查一次"


def inspection_row(inspection: Inspection, groups: dict[str, list[Inspection]]) -> list[Any]:
    """One inspection's cells, in INSPECTION_COLUMNS' order."""
    rating = inspection.rating
    if rating and inspection.rating_comment:
        rating = f"{rating}：{inspection.rating_comment}"
    return [
        inspection.number,
        inspection.enterprise.name,
        inspection.department.name,
        inspection.registered_by.name,
        inspection.planned_on,
        inspection.category,
        inspection.reason,
        inspection.outcome_enum.label.removesuffix("检查"),
        inspection.rule_text,
        STATUS_LABELS[inspection.status_enum],
        inspection.decided_by.name if inspection.decided_by is not None else None,
        joint_text(inspection, groups),
        inspection.result,
        "、".join(inspection.lenient_codes) or None,
        rating,
    ]


def write_inspections(
    session: Session, target: TargetFile, span: Span, *, now: datetime, department: Department | None = None
) -> Exported:
    """涉企检查 registered in the span: a row per inspection, with the rule that decided it."""
    inspections = span_inspections(session, span, department)
    groups = joint_groups(session, inspections)
    rows = [inspection_row(i, groups) for i in inspections]
    save_book(target, [Sheet("涉企检查", INSPECTION_COLUMNS, rows)])
    return Exported("涉企检查", span, len(inspections), _inspections_summary(rows))


def _inspections_summary(rows: list[list[Any]]) -> str:
    """「共4次（允许2次、豁免1次、不允许1次），综合查一次2次。」."""
    verdicts = [row[7] for row in rows]
    counts = "、".join(f"{v}{verdicts.count(v)}次" for v in ("允许", "豁免", "不允许"))
    joint = sum(row[11] is not None for row in rows)
    return f"共{len(rows)}次（{counts}），综合查一次{joint}次。"


# ---------------------------------------------------------------------------------------------
# By kind

Writer = Callable[..., Exported]
WRITERS: dict[str, Writer] = {
    "orders": write_orders,
    "projects": write_projects,
    "inspections": write_inspections,
}
TITLES = {"orders": "诉求工单", "projects": "重点项目周报", "inspections": "涉企检查"}


def write_register(
    kind: str,
    session: Session,
    target: TargetFile,
    span: Span,
    *,
    now: datetime,
    department: Department | None = None,
) -> Exported:
    """Write the register of `kind` (orders, projects, inspections) for the span."""
    return WRITERS[kind](session, target, span, now=now, department=department)
