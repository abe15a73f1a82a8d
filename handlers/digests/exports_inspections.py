"""The 涉企检查 register: the inspections registered (报备) in a period, with the rule that decided each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.models import Department
from bot.spreadsheets import Col, Sheet, Target, save_book
from handlers.digests.exports import Exported, Span
from handlers.inspections.models import STATUS_LABELS, Inspection

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
    session: Session, target: Target, span: Span, *, now: datetime, department: Department | None = None
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
