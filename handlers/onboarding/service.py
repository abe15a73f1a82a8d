"""Binding a person to his enterprise: requested in chat, confirmed by the 包联部门 or an admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.errors import Conflict, Invalid, NotAllowed, NotFound
from bot.models import BindingStatus, Enterprise, EnterpriseMember, Person, Role
from bot.uscc import validate_uscc

MAX_NAME = 20


@dataclass(frozen=True)
class BindingRequest:
    """A new or renewed request, and who should confirm it."""

    member: EnterpriseMember
    approvers: list[Person]


def parse_bind_args(args: str) -> tuple[str, str | None]:
    """「绑定 <统一社会信用代码> [姓名]」 → (code, name)."""
    parts = args.split()
    name = " ".join(parts[1:]).strip() or None
    return parts[0], check_name(name) if name else None


def check_name(text: str) -> str:
    """A person's name as typed: not empty, not too long."""
    name = text.strip()
    if not name:
        raise Invalid("请发送您的姓名。")
    if len(name) > MAX_NAME:
        raise Invalid(f"姓名太长了（最多{MAX_NAME}个字），请重新发送。")
    return name


def check_code(session: Session, text: str) -> str:
    """A valid 统一社会信用代码 of a registered enterprise (the guided 绑定's first step)."""
    return _enterprise_by_code(session, validate_uscc(text)).uscc


def request_binding(
    session: Session, *, userid: str, person: Person | None, code: str, name: str | None, now: datetime
) -> BindingRequest:
    """Record (or renew) a binding request; creates the person as an enterprise contact if new."""
    if person is not None and person.role_enum is not Role.ENTERPRISE:
        raise NotAllowed("您是政府工作人员账号，无需绑定企业。")
    enterprise = _enterprise_by_code(session, validate_uscc(code))
    person = person or _new_contact(session, userid, name, now)
    member = _membership(session, person, enterprise)
    if member is None:
        member = EnterpriseMember(person=person, enterprise=enterprise, requested_at=now)
        session.add(member)
    elif member.status == BindingStatus.CONFIRMED.value:
        raise Conflict(f"您已绑定「{enterprise.name}」，无需重复绑定。")
    elif member.status == BindingStatus.PENDING.value:
        raise Conflict(f"您绑定「{enterprise.name}」的申请（编号 B{member.id}）正在等待确认，请耐心等候。")
    else:
        member.status, member.requested_at, member.decided_at = BindingStatus.PENDING.value, now, None
    session.flush()
    return BindingRequest(member, approvers_of(session, enterprise))


def _enterprise_by_code(session: Session, uscc: str) -> Enterprise:
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
    if enterprise is None:
        raise NotFound(f"没有找到统一社会信用代码为 {uscc} 的企业。请核对，或联系您的包联部门登记企业信息。")
    return enterprise


def _new_contact(session: Session, userid: str, name: str | None, now: datetime) -> Person:
    if session.scalar(select(Person.id).where(Person.wecom_userid == userid)) is not None:
        raise NotAllowed("您的账号已停用，请联系管理员。")  # known but inactive: not a new contact
    person = Person(wecom_userid=userid, name=name or userid, role=Role.ENTERPRISE.value, created_at=now)
    session.add(person)
    session.flush()
    audit.record(
        session, at=now, actor=person, channel="wecom", action="person.self_register",
        entity="person", entity_id=person.id, data={"role": Role.ENTERPRISE.value},
    )  # fmt: skip
    return person


def _membership(session: Session, person: Person, enterprise: Enterprise) -> EnterpriseMember | None:
    if person.id is None:
        return None
    query = select(EnterpriseMember).where(
        EnterpriseMember.person_id == person.id, EnterpriseMember.enterprise_id == enterprise.id
    )
    return session.scalar(query)


def approvers_of(session: Session, enterprise: Enterprise) -> list[Person]:
    """The officials of the enterprise's 包联部门; the admins when it has none."""
    if enterprise.contact_department_id is not None:
        officials = list(
            session.scalars(
                select(Person).where(
                    Person.department_id == enterprise.contact_department_id,
                    Person.role == Role.OFFICIAL.value,
                    Person.active.is_(True),
                )
            )
        )
        if officials:
            return officials
    return list(
        session.scalars(select(Person).where(Person.role == Role.ADMIN.value, Person.active.is_(True)))
    )


def can_decide(person: Person, enterprise: Enterprise) -> bool:
    """Admins, and officials of the enterprise's 包联部门, confirm bindings."""
    if person.role_enum is Role.ADMIN:
        return True
    contact = enterprise.contact_department_id
    return person.role_enum is Role.OFFICIAL and contact is not None and person.department_id == contact


def decide_binding(
    session: Session, *, member_id: int, approver: Person, approve: bool, now: datetime
) -> EnterpriseMember:
    """Confirm or reject a pending request; a second decision is refused (stale card)."""
    # Lock the row: two approvers clicking at once on PostgreSQL must not both decide.
    member = session.get(EnterpriseMember, member_id, with_for_update=True)
    if member is None:
        raise NotFound(f"没有编号为 B{member_id} 的绑定申请。")
    if not can_decide(approver, member.enterprise):
        raise NotAllowed("只有该企业的包联部门干部或管理员可以确认绑定。")
    if member.status != BindingStatus.PENDING.value:
        decided = "同意" if member.status == BindingStatus.CONFIRMED.value else "拒绝"
        raise Conflict(f"绑定申请 B{member.id} 已被处理（{decided}），无需重复操作。")
    member.status = (BindingStatus.CONFIRMED if approve else BindingStatus.REJECTED).value
    member.decided_at, member.decided_by_id = now, approver.id
    session.flush()
    return member


def pending_for(session: Session, approver: Person) -> list[EnterpriseMember]:
    """The pending requests this person may decide."""
    query = select(EnterpriseMember).where(EnterpriseMember.status == BindingStatus.PENDING.value)
    if approver.role_enum is not Role.ADMIN:
        if approver.department_id is None:
            return []
        query = query.join(Enterprise).where(Enterprise.contact_department_id == approver.department_id)
    return list(session.scalars(query.order_by(EnterpriseMember.id)))


def parse_member_id(text: str) -> int:
    """「B12」 or 「12」 → 12."""
    raw = text.strip().upper().removeprefix("B")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):  # a typo must not overflow the column
        raise Invalid(f"「{text.strip() or '（空）'}」不是绑定申请编号，编号形如 B12。")
    return int(raw)
