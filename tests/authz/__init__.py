"""The authorization matrix's county: one person per role, the objects they act on, and what changed.

Each row of tests/test_authorization.py names a setup (the object in the state its action needs,
made through the services) and an effect (what an allowed action must have changed). A refusal
must change nothing: `snapshot` reads every stored row but the inbound log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import Base
from bot.models import AuditEvent, BindingStatus, DepartmentKind, Enterprise, EnterpriseMember, Person, Role
from handlers.complaints import closing
from handlers.complaints import service as orders
from handlers.complaints.models import OrderEvent, WorkOrder
from handlers.inspections import service as inspections
from handlers.inspections.models import Inspection
from handlers.onboarding.service import request_binding
from handlers.policies import pushes
from handlers.policies.catalog import publish
from handlers.policies.catalog_reading import read_catalog
from handlers.policies.models import PolicyPush
from handlers.policies.profile import set_value
from handlers.projects import supervision, supervision_drafting
from handlers.projects.models import Project, SupervisionCard, WeeklyReport
from handlers.projects.rules import ProjectRules
from tests import builders
from tests.conftest import T0
from tests.policies.samples import HIGH_TECH

# The columns: who acts, relative to the object (the order's, inspection's or push's enterprise).
OWN = "own"  # a confirmed contact of the object's enterprise
OTHER_FIRM = "other_firm"  # a confirmed contact of another enterprise
DEPT = "dept"  # head of the holding / registering / 包联 department (all one here: 县市场监管局)
OTHER_DEPT = "other_dept"  # an official of another department (not enforcement, not an office)
LEADER = "leader"
ADMIN = "admin"
UNKNOWN = "unknown"  # not in the people list
ROLES = (OWN, OTHER_FIRM, DEPT, OTHER_DEPT, LEADER, ADMIN, UNKNOWN)
USERS = {
    OWN: "zhang_wei",
    OTHER_FIRM: "li_na",
    DEPT: "scjg_li",
    OTHER_DEPT: "fgj_zheng",
    LEADER: "leader_wang",
    ADMIN: "admin_sun",
    UNKNOWN: "stranger",
}
FIRM = "示范县鑫源食品有限公司"
POLICY = "XKJ-GQ-2026"  # 免申即享; the firm qualifies
PROJECT = "XM001"  # a key project of the firm's department (县市场监管局); the leader is 包抓
TODAY, LATER, LATEST = date(2026, 11, 24), date(2026, 11, 26), date(2026, 11, 27)  # not quiet days

Values = dict[str, Any]  # a row's placeholders, and "_obj": (model, id) of the object it acts on
Setup = Callable[[Session], Values]
Effect = Callable[[Session, Values], bool]


def build_county(session: Session) -> None:
    """The firm (包联: 县市场监管局, an enforcement department), its contact, the other cast; committed."""
    scjg = builders.department(session, "县市场监管局", "SCJGJ")
    fgj = builders.department(session, "县发改局", "FGJ")
    yjj = builders.department(session, "县应急管理局", "YJJ", kind=DepartmentKind.FUNCTIONAL.value)
    builders.department(session, "县委督查室", "DCS", kind=DepartmentKind.OFFICE.value)  # gets 举报检查
    cast = {
        OWN: builders.person(session, USERS[OWN], Role.ENTERPRISE, "张伟"),
        OTHER_FIRM: builders.person(session, USERS[OTHER_FIRM], Role.ENTERPRISE, "李娜"),
        DEPT: builders.person(session, USERS[DEPT], Role.OFFICIAL, "李局长", department=scjg, is_head=True),
        OTHER_DEPT: builders.person(session, USERS[OTHER_DEPT], Role.OFFICIAL, "郑立新", department=fgj),
        LEADER: builders.person(session, USERS[LEADER], Role.LEADER, "王县长"),
        ADMIN: builders.person(session, USERS[ADMIN], Role.ADMIN, "孙丽"),
    }
    builders.person(session, "scjg_wang", Role.OFFICIAL, "王科员", department=scjg)  # registers, not head
    builders.person(session, "yjj_sun", Role.OFFICIAL, "孙科员", department=yjj)  # the other inspector
    ours = builders.enterprise(session, FIRM, scjg)
    other = builders.enterprise(session, "示范县宏达机械有限公司", fgj)  # no profile: matches no policy
    for contact, enterprise in ((cast[OWN], ours), (cast[OTHER_FIRM], other)):
        status = BindingStatus.CONFIRMED.value
        session.add(EnterpriseMember(person=contact, enterprise=enterprise, status=status, requested_at=T0))
    profile = {"certifications": "高新技术企业", "industry": "C3911", "revenue_wan": "2500万"}
    for attribute, raw in profile.items():
        set_value(session, ours, attribute, raw, source="import", by=None, now=T0)
    publish(session, read_catalog(HIGH_TECH), now=T0, actor=None, source="test.yaml")
    lead = person(session, "scjg_wang")  # the 责任人; the department's head (DEPT) may report too
    builders.project(session, PROJECT, "城南产业园标准厂房", scjg, leads=(lead,), leader=cast[LEADER])
    session.commit()


def person(session: Session, userid: str) -> Person:
    return session.scalars(select(Person).where(Person.wecom_userid == userid)).one()


def firm(session: Session) -> Enterprise:
    return session.scalars(select(Enterprise).where(Enterprise.name == FIRM)).one()


def base_values(session: Session) -> Values:
    """The placeholders every row may use."""
    f = firm(session)
    return {"firm": f.name, "firm_id": f.id, "uscc": f.uscc, "code": POLICY}


# --- setups: the object each action needs, in the state it needs, made through the services -----


def nothing(session: Session) -> Values:
    return {}


def _order(order: WorkOrder) -> Values:
    return {"order": order.number, "v": order.version, "_obj": (WorkOrder, order.id)}


def dispatched(session: Session) -> Values:
    """The firm's order, waiting for its 包联部门 to pick it up."""
    own = person(session, USERS[OWN])
    return _order(orders.file_order(session, own, "厂区门前道路破损，货车进出困难", "其他", "普通", T0).order)


