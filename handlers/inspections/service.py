"""报备检查 as services: register (decided by the rules in force), approve, 综合查一次, record, rate.

Each service takes the session, the acting person and `now`, raises a DomainError with the reply
to show, and returns what happened and who must hear of it; the chat layer turns that into
messages. A registration is stored even when blocked: the leader's report counts the attempts.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.audit import record
from bot.clock import as_utc, local
from bot.directory import contacts_of, heads_of, leaders_for
from bot.errors import Conflict, Invalid, NotAllowed, NotFound
from bot.models import BindingStatus, Enterprise, Person, Role
from bot.numbering import insert_numbered
from bot.uscc import validate_uscc
from handlers.inspections.models import COUNTED_STATUSES, Inspection, InspectionStatus, Outcome
from handlers.inspections.rules import QuietRules, decide, rules_on

MAX_REASON = 300
RATINGS = ("满意", "基本满意", "不满意")
OPEN = (InspectionStatus.PENDING, InspectionStatus.APPROVED)


@dataclass(frozen=True)
class Registered:
    """A registration and who hears of it: the approvers, the leaders (exempt or blocked), a joint group."""

    inspection: Inspection
    approvers: list[Person] = field(default_factory=list)
    leaders: list[Person] = field(default_factory=list)
    joint: list[Inspection] = field(default_factory=list)  # the others to combine with (综合查一次)


@dataclass(frozen=True)
class Joined:
    """A 综合查一次 agreed: the inspection (moved and re-decided, or already on the day), the rest of
    its group, and the leaders who hear of an exemption the new day brought."""

    inspection: Inspection
    moved_from: date | None  # the day it was planned for before, when it moved
    others: list[Inspection] = field(default_factory=list)
    leaders: list[Person] = field(default_factory=list)


def find_enterprises(session: Session, text: str) -> list[Enterprise]:
    """The enterprises `text` names: its USCC, its full name, or a part of its name."""
    raw = unicodedata.normalize("NFKC", text).strip()
    if not raw:
        raise Invalid("请写明企业名称或统一社会信用代码。")
    if len(raw) == 18 and raw[:2].isalnum() and not any("\u4e00" <= c <= "\u9fff" for c in raw):
        uscc = validate_uscc(raw)
        return list(session.scalars(select(Enterprise).where(Enterprise.uscc == uscc)))
    exact = list(session.scalars(select(Enterprise).where(Enterprise.name == raw)))
    if exact:
        return exact
    query = select(Enterprise).where(Enterprise.name.contains(raw, autoescape=True)).order_by(Enterprise.id)
    return list(session.scalars(query.limit(10)))


def require_inspector(person: Person, rules: QuietRules) -> None:
    """Only officials of an enforcement department register inspections."""
    dept = person.department
    if (
        person.role_enum is not Role.OFFICIAL
        or dept is None
        or dept.code not in rules.enforcement_departments
    ):
        raise NotAllowed("只有执法部门的干部可以报备涉企检查。如需调整执法部门名单，请联系管理员。")


def register(
    session: Session,
    official: Person,
    enterprise: Enterprise,
    day: date,
    category: str,
    reason: str,
    now: datetime,
    *,
    channel: str = "wecom",
) -> Registered:
    """报备检查: decided at once by the rules in force on that day; stored allowed, exempt or blocked."""
    rules, policy = rules_on(session, day)
    require_inspector(official, rules)
    today = _today(now)
    if day < today:
        raise Invalid(f"检查日期不能早于今天（{today:%Y-%m-%d}）。")
    reason = _required(reason, "请写明检查事由。")
    department = official.department
    assert department is not None
    decision = decide(
        rules, day, category, department.code, _prior(session, enterprise.id, department.id, day)
    )
    blocked = decision.outcome is Outcome.BLOCKED
    inspection = Inspection(
        enterprise=enterprise,
        department=department,
        registered_by=official,
        planned_on=day,
        category=category,
        reason=reason,
        outcome=decision.outcome.value,
        rule_text=decision.rule_text,
        next_allowed_on=decision.next_allowed,
        policy_id=policy.id if policy else None,
        status=(InspectionStatus.BLOCKED if blocked else InspectionStatus.PENDING).value,
        created_at=now,
        lenient_codes=[],
    )
    insert_numbered(session, inspection, Inspection.number, "J", now, busy="同时报备的人太多了，请稍后再试。")
    _audit(session, official, inspection, "inspection.register", now, channel, outcome=decision.outcome.value)
    if blocked:
        return Registered(inspection, leaders=leaders_for(session, department.id))
    approvers = _approvers(session, department.id)
    if official in approvers:  # the head registers his own visit: his registration is his approval
        _decide(session, official, inspection, True, now, channel)
        approvers = []
    leaders = leaders_for(session, department.id) if decision.outcome is Outcome.EXEMPT else []
    return Registered(inspection, approvers, leaders, _join(session, inspection, rules, today))


def require_reason(text: str) -> str:
    """The 事由 of an inspection: not empty, not too long."""
    return _required(text, "请写明检查事由。")


def _required(text: str, message: str) -> str:
    value = text.strip()
    if not value:
        raise Invalid(message)
    if len(value) > MAX_REASON:
        raise Invalid(f"内容太长了（{len(value)}字），最多{MAX_REASON}字。")
    return value


def _prior(
    session: Session, enterprise_id: int, department_id: int, day: date, *, leaving_out: int | None = None
) -> int:
    """Inspections of this enterprise by this department already counted in that calendar year
    (but `leaving_out`, the inspection being moved there)."""
    query = select(func.count(Inspection.id)).where(
        Inspection.enterprise_id == enterprise_id,
        Inspection.department_id == department_id,
        Inspection.planned_on >= date(day.year, 1, 1),
        Inspection.planned_on <= date(day.year, 12, 31),
        Inspection.status.in_([s.value for s in COUNTED_STATUSES]),
    )
    if leaving_out is not None:
        query = query.where(Inspection.id != leaving_out)
    return session.scalar(query) or 0


def _today(now: datetime) -> date:
    return local(as_utc(now)).date()


def _approvers(session: Session, department_id: int) -> list[Person]:
    """The heads of the inspection's department; the overseeing leaders when it has none."""
    return heads_of(session, department_id) or leaders_for(session, department_id)


