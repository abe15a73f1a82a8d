"""Finding projects by what people type, and who may speak for one."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from bot.directory import leaders_for, people_with_role
from bot.errors import Invalid, NotAllowed, NotFound
from bot.models import Oversight, Person, Role
from handlers.projects.models import Project, ProjectMember

MAX_LISTED = 6


def find_project(session: Session, token: str) -> Project:
    """The active project whose code is `token` (any case), or the one whose name contains it."""
    token = token.strip()
    if not token:
        raise Invalid("请写项目编号或项目名称中的关键字。")
    by_code = session.scalar(select(Project).where(func.upper(Project.code) == token.upper()))
    if by_code is not None and by_code.active:
        return by_code
    query = select(Project).where(Project.active.is_(True), Project.name.contains(token, autoescape=True))
    found = list(session.scalars(query.order_by(Project.code).limit(MAX_LISTED + 1)))
    if not found:
        raise NotFound(f"没有找到项目「{token}」，请发送「我的项目」查看编号。")
    if len(found) > 1:
        listed = "\n".join(f"· {p.code} {p.name}" for p in found[:MAX_LISTED])
        more = "\n……" if len(found) > MAX_LISTED else ""
        raise Invalid(f"「{token}」对应多个项目，请写项目编号：\n{listed}{more}")
    return found[0]


def projects_of(session: Session, person: Person) -> list[Project]:
    """The active projects whose task force the person is in, by code."""
    query = (
        select(Project)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(ProjectMember.person_id == person.id, Project.active.is_(True))
    )
    return list(session.scalars(query.order_by(Project.code)))


def projects_led_by(session: Session, leader: Person) -> list[Project]:
    """The active projects a county leader is in charge of (包抓), by code."""
    query = select(Project).where(Project.leader_id == leader.id, Project.active.is_(True))
    return list(session.scalars(query.order_by(Project.code)))


def visible_projects(session: Session, person: Person) -> list[Project]:
    """What a person may look at: his task forces, his department's, a leader's, or all for admins.

    A leader sees the projects he 包抓s and those he stands in for (project_leaders): projects
    without an active 包抓县领导 in the departments he oversees, or in departments nobody oversees.
    """
    if person.role_enum is Role.ADMIN:
        return list(session.scalars(select(Project).where(Project.active.is_(True)).order_by(Project.code)))
    conditions: list[ColumnElement[bool]] = [
        Project.id.in_(select(ProjectMember.project_id).where(ProjectMember.person_id == person.id))
    ]
    if person.role_enum is Role.LEADER:
        conditions += [Project.leader_id == person.id, _stood_in_for(person)]
    if person.department_id is not None and person.is_head:
        conditions.append(Project.department_id == person.department_id)
    query = select(Project).where(Project.active.is_(True), or_(*conditions))
    return list(session.scalars(query.order_by(Project.code)))


def _stood_in_for(leader: Person) -> ColumnElement[bool]:
    """Projects without an active 包抓县领导 whose alerts go to `leader` (as project_leaders finds them)."""
    inactive = select(Person.id).where(Person.active.is_(False))
    leaderless = or_(Project.leader_id.is_(None), Project.leader_id.in_(inactive))
    mine = select(Oversight.department_id).where(Oversight.leader_id == leader.id)
    overseen = (
        select(Oversight.department_id)
        .join(Person, Person.id == Oversight.leader_id)
        .where(Person.role == Role.LEADER.value, Person.active.is_(True))
    )
    return leaderless & or_(Project.department_id.in_(mine), Project.department_id.not_in(overseen))


def project_leaders(session: Session, project: Project) -> list[Person]:
    """The project's 包抓县领导, or the leaders overseeing its department when it has none."""
    if project.leader is not None and project.leader.active:
        return [project.leader]
    return leaders_for(session, project.department_id)


class CountyLeaders:
    """project_leaders for many projects at once: the leaders and their 分管 read in two queries."""

    def __init__(self, session: Session) -> None:
        self.everyone = people_with_role(session, Role.LEADER)  # active, by id (as leaders_for)
        by_id = {p.id: p for p in self.everyone}
        self.overseers: dict[int, list[Person]] = defaultdict(list)
        query = select(Oversight.leader_id, Oversight.department_id).order_by(Oversight.leader_id)
        for leader_id, department_id in session.execute(query):
            if leader_id in by_id:
                self.overseers[department_id].append(by_id[leader_id])

    def of(self, project: Project) -> list[Person]:
        """The same people as project_leaders(session, project), without a query."""
        if project.leader is not None and project.leader.active:
            return [project.leader]
        return self.overseers.get(project.department_id) or self.everyone


def is_member(project: Project, person: Person) -> bool:
    """Whether the person is in the project's task force (专班)."""
    return any(m.person_id == person.id for m in project.members)


def require_reporter(project: Project, person: Person) -> None:
    """Only the task force, or the head of the responsible department, reports a project."""
    if is_member(project, person):
        return
    if person.is_head and person.department_id == project.department_id:
        return
    leads = "、".join(p.name for p in project.leads) or "（未指定）"
    raise NotAllowed(
        f"项目 {project.code} {project.name} 由{project.department.name}负责（责任人：{leads}），"
        "您不在该项目专班，不能报送它的进展。"
    )
