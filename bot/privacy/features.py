"""What the features hold about one person: 诉求, 政策匹配, 入企检查, 重点项目 — for `ztc person export`.

The platform does not import features elsewhere; here it must, because an export has to be
complete: one place lists every column that points at a person, and tests/test_privacy.py
checks it against every foreign key to `people` in the schema, so a new table cannot be missed.
Register content (what was filed, reported, decided) is exported as it stands; an erasure
keeps it and pseudonymises the person it points to (see bot/privacy/erasure.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.models import Person
from bot.privacy.rendering import when
from handlers.complaints.flow import HISTORY_VERBS
from handlers.complaints.models import Action, OrderEvent, OrderState, WorkOrder
from handlers.inspections.models import Inspection, InspectionStatus, Outcome, QuietPolicy
from handlers.policies.attributes import ATTRIBUTES
from handlers.policies.models import PolicyAnswer, PolicyPush, ProfileSource, ProfileValue
from handlers.projects.models import (
    CardKind,
    CardStatus,
    Colour,
    MonthlyReport,
    Project,
    ProjectMember,
    SupervisionCard,
    WeeklyReport,
)

# (table, column) of every feature column holding a person's id; exported below, kept by an erasure.
PERSON_COLUMNS = frozenset(
    {
        ("work_orders", "filed_by_id"),
        ("order_events", "actor_id"),
        ("profile_values", "given_by_id"),
        ("policy_answers", "asked_by_id"),
        ("policy_pushes", "delivered_by_id"),
        ("inspections", "registered_by_id"),
        ("inspections", "decided_by_id"),
        ("quiet_policies", "created_by_id"),
        ("projects", "leader_id"),
        ("project_members", "person_id"),
        ("project_weekly_reports", "reporter_id"),
        ("project_monthly_reports", "reporter_id"),
        ("supervision_cards", "leader_id"),
        ("supervision_cards", "assignee_id"),
        ("supervision_cards", "answered_by_id"),
    }
)


def feature_sections(session: Session, person: Person) -> dict[str, Any]:
    """Each feature's rows that name the person, under a Chinese heading."""
    orders = _rows(session, WorkOrder, WorkOrder.filed_by_id == person.id)
    events = _rows(session, OrderEvent, OrderEvent.actor_id == person.id)
    quiet_rules = _rows(session, QuietPolicy, QuietPolicy.created_by_id == person.id)
    return {
        "诉求工单（本人提交）": [_order(o) for o in orders],
        "诉求办理记录（本人操作）": [_order_event(e) for e in events],
        "政策匹配": _policies(session, person),
        "入企检查": _inspections(session, person),
        "宁静日规则（本人载入）": [_quiet_policy(p) for p in quiet_rules],
        "重点项目": _projects(session, person),
    }


def _rows(session: Session, model: Any, *where: Any) -> list[Any]:
    return list(session.scalars(select(model).where(*where).order_by(model.id)))


# --- 诉求 ------------------------------------------------------------------------------------------


def _order(order: WorkOrder) -> dict[str, Any]:
    return {
        "单号": order.number,
        "企业": order.enterprise.name,
        "类别": order.category,
        "紧急程度": order.urgency,
        "内容": order.description,
        "照片": order.photos,
        "状态": OrderState(order.state).label,
        "提交时间": when(order.filed_at),
        "办结结果": order.result,
        "评价": order.rating,
        "销号时间": when(order.closed_at),
    }


def _order_event(event: OrderEvent) -> dict[str, Any]:
    return {
        "单号": event.order.number,
        "时间": when(event.at),
        "操作": HISTORY_VERBS.get(Action(event.action), event.action),
        "状态": [OrderState(s).label if s else None for s in (event.from_state, event.to_state)],
        "内容": event.data,
    }


# --- 政策匹配 -----------------------------------------------------------------------------------


def _policies(session: Session, person: Person) -> dict[str, Any]:
    values = _rows(session, ProfileValue, ProfileValue.given_by_id == person.id)
    answers = _rows(session, PolicyAnswer, PolicyAnswer.asked_by_id == person.id)
    delivered = _rows(session, PolicyPush, PolicyPush.delivered_by_id == person.id)
    return {
        "本人填报的企业信息": [_profile_value(v) for v in values],
        "本人查询的明白卡": [
            {
                "企业编号": a.enterprise_id,
                "时间": when(a.asked_at),
                "政策数": len(a.results),
                "结果": a.results,
            }
            for a in answers
        ],
        "本人办理的兑现": [
            {"政策": p.policy.title, "企业": p.enterprise.name, "兑现时间": when(p.delivered_at)}
            for p in delivered
        ],
    }


