"""Who is who: the people a feature tells — a department's officials and heads, leaders, contacts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import BindingStatus, EnterpriseMember, Oversight, Person, Role


def officials_of(session: Session, department_id: int) -> list[Person]:
    """The active officials of a department."""
    query = select(Person).where(
        Person.department_id == department_id, Person.role == Role.OFFICIAL.value, Person.active.is_(True)
    )
    return list(session.scalars(query.order_by(Person.id)))


def heads_of(session: Session, department_id: int) -> list[Person]:
    """The active heads (部门负责人) of a department."""
    return [p for p in officials_of(session, department_id) if p.is_head]


def people_with_role(session: Session, *roles: Role) -> list[Person]:
    """Active people with one of these roles."""
    query = select(Person).where(Person.role.in_([r.value for r in roles]), Person.active.is_(True))
    return list(session.scalars(query.order_by(Person.id)))


def overseers(session: Session, department_id: int) -> list[Person]:
    """The active county leaders who oversee (分管) a department."""
    query = (
        select(Person)
        .join(Oversight, Oversight.leader_id == Person.id)
        .where(
            Oversight.department_id == department_id,
            Person.role == Role.LEADER.value,
            Person.active.is_(True),
        )
    )
    return list(session.scalars(query.order_by(Person.id)))


def leaders_for(session: Session, department_id: int) -> list[Person]:
    """The leaders overseeing a department; every active leader when nobody is assigned to it."""
    return overseers(session, department_id) or people_with_role(session, Role.LEADER)


def contacts_of(session: Session, enterprise_id: int) -> list[Person]:
    """The active, confirmed contacts of an enterprise."""
    query = (
        select(Person)
        .join(EnterpriseMember, EnterpriseMember.person_id == Person.id)
        .where(
            EnterpriseMember.enterprise_id == enterprise_id,
            EnterpriseMember.status == BindingStatus.CONFIRMED.value,
            Person.active.is_(True),
        )
    )
    return list(session.scalars(query.order_by(Person.id)))