def picked_up(session: Session) -> Values:
    number = dispatched(session)["order"]
    return _order(orders.pick_up(session, person(session, USERS[DEPT]), number, T0).order)


def extension_asked(session: Session) -> Values:
    number, dept, until = picked_up(session)["order"], person(session, USERS[DEPT]), T0 + timedelta(days=3)
    return _order(closing.request_extension(session, dept, number, until, "等待省厅批复", T0).order)


def resolved(session: Session) -> Values:
    number = picked_up(session)["order"]
    return _order(closing.resolve(session, person(session, USERS[DEPT]), number, "已修复", T0).order)


def returned(session: Session) -> Values:
    number, dept = dispatched(session)["order"], person(session, USERS[DEPT])
    return _order(orders.send_back(session, dept, number, "非本部门职责", "", T0).order)


def _inspection(session: Session, userid: str, day: date) -> Inspection:
    official = person(session, userid)
    return inspections.register(session, official, firm(session), day, "市场监管", "抽检", T0).inspection


def _insp(inspection: Inspection) -> Values:
    return {"insp": inspection.number, "_obj": (Inspection, inspection.id)}


def pending_inspection(session: Session) -> Values:
    """Registered by an official of the firm's department; its head must approve."""
    return _insp(_inspection(session, "scjg_wang", LATER))


def approved_inspection(session: Session) -> Values:
    """Registered (so approved at once) by the head, for today: it can be rated and its result recorded."""
    return _insp(_inspection(session, USERS[DEPT], TODAY))


def joint_inspections(session: Session) -> Values:
    """Two departments plan the firm: ours on the 27th may join the other's visit on the 26th."""
    _inspection(session, "yjj_sun", LATER)
    return {**_insp(_inspection(session, "scjg_wang", LATEST)), "day": f"{LATER:%Y%m%d}"}


def pushed(session: Session) -> Values:
    """The 免申即享 policy pushed to the firm."""
    pushes.push_policies(session, pushes.automatic_in_force(session, T0), T0)
    push = session.scalars(select(PolicyPush)).one()
    return {"push": push.id, "_obj": (PolicyPush, push.id)}


def confirmed_push(session: Session) -> Values:
    values = pushed(session)
    pushes.answer_push(session, person(session, USERS[OWN]), values["push"], True, T0)
    return values


def pending_binding(session: Session) -> Values:
    """A newcomer asks to speak for the firm."""
    uscc = firm(session).uscc
    member = request_binding(session, userid="zhou_min", person=None, code=uscc, name="周敏", now=T0).member
    return {"member": member.id, "_obj": (EnterpriseMember, member.id)}


def _card(card: SupervisionCard) -> Values:
    return {"card": card.number, "v": card.version, "_obj": (SupervisionCard, card.id)}


def drafted_card(session: Session) -> Values:
    """XM001 reported 黄 two weeks running: a 督办卡 awaits the leader's 签发 (to 县市场监管局)."""
    project = session.scalars(select(Project).where(Project.code == PROJECT)).one()
    lead = person(session, "scjg_wang")
    for week in (date(2026, 11, 9), date(2026, 11, 16)):
        report = WeeklyReport(project=project, week=week, colour="yellow", invested_yuan=0, progress="停工",
                              reporter=lead, channel="wecom", reported_at=T0)  # fmt: skip
        session.add(report)
    session.flush()
    [card] = supervision_drafting.draft_for_week(session, date(2026, 11, 16), ProjectRules(), T0)
    return _card(card)


def issued_card(session: Session) -> Values:
    number = drafted_card(session)["card"]
    return _card(supervision.issue(session, person(session, USERS[LEADER]), number, T0))


def answered_card(session: Session) -> Values:
    number = issued_card(session)["card"]
    return _card(supervision.answer(session, person(session, "scjg_wang"), number, "已复工", T0))


# --- effects: what an allowed action must have changed -------------------------------------------


def becomes(check: Callable[[Any], bool]) -> Effect:
    """The row's object, read afresh, passes `check`."""

    def effect(session: Session, values: Values) -> bool:
        model, ident = values["_obj"]
        return check(session.get_one(model, ident))

    return effect


def adds(model: type[Base], **where: Any) -> Effect:
    """One new row of `model` (matching `where`) where there was none."""

    def effect(session: Session, values: Values) -> bool:
        query = select(func.count()).select_from(model).filter_by(**where)
        return session.scalar(query) == 1

    return effect


def event(action: str) -> Effect:
    """The order's register gained an event of this action."""

    def effect(session: Session, values: Values) -> bool:
        _, ident = values["_obj"]
        query = select(OrderEvent.action).where(OrderEvent.order_id == ident)
        return action in session.scalars(query).all()

    return effect


# --- what is stored -----------------------------------------------------------------------------

IGNORED = {"inbound_messages", "policy_answers"}  # every message is logged; 政策 logs each answer


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row but the inbound log, table by table."""
    tables = [t for t in Base.metadata.sorted_tables if t.name not in IGNORED]
    return {
        t.name: [tuple(r) for r in session.execute(select(t).order_by(*t.primary_key.columns))]
        for t in tables
    }


def audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0
