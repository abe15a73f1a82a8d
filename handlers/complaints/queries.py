"""Finding orders and deciding who may see or act on them; who is told; 我的诉求, 待办, history."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.clock import as_utc
from bot.directory import people_with_role
from bot.errors import Invalid, NotAllowed, NotFound
from bot.models import BindingStatus, Department, DepartmentKind, Enterprise, EnterpriseMember, Person, Role
from bot.numbering import canonical_number
from handlers.complaints.models import (
    OPEN_STATES,
    OrderEvent,
    OrderState,
    RoutingRule,
    WorkOrder,
)


def parse_number(text: str) -> str:
    """「s2611-42」「S26110042」「Ｓ２６１１－００４２」 → 「S2611-0042」."""
    return canonical_number(text, "S", "诉求单号", "单号形如 S2611-0042")


def get_order(session: Session, number: str) -> WorkOrder:
    """The order with this number (typed loosely), or NotFound."""
    canonical = parse_number(number)
    order = session.scalar(select(WorkOrder).where(WorkOrder.number == canonical))
    if order is None:
        raise NotFound(f"没有找到单号为 {canonical} 的诉求，请核对单号。")
    return order


def is_leader(person: Person) -> bool:
    """County leaders watch and may act on every order (全程盯单)."""
    return person.role_enum is Role.LEADER


def is_coordinator(person: Person) -> bool:
    """Leaders, admins and officials of an office (营商办, 督查室) decide where a 退回 order goes."""
    if person.role_enum in (Role.LEADER, Role.ADMIN):
        return True
    dept = person.department
    return person.role_enum is Role.OFFICIAL and dept is not None and dept.kind == DepartmentKind.OFFICE.value


def can_act(person: Person, order: WorkOrder) -> bool:
    """Officials of the holding department, and leaders."""
    if is_leader(person):
        return True
    return person.role_enum is Role.OFFICIAL and person.department_id == order.holding_department_id


def require_actor(person: Person, order: WorkOrder) -> None:
    """Refuse anyone but the holding department's officials and leaders."""
    if not can_act(person, order):
        raise NotAllowed(
            f"诉求 {order.number} 由{order.holding_department.name}办理，只有该部门干部或县领导可以操作。"
        )


def bound_enterprises(session: Session, person: Person) -> list[Enterprise]:
    """The enterprises this person speaks for (confirmed bindings only)."""
    query = (
        select(Enterprise)
        .join(EnterpriseMember)
        .where(
            EnterpriseMember.person_id == person.id, EnterpriseMember.status == BindingStatus.CONFIRMED.value
        )
    )
    return list(session.scalars(query.order_by(Enterprise.id)))


def coordinators(session: Session) -> list[Person]:
    """Who is asked to decide a 退回: office officials and admins; the leaders if there are none."""
    office = select(Department.id).where(Department.kind == DepartmentKind.OFFICE.value)
    query = select(Person).where(
        Person.active.is_(True),
        or_(
            Person.role == Role.ADMIN.value,
            (Person.role == Role.OFFICIAL.value) & Person.department_id.in_(office),
        ),
    )
    return list(session.scalars(query.order_by(Person.id))) or people_with_role(session, Role.LEADER)


def filer(order: WorkOrder) -> list[Person]:
    """The contact who filed the order, if still active: he hears of its progress and signs it off."""
    return [order.filed_by] if order.filed_by.active else []


def routing_rule(session: Session, category: str) -> RoutingRule | None:
    """The 职能部门 that owns this category, if configured (suggested on 转办)."""
    return session.scalar(select(RoutingRule).where(RoutingRule.category == category))


def orders_for_enterprise(session: Session, person: Person) -> list[WorkOrder]:
    """我的诉求: the orders of the enterprises this person speaks for, newest first."""
    ids = [e.id for e in bound_enterprises(session, person)]
    if not ids:
        raise NotAllowed("您还没有绑定企业。请先发送「绑定 统一社会信用代码 姓名」。")
    query = select(WorkOrder).where(WorkOrder.enterprise_id.in_(ids)).order_by(WorkOrder.id.desc())
    return list(session.scalars(query))


def todo_for_official(session: Session, person: Person) -> list[WorkOrder]:
    """待办: open orders held by the person's department (every open one for a leader), soonest due first."""
    query = select(WorkOrder).where(WorkOrder.state.in_([s.value for s in OPEN_STATES]))
    if not is_leader(person):
        mine = WorkOrder.holding_department_id == person.department_id
        held = mine & WorkOrder.state.in_([OrderState.DISPATCHED.value, OrderState.PICKED_UP.value])
        returned = WorkOrder.state == OrderState.RETURNED.value
        query = query.where(or_(held, returned) if is_coordinator(person) else held)
    return sorted(session.scalars(query), key=_urgency_key)


def _urgency_key(order: WorkOrder) -> tuple[datetime, int]:
    due = order.solve_due if order.state_enum is OrderState.PICKED_UP else order.pickup_due_at
    return as_utc(due or order.pickup_due_at), order.id


def history(session: Session, person: Person, number: str) -> tuple[WorkOrder, list[OrderEvent]]:
    """诉求 <单号>: the order and its events, for those allowed to see it (others get NotFound)."""
    order = get_order(session, number)
    events = list(
        session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))
    )
    if not _may_see(session, person, order, events):
        raise NotFound(f"没有找到单号为 {order.number} 的诉求，请核对单号。")  # no hint that it exists
    return order, events


def _may_see(session: Session, person: Person, order: WorkOrder, events: list[OrderEvent]) -> bool:
    if person.role_enum in (Role.LEADER, Role.ADMIN) or is_coordinator(person):
        return True
    if person.role_enum is Role.OFFICIAL:
        return person.department_id in {e.department_id for e in events}  # any department that held it
    return order.enterprise_id in {e.id for e in bound_enterprises(session, person)}


def find_department(session: Session, text: str) -> Department:
    """A department by code, full name, or a unique part of its name (「自然资源」 → 县自然资源局)."""
    raw = unicodedata.normalize("NFKC", text).strip()
    if not raw:
        raise Invalid("请写明部门名称，例如：县自然资源局。")
    exact = session.scalar(
        select(Department).where(or_(Department.code == raw.upper(), Department.name == raw))
    )
    if exact is not None:
        return exact
    like = list(
        session.scalars(select(Department).where(Department.name.contains(raw, autoescape=True)).limit(6))
    )
    if len(like) == 1:
        return like[0]
    if not like:
        raise Invalid(f"没有找到部门「{raw}」，请发送部门全称，例如：县自然资源局。")
    raise Invalid(f"「{raw}」对应多个部门：{'、'.join(d.name for d in like[:5])}，请发送全称。")