def _join(session: Session, inspection: Inspection, rules: QuietRules, today: date) -> list[Inspection]:
    """Other departments' open inspections of the same enterprise within the window, from today on:
    one joint visit. A visit whose day has passed (approved, no result yet) draws nobody in.
    Returns the rest of the group it joins (as joint_group sees it, so the card offers the day
    join_visit will accept)."""
    window = timedelta(days=rules.joint_window_days)
    query = select(Inspection).where(
        Inspection.enterprise_id == inspection.enterprise_id,
        Inspection.department_id != inspection.department_id,
        Inspection.id != inspection.id,
        Inspection.planned_on >= max(inspection.planned_on - window, today),
        Inspection.planned_on <= inspection.planned_on + window,
        Inspection.status.in_([s.value for s in OPEN]),
    )
    others = list(session.scalars(query.order_by(Inspection.planned_on, Inspection.id)))
    if others:
        key = next((o.joint_key for o in others if o.joint_key), None) or f"JT-{others[0].number}"
        for item in (*others, inspection):
            item.joint_key = key
        session.flush()
        others = [i for i in joint_group(session, inspection, today) if i.id != inspection.id]
    return others


def get_inspection(session: Session, number: str) -> Inspection:
    """The inspection with this number (J2612-0003, typed loosely), or NotFound."""
    raw = unicodedata.normalize("NFKC", number).strip().upper().replace("_", "-")
    if not raw.startswith("J"):
        raw = f"J{raw}"
    head, _, seq = raw[1:].partition("-")
    if not (head.isdigit() and len(head) == 4 and seq.isdigit()):
        raise Invalid(f"「{number.strip() or '（空）'}」不是检查编号，编号形如 J2612-0003。")
    canonical = f"J{head}-{int(seq):04d}"
    found = session.scalar(select(Inspection).where(Inspection.number == canonical))
    if found is None:
        raise NotFound(f"没有找到编号为 {canonical} 的检查报备。")
    return found


