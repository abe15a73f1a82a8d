"""A small county for the work-order services: a 包联部门, a 职能部门, an office, people, enterprises."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from bot.models import BindingStatus, Department, DepartmentKind, Enterprise, EnterpriseMember, Person, Role
from handlers.complaints.models import RoutingRule
from tests import builders
from tests.conftest import T0


@dataclass
class County:
    """The cast of the work-order tests."""

    gxj: Department  # 县工信局, the enterprise's 包联部门
    zrzyj: Department  # 县自然资源局, owns 用地
    yshj: Department  # 县营商环境服务中心, coordinates 退回
    gxj_zhou: Person  # head of 县工信局
    gxj_wu: Person
    zrzyj_ma: Person
    yshj_li: Person  # coordinator
    leader: Person
    admin: Person
    boss: Person  # the enterprise's confirmed contact
    colleague: Person  # another confirmed contact of the same enterprise
    stranger: Person  # contact of another enterprise
    unbound: Person  # binding still pending
    firm: Enterprise
    other_firm: Enterprise


def bind(session: Session, person: Person, firm: Enterprise, status: BindingStatus) -> None:
    """A binding in the given status."""
    session.add(EnterpriseMember(person=person, enterprise=firm, status=status.value, requested_at=T0))
    session.flush()


@pytest.fixture
def county(session: Session) -> County:
    """The county, committed."""
    gxj = builders.department(session, "县工信局", "GXJ")
    zrzyj = builders.department(session, "县自然资源局", "ZRZYJ", kind=DepartmentKind.FUNCTIONAL.value)
    yshj = builders.department(session, "县营商环境服务中心", "YSHJ", kind=DepartmentKind.OFFICE.value)
    people = {
        "gxj_zhou": builders.person(
            session, "gxj_zhou", Role.OFFICIAL, "周海涛", department=gxj, is_head=True
        ),
        "gxj_wu": builders.person(session, "gxj_wu", Role.OFFICIAL, "吴晓燕", department=gxj),
        "zrzyj_ma": builders.person(session, "zrzyj_ma", Role.OFFICIAL, "马建国", department=zrzyj),
        "yshj_li": builders.person(session, "yshj_li", Role.OFFICIAL, "李明", department=yshj),
        "leader": builders.person(session, "leader_wang", Role.LEADER, "王书记"),
        "admin": builders.person(session, "admin", Role.ADMIN, "孙丽"),
        "boss": builders.person(session, "zhang_wei", Role.ENTERPRISE, "张伟"),
        "colleague": builders.person(session, "wang_fang", Role.ENTERPRISE, "王芳"),
        "stranger": builders.person(session, "li_na", Role.ENTERPRISE, "李娜"),
        "unbound": builders.person(session, "zhou_min", Role.ENTERPRISE, "周敏"),
    }
    firm = builders.enterprise(session, "示范县鑫源食品有限公司", gxj)
    other_firm = builders.enterprise(session, "示范县宏达机械有限公司", gxj)
    bind(session, people["boss"], firm, BindingStatus.CONFIRMED)
    bind(session, people["colleague"], firm, BindingStatus.CONFIRMED)
    bind(session, people["stranger"], other_firm, BindingStatus.CONFIRMED)
    bind(session, people["unbound"], firm, BindingStatus.PENDING)
    session.add(RoutingRule(category="用地", department=zrzyj))
    session.commit()
    return County(gxj=gxj, zrzyj=zrzyj, yshj=yshj, firm=firm, other_firm=other_firm, **people)