def _profile_value(value: ProfileValue) -> dict[str, Any]:
    attribute = ATTRIBUTES.get(value.attribute)
    return {
        "企业": value.enterprise.name,
        "项目": attribute.label if attribute else value.attribute,
        "值": value.value,
        "来源": ProfileSource(value.source).label,
        "时间": when(value.given_at),
    }


# --- 入企检查 -----------------------------------------------------------------------------------


def _inspections(session: Session, person: Person) -> list[dict[str, Any]]:
    mine = or_(Inspection.registered_by_id == person.id, Inspection.decided_by_id == person.id)
    return [_inspection(i, person) for i in _rows(session, Inspection, mine)]


def _inspection(inspection: Inspection, person: Person) -> dict[str, Any]:
    roles = (("报备人", inspection.registered_by_id), ("审批人", inspection.decided_by_id))
    return {
        "编号": inspection.number,
        "本人身份": "、".join(label for label, pid in roles if pid == person.id),
        "企业": inspection.enterprise.name,
        "部门": inspection.department.name,
        "计划日期": inspection.planned_on.isoformat(),
        "类别": inspection.category,
        "事由": inspection.reason,
        "判定": Outcome(inspection.outcome).label,
        "状态": InspectionStatus(inspection.status).label,
        "检查结果": inspection.result,
        "企业评价": inspection.rating,
        "评价意见": inspection.rating_comment,
    }


def _quiet_policy(policy: QuietPolicy) -> dict[str, Any]:
    return {
        "生效日期": policy.effective_from.isoformat(),
        "来源": policy.source,
        "载入时间": when(policy.created_at),
    }


# --- 重点项目 -----------------------------------------------------------------------------------


def _projects(session: Session, person: Person) -> dict[str, Any]:
    memberships = _rows(session, ProjectMember, ProjectMember.person_id == person.id)
    cards = or_(
        SupervisionCard.leader_id == person.id,
        SupervisionCard.assignee_id == person.id,
        SupervisionCard.answered_by_id == person.id,
    )
    return {
        "专班成员": [{"项目": _project(m.project), "责任人": m.is_lead} for m in memberships],
        "包抓项目": [_project(p) for p in _rows(session, Project, Project.leader_id == person.id)],
        "本人填报的周报": _reports(_rows(session, WeeklyReport, WeeklyReport.reporter_id == person.id)),
        "本人填报的月汇报": _reports(_rows(session, MonthlyReport, MonthlyReport.reporter_id == person.id)),
        "督办卡批示卡": [_card(c, person) for c in _rows(session, SupervisionCard, cards)],
    }  # fmt: skip


def _project(project: Project) -> str:
    return f"{project.code} {project.name}"


def _reports(reports: Iterable[WeeklyReport | MonthlyReport]) -> list[dict[str, Any]]:
    out = []
    for report in reports:
        row: dict[str, Any] = {"项目": _project(report.project), "填报时间": when(report.reported_at)}
        if isinstance(report, WeeklyReport):
            row |= {
                "周": report.week.isoformat(),
                "颜色": Colour(report.colour).label,
                "需协调": report.help_needed,
            }
        else:
            row |= {
                "月份": report.month.isoformat()[:7],
                "前期工作": report.preliminary,
                "措施": report.measures,
            }
        row |= {"完成投资（元）": report.invested_yuan, "形象进度": report.progress, "问题": report.problems}
        out.append(row)
    return out


def _card(card: SupervisionCard, person: Person) -> dict[str, Any]:
    roles = (("县领导", card.leader_id), ("承办人", card.assignee_id), ("反馈人", card.answered_by_id))
    return {
        "编号": card.number,
        "种类": CardKind(card.kind).label,
        "本人身份": "、".join(label for label, pid in roles if pid == person.id),
        "状态": CardStatus(card.status).label,
        "问题": card.problem,
        "办理要求": card.action,
        "期限": card.due_on.isoformat(),
        "反馈": card.answer,
        "领导意见": card.note,
    }