def decide_registration(
    session: Session, head: Person, number: str, approve: bool, now: datetime, *, channel: str = "wecom"
) -> Inspection:
    """The department head (or an overseeing leader) approves or refuses a pending registration, once."""
    inspection = get_inspection(session, number)
    if head not in _approvers(session, inspection.department_id):
        raise NotAllowed(f"检查 {inspection.number} 须由{inspection.department.name}负责人审批。")
    if inspection.status_enum is not InspectionStatus.PENDING:
        raise Conflict(f"检查 {inspection.number} 已处理（{inspection.status_enum.label}），无需重复操作。")
    _decide(session, head, inspection, approve, now, channel)
    return inspection


def _decide(
    session: Session, head: Person, inspection: Inspection, approve: bool, now: datetime, channel: str
) -> None:
    status = InspectionStatus.APPROVED if approve else InspectionStatus.REJECTED
    changed = session.execute(
        update(Inspection)
        .where(Inspection.id == inspection.id, Inspection.status == InspectionStatus.PENDING.value)
        .values(status=status.value, decided_by_id=head.id, decided_at=now, version=Inspection.version + 1)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"检查 {inspection.number} 已被他人处理。")
    session.refresh(inspection)
    _audit(session, head, inspection, f"inspection.{'approve' if approve else 'reject'}", now, channel)


def join_visit(
    session: Session,
    official: Person,
    number: str,
    now: datetime,
    *,
    day: date | None = None,
    channel: str = "wecom",
) -> Joined:
    """综合查一次: move this department's inspection to `day`, the joint day the card offered, and
    re-decide it by the rules in force on that day. `day` must still be the group's earliest open day
    from today on (None: whatever that is now, for the typed command); a past day is refused.
    """
    inspection = get_inspection(session, number)
    if official.department_id != inspection.department_id:
        raise NotAllowed(
            f"检查 {inspection.number} 由{inspection.department.name}报备，只有该部门干部可以操作。"
        )
    if inspection.joint_key is None or inspection.status_enum not in OPEN:
        raise Conflict(f"检查 {inspection.number} 当前不能合并检查。")
    today = _today(now)
    if inspection.planned_on < today:
        raise Conflict(
            f"检查 {inspection.number} 原定于 {inspection.planned_on:%Y-%m-%d}，日期已过，不能再合并检查。"
        )
    if day is not None and day < today:
        raise Conflict(f"联合检查日 {day:%Y-%m-%d} 已过，不能再合并检查。")
    group = joint_group(session, inspection, today)
    others = [i for i in group if i.id != inspection.id]
    if not others:
        raise Conflict(f"检查 {inspection.number} 已没有可以一起联合检查的其他部门检查，按原计划进行即可。")
    earliest = group[0].planned_on  # from today on: never a day in the past
    day = earliest if day is None else day
    if day != earliest:
        raise Conflict(
            f"联合检查安排已有变化：目前最早的检查日是 {earliest:%Y-%m-%d}，不是 {day:%Y-%m-%d}。"
            f"如仍同意联合检查，请发送「合并检查 {inspection.number}」。"
        )
    moved_from, leaders = None, []
    if day != inspection.planned_on:
        rules, policy = rules_on(session, day)
        prior = _prior(
            session, inspection.enterprise_id, inspection.department_id, day, leaving_out=inspection.id
        )
        decision = decide(rules, day, inspection.category, inspection.department.code, prior)
        if decision.outcome is Outcome.BLOCKED:
            raise Conflict(
                f"联合检查日 {day:%Y-%m-%d} 不允许本次检查：{decision.rule_text}。"
                f"检查 {inspection.number} 仍按原计划于 {inspection.planned_on:%Y-%m-%d} 进行。"
            )
        if decision.outcome is Outcome.EXEMPT and inspection.outcome_enum is not Outcome.EXEMPT:
            leaders = leaders_for(session, inspection.department_id)  # an exemption, as at 报备
        moved_from = inspection.planned_on
        inspection.planned_on = day
        inspection.outcome, inspection.rule_text = decision.outcome.value, decision.rule_text
        inspection.policy_id, inspection.next_allowed_on = (policy.id if policy else None), None
        inspection.version += 1
    _audit(
        session, official, inspection, "inspection.join", now, channel,
        joint_key=inspection.joint_key, day=str(day),
        moved_from=str(moved_from) if moved_from else None, outcome=inspection.outcome,
    )  # fmt: skip
    session.flush()
    return Joined(inspection, moved_from, others, leaders)


def joint_group(session: Session, inspection: Inspection, today: date) -> list[Inspection]:
    """Every open inspection sharing this one's joint key and planned from today on, earliest first."""
    query = select(Inspection).where(
        Inspection.joint_key == inspection.joint_key,
        Inspection.status.in_([s.value for s in OPEN]),
        Inspection.planned_on >= today,
    )
    return list(session.scalars(query.order_by(Inspection.planned_on, Inspection.id)))


def record_result(
    session: Session, official: Person, number: str, result: str, lenient_codes: list[str], now: datetime,
    *, channel: str = "wecom",
) -> Inspection:  # fmt: skip
    """检查结果: what the visit found, and the 免罚清单 items applied; the inspection is done."""
    from handlers.inspections.lenient import get_item  # the list belongs to its own module

    inspection = get_inspection(session, number)
    if official.department_id != inspection.department_id:
        raise NotAllowed(
            f"检查 {inspection.number} 由{inspection.department.name}报备，只有该部门干部可以登记结果。"
        )
    if inspection.status_enum is not InspectionStatus.APPROVED:
        raise Conflict(
            f"检查 {inspection.number} 当前状态为「{inspection.status_enum.label}」，不能登记结果。"
        )
    codes = [get_item(session, code).code for code in lenient_codes]
    inspection.result = _required(result, "请写明检查结果。")
    inspection.lenient_codes = codes
    inspection.status = InspectionStatus.DONE.value
    inspection.version += 1
    _audit(session, official, inspection, "inspection.result", now, channel, lenient=codes)
    session.flush()
    return inspection


def rate_visit(
    session: Session,
    person: Person,
    number: str,
    rating: str,
    comment: str,
    now: datetime,
    *,
    channel: str = "wecom",
) -> Inspection:
    """The enterprise rates a visit that took place (once)."""
    inspection = get_inspection(session, number)
    if person not in contacts_of(session, inspection.enterprise_id):
        raise NotFound(
            f"没有找到编号为 {inspection.number} 的检查报备。"
        )  # not the enterprise's: say nothing
    if rating not in RATINGS:
        raise Invalid(f"请选择评价：{'、'.join(RATINGS)}。")
    if inspection.status_enum not in (InspectionStatus.APPROVED, InspectionStatus.DONE):
        raise Conflict(f"检查 {inspection.number} 未实施，不能评价。")
    if inspection.planned_on > local(as_utc(now)).date():
        raise Conflict(
            f"检查 {inspection.number} 计划于 {inspection.planned_on:%Y-%m-%d} 进行，检查后才能评价。"
        )
    if inspection.rating is not None:
        raise Conflict(f"您已评价过检查 {inspection.number}（{inspection.rating}）。")
    inspection.rating, inspection.rating_comment = rating, comment.strip()[:MAX_REASON] or None
    _audit(session, person, inspection, "inspection.rate", now, channel, rating=rating)
    session.flush()
    return inspection


def upcoming(session: Session, person: Person, today: date) -> list[Inspection]:
    """检查列表: open inspections from today on — the department's, or the enterprise's for a contact."""
    query = select(Inspection).where(
        Inspection.planned_on >= today, Inspection.status.in_([s.value for s in OPEN])
    )
    if person.role_enum is Role.ENTERPRISE:
        ids = [m.enterprise_id for m in person.memberships if m.status == BindingStatus.CONFIRMED.value]
        query = query.where(
            Inspection.enterprise_id.in_(ids), Inspection.status == InspectionStatus.APPROVED.value
        )
    elif person.role_enum is Role.OFFICIAL:
        query = query.where(Inspection.department_id == person.department_id)
    return list(session.scalars(query.order_by(Inspection.planned_on, Inspection.id).limit(50)))


def _audit(
    session: Session,
    actor: Person,
    inspection: Inspection,
    action: str,
    now: datetime,
    channel: str,
    **data: object,
) -> None:
    record(
        session, at=now, actor=actor, channel=channel, action=action,
        entity="inspection", entity_id=inspection.number, data=dict(data),
    )  # fmt: skip
