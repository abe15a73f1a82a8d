"""`ztc import projects FILE`: the key-project register (建账) from CSV or XLSX.

The file follows the rules of every import (bot.importing): the first non-blank row is the header
(Chinese or English), every row is validated before anything is written and ImportFailed lists
every problem by spreadsheet line, rows are upserted by 项目编号, an absent column leaves stored
values alone, and each created or changed project writes one audit event (channel "cli").

Departments, leaders, officials and enterprises must already be imported: they are named by
code, userid or (unique) name. 专班成员 and 工期节点 replace the project's whole task force or
schedule when their column is present; a 责任人 missing from 专班成员 is added to it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.clock import Clock, local
from bot.errors import Invalid
from bot.importing import Column, ImportReport, RowError, Table, read_table
from bot.importing.columns import _Departments, _parse_rows, _Record, _text
from bot.importing.writing import Link, _Target, _write
from bot.models import Enterprise, Person, Role
from handlers.projects.models import STAGE_LABELS, Milestone, Project, ProjectMember, Stage
from handlers.projects.parsing import format_wan, parse_amount

PROJECT_COLUMNS = (
    Column("code", "项目编号", ("项目编号", "编号", "项目代码", "code"), required=True),
    Column("name", "项目名称", ("项目名称", "名称", "name"), required=True),
    Column("department", "责任单位", ("责任单位", "责任部门", "牵头单位", "department"), required=True),
    Column("leader", "包抓县领导", ("包抓县领导", "包抓领导", "县级领导", "包抓县级领导", "leader")),
    Column("enterprise", "业主单位", ("业主单位", "项目业主", "建设单位", "enterprise")),
    Column("members", "专班成员", ("专班成员", "工作专班", "专班", "members")),
    Column("leads", "责任人", ("责任人", "项目责任人", "leads")),
    Column("stage", "阶段", ("阶段", "项目阶段", "建设阶段", "stage")),
    Column("total_investment_yuan", "总投资", ("总投资", "总投资(万元)", "total")),
    Column(
        "annual_plan_yuan",
        "年度计划投资",
        ("年度计划投资", "年度计划投资(万元)", "年度计划", "annual_plan"),
    ),
    Column("plan_year", "计划年度", ("计划年度", "年度", "plan_year")),
    Column(
        "invested_before_yuan",
        "本年已完成投资",
        ("本年已完成投资", "本年已完成投资(万元)", "年度已完成投资", "已完成投资", "invested_before"),
    ),
    Column("starts_on", "开工日期", ("开工日期", "开工时间", "计划开工", "starts_on")),
    Column("due_on", "计划竣工", ("计划竣工", "计划竣工日期", "竣工日期", "计划竣工时间", "due_on")),
    Column("milestones", "工期节点", ("工期节点", "倒排工期", "节点", "milestones")),
)
LABELS = {c.attr: c.label for c in PROJECT_COLUMNS}
PROJECTS = _Target("projects", Project, "project", "code")

STAGE_WORDS = {
    Stage.PLANNING: ("谋划", "储备", "planning"),
    Stage.SIGNED: ("签约", "signed"),
    Stage.STARTED: ("开工", "新开工", "started"),
    Stage.BUILDING: ("在建", "续建", "building"),
    Stage.COMPLETED: ("竣工", "completed"),
    Stage.OPERATING: ("投产", "operating"),
}
_STAGES = {word: stage for stage, words in STAGE_WORDS.items() for word in words}
STAGE_HELP = "、".join(STAGE_LABELS.values())
NAME_SEPARATORS = re.compile(r"[、,，\s]+")  # 「fgj_liu、陈国强, 马超」
NODE_SEPARATORS = re.compile(r"[;\n\r]+")  # full-width ； is folded to ; first
_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
)
_YEAR = re.compile(r"(\d{4})\s*年?(?:度)?")
_NODE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?(.*)", re.DOTALL)
_CUMULATIVE = re.compile(r"[\s,，]*累计(?:计划)?(?:完成)?(?:投资)?\s*[:：]?\s*([0-9][0-9,.]*\s*\S*)\s*$")
EXCEL_EPOCH = date(1899, 12, 30)  # day 0 of Excel's serial dates (1900 system, leap-year bug included)
NODE_EXAMPLE = "2026-03 土地摘牌 累计3000万"


def _norm(raw: str) -> str:
    """Full-width to half-width, trimmed: what people paste from Word and WPS varies."""
    return unicodedata.normalize("NFKC", raw).strip()


# ---------------------------------------------------------------------------------------------
# Cells


def parse_code(raw: str) -> str:
    """A 项目编号: one word (chat commands take it as their first word), folded to upper case."""
    code = _norm(raw).upper()
    if re.search(r"\s", code):
        raise Invalid(f"「{raw}」含有空格：项目编号须是一个词，如 XM2026-001")
    if len(code) > 32:
        raise Invalid(f"「{raw}」超过32个字符")
    return code


def parse_stage(raw: str) -> str:
    """谋划/签约/开工/在建/竣工/投产 (or the English values); empty means 谋划."""
    if not raw:
        return Stage.PLANNING.value
    stage = _STAGES.get(_norm(raw).lower())
    if stage is None:
        raise Invalid(f"「{raw}」不是项目阶段，可填：{STAGE_HELP}")
    return stage.value


def parse_yuan(raw: str) -> int:
    """An amount in 万 (default), 亿 or 元, as whole 元; empty means 0."""
    return parse_amount(raw) if raw else 0


def parse_date(raw: str) -> date | None:
    """2026-03-01, 2026/3/1, 2026.3.1, 2026年3月1日, or an Excel serial day number; empty → None."""
    text = _norm(raw)
    if not text:
        return None
    if text.isdigit() and 20_000 <= int(text) <= 80_000:  # a date cell saved as its number (1954–2119)
        return EXCEL_EPOCH + timedelta(days=int(text))
    match = _DATE.fullmatch(text)
    try:
        if match:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        pass  # 2026-02-30: reported below like any other bad date
    raise Invalid(f"「{raw}」不是有效日期，请写成 2026-03-01、2026/3/1 或 2026年3月1日")


def year_parser(default: int) -> Callable[[str], int]:
    """A parser for 计划年度: 2026 or 2026年; empty means `default` (this year)."""

    def parse(raw: str) -> int:
        match = _YEAR.fullmatch(_norm(raw))
        if not raw:
            return default
        if not match or not 2000 <= int(match.group(1)) <= 2100:
            raise Invalid(f"「{raw}」不是年度，请填四位年份，如 {default}")
        return int(match.group(1))

    return parse


@dataclass(frozen=True)
class Node:
    """One 倒排工期 node as typed: the month, the task, the cumulative investment planned by its end."""

    month: date
    task: str
    cumulative_yuan: int | None = None

    def __str__(self) -> str:
        planned = f" 累计{format_wan(self.cumulative_yuan)}" if self.cumulative_yuan is not None else ""
        return f"{self.month:%Y-%m} {self.task}{planned}"


def parse_milestones(raw: str) -> tuple[Node, ...]:
    """「2026-03 土地摘牌；2026-06 主体开工 累计3000万」 → nodes in month order; empty → none."""
    parts = [p.strip() for p in NODE_SEPARATORS.split(_norm(raw)) if p.strip()]
    nodes = [parse_node(part) for part in parts]
    return tuple(sorted(nodes, key=lambda n: n.month))


def parse_node(text: str) -> Node:
    """One node: a month, a task, and optionally 累计<amount>."""
    match = _NODE.fullmatch(text)
    if not match:
        raise Invalid(f"节点「{text}」应以年月开头，如「{NODE_EXAMPLE}」")
    year, month, rest = int(match.group(1)), int(match.group(2)), match.group(3).strip()
    if not 1 <= month <= 12:
        raise Invalid(f"节点「{text}」的月份「{month}」不对")
    if re.match(r"[-/.]\d|\d{1,2}日", rest):  # 倒排工期 is by month: a day would be silently lost
        raise Invalid(f"节点「{text}」请只写年月，不写日，如「{NODE_EXAMPLE}」")
    planned = _CUMULATIVE.search(rest)
    task = (rest[: planned.start()] if planned else rest).strip(" ,，:：")
    if not task:
        raise Invalid(f"节点「{text}」缺少工作内容，如「{NODE_EXAMPLE}」")
    if len(task) > 200:
        raise Invalid(f"节点「{text[:20]}…」的工作内容超过200字")
    try:
        cumulative = parse_amount(planned.group(1)) if planned else None
    except Invalid as exc:
        raise Invalid(f"节点「{text}」：{exc.message}") from None
    return Node(date(year, month, 1), task, cumulative)


class _People:
    """People already imported, found by userid or by a name only one person of the role has."""

    def __init__(self, session: Session) -> None:
        people = [p for p in session.scalars(select(Person)) if not p.erased]
        self.by_userid = {p.wecom_userid: p for p in people}
        self.by_name: dict[str, list[Person]] = {}
        for person in people:
            self.by_name.setdefault(person.name, []).append(person)

    def leader(self, raw: str) -> Person | None:
        """The 包抓县领导 a cell names (empty → None)."""
        return self.find(raw, Role.LEADER) if raw else None

    def officials(self, raw: str) -> tuple[Person, ...]:
        """The officials a cell lists, separated by 、, commas or spaces (repeats count once)."""
        found = [self.find(word, Role.OFFICIAL) for word in NAME_SEPARATORS.split(_norm(raw)) if word]
        return tuple({p.id: p for p in found}.values())

    def find(self, raw: str, role: Role) -> Person:
        """One person of `role` by userid or unique name; anyone else is refused by name."""
        person = self.by_userid.get(raw) or self._by_name(raw, role)
        if person.role_enum is not role:
            raise Invalid(f"「{raw}」（{person.name}）不是{role.label}（身份：{person.role_enum.label}）")
        if not person.active:
            raise Invalid(f"「{raw}」（{person.name}）已停用")
        return person

    def _by_name(self, raw: str, role: Role) -> Person:
        named = self.by_name.get(raw, [])
        if not named:
            raise Invalid(f"找不到{role.label}「{raw}」：请填账号或姓名，新人员请先导入人员表")
        of_role = [p for p in named if p.role_enum is role] or named
        if len(of_role) > 1:
            userids = "、".join(sorted(p.wecom_userid for p in of_role))
            raise Invalid(f"有{len(of_role)}人名叫「{raw}」，请改填账号：{userids}")
        return of_role[0]


class _Enterprises:
    """Enterprises already imported, by 统一社会信用代码 or exact name."""

    def __init__(self, session: Session) -> None:
        enterprises = list(session.scalars(select(Enterprise)))
        self.by_uscc = {e.uscc: e for e in enterprises}
        self.by_name: dict[str, list[Enterprise]] = {}
        for enterprise in enterprises:
            self.by_name.setdefault(enterprise.name, []).append(enterprise)

    def find(self, raw: str) -> Enterprise | None:
        """The 业主单位 a cell names (empty → None)."""
        if not raw:
            return None
        found = self.by_uscc.get(_norm(raw).upper())
        named = self.by_name.get(raw, [])
        if found is None and len(named) > 1:
            raise Invalid(f"有{len(named)}家企业名为「{raw}」，请改填统一社会信用代码")
        if found is None and not named:
            raise Invalid(f"找不到企业「{raw}」：请填统一社会信用代码或企业全称，新企业请先导入企业表")
        return found or named[0]


# ---------------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True)
class TaskForce:
    """The file's 专班成员 and 责任人 (None: the column is absent, the stored value stays)."""

    members: tuple[Person, ...] | None
    leads: tuple[Person, ...] | None

    def resolve(self, project: Project) -> dict[int, tuple[Person, bool]]:
        """Everyone in the task force after the import, by person id, with whether he is a 责任人."""
        base = list(self.members) if self.members is not None else [m.person for m in project.members]
        base_ids = {p.id for p in base}
        if self.leads is not None:
            leads = list(self.leads)
        else:  # the stored 责任人 who are still members
            leads = [m.person for m in project.members if m.is_lead and m.person_id in base_ids]
        lead_ids = {p.id for p in leads}
        chosen = {p.id: p for p in (*base, *leads)}  # a 责任人 not among the members joins them
        return {pid: (person, pid in lead_ids) for pid, person in chosen.items()}


def import_projects(
    session: Session, table: Table, *, clock: Clock, actor: Person | None = None
) -> ImportReport:
    """Upsert projects by 项目编号; people, departments and enterprises must exist already."""
    this_year = local(clock.now()).year
    people, enterprises = _People(session), _Enterprises(session)
    parsers = _parsers(_Departments(session), people, enterprises, this_year)
    records, errors = _parse_rows(table, PROJECT_COLUMNS, parsers, unique=("code",))
    existing = _stored_projects(session)
    for record in records:
        if record.ok:
            current = existing.get(record.values["code"])
            if current is None:
                record.values.setdefault("plan_year", this_year)
            _new_year_starts_afresh(record, current)
            errors += _project_rules(record, current)
            _join_task_force(record)
    return _write(session, PROJECTS, records, existing, errors, clock=clock, actor=actor, links=LINKS)


def import_projects_file(
    session: Session, path: Path, *, clock: Clock, actor: Person | None = None
) -> ImportReport:
    """Import a CSV or XLSX project register into the caller's transaction."""
    return import_projects(session, read_table(path), clock=clock, actor=actor)


def _parsers(
    departments: _Departments, people: _People, enterprises: _Enterprises, this_year: int
) -> dict[str, Callable[[str], Any]]:
    """Each column's cell parser."""
    return {
        "code": parse_code,
        "name": _text(200),
        "department": departments.find,
        "leader": people.leader,
        "enterprise": enterprises.find,
        "members": people.officials,
        "leads": people.officials,
        "stage": parse_stage,
        "total_investment_yuan": parse_yuan,
        "annual_plan_yuan": parse_yuan,
        "invested_before_yuan": parse_yuan,
        "plan_year": year_parser(this_year),
        "starts_on": parse_date,
        "due_on": parse_date,
        "milestones": parse_milestones,
    }


def _stored_projects(session: Session) -> dict[str, Project]:
    """Every stored project by code, with its task force and schedule loaded (compared below)."""
    query = select(Project).options(
        selectinload(Project.members).selectinload(ProjectMember.person), selectinload(Project.milestones)
    )
    return {p.code: p for p in session.scalars(query)}


def _new_year_starts_afresh(record: _Record, current: Project | None) -> None:
    """A new 计划年度 without 本年已完成投资: the stored figure was the old year's, so it becomes 0."""
    year = record.values.get("plan_year")
    if current is not None and year is not None and year != current.plan_year:
        record.values.setdefault("invested_before_yuan", 0)


def _project_rules(record: _Record, current: Project | None) -> list[RowError]:
    """Rules across columns, on the values the project will have after the import."""

    def after(attr: str) -> Any:
        return record.values.get(attr, getattr(current, attr) if current is not None else None)

    starts, due = after("starts_on"), after("due_on")
    total, plan = after("total_investment_yuan"), after("annual_plan_yuan")
    errors = []
    if starts and due and starts > due:
        errors.append(RowError(record.line, LABELS["due_on"], f"「{due}」早于开工日期「{starts}」"))
    if total and plan and plan > total:
        message = f"「{format_wan(plan)}」超过总投资「{format_wan(total)}」"
        errors.append(RowError(record.line, LABELS["annual_plan_yuan"], message))
    return errors + _schedule_rules(record, current, due, total or 0)


def _schedule_rules(record: _Record, current: Project | None, due: date | None, total: int) -> list[RowError]:
    """No node after 计划竣工; cumulative investment never falls and never passes the total."""
    given = "milestones" in record.values
    nodes: Sequence[Node] = record.values["milestones"] if given else _stored_nodes(current)
    field = LABELS["milestones"] if given else LABELS["due_on"]  # blame the column the file gave
    errors = []
    late = [n for n in nodes if due is not None and n.month > due]
    if late:
        errors.append(RowError(record.line, field, f"节点「{late[0]}」在计划竣工日期（{due}）之后"))
    planned = [(n, n.cumulative_yuan) for n in nodes if n.cumulative_yuan is not None]
    for (before, earlier), (node, later) in pairwise(planned):
        if later < earlier:
            message = f"节点「{node}」的累计计划投资少于前一节点「{before}」"
            errors.append(RowError(record.line, LABELS["milestones"], message))
    over = [n for n, cumulative in planned if total and cumulative > total]
    if over:
        message = f"节点「{over[0]}」的累计计划投资超过总投资「{format_wan(total)}」"
        errors.append(RowError(record.line, field, message))
    return errors


def _stored_nodes(project: Project | None) -> list[Node]:
    """A stored project's schedule, as nodes."""
    if project is None:
        return []
    return [Node(m.month, m.task, m.planned_cumulative_yuan) for m in project.milestones]


def _join_task_force(record: _Record) -> None:
    """专班成员 and 责任人 become one value, applied together (the 责任人 are members too)."""
    members, leads = record.values.pop("members", None), record.values.pop("leads", None)
    if members is not None or leads is not None:
        record.values["members"] = TaskForce(members, leads)


# ---------------------------------------------------------------------------------------------
# Writing: values the audit shows by name, kept apart from the row's plain columns


def _field(attr: str, show: Callable[[Any], str]) -> Link:
    """A link that sets one attribute and shows its old and new value as text in the audit."""

    def link(project: Project, new: Any) -> dict[str, Any] | None:
        old = getattr(project, attr)
        if old == new:
            return None
        setattr(project, attr, new)
        return {"from": None if old is None else show(old), "to": None if new is None else show(new)}

    return link


def _replace_task_force(project: Project, team: TaskForce) -> dict[str, Any] | None:
    """Make the 专班 what the file says: drop, flag and add members; the change for the audit."""
    before = _team_shown(project)
    wanted = team.resolve(project)
    rows = {m.person_id: m for m in project.members}
    for member in list(project.members):
        if member.person_id not in wanted:
            project.members.remove(member)  # delete-orphan: the row goes
    for person, is_lead in wanted.values():
        row = rows.get(person.id)
        if row is None:
            project.members.append(ProjectMember(person=person, is_lead=is_lead))
        else:
            row.is_lead = is_lead
    after = _team_shown(project)
    return None if after == before else {"from": before, "to": after}


def _team_shown(project: Project) -> dict[str, list[str]]:
    """The task force as the audit keeps it: userids, sorted."""
    return {
        "members": sorted(m.person.wecom_userid for m in project.members),
        "leads": sorted(m.person.wecom_userid for m in project.members if m.is_lead),
    }


def _replace_milestones(project: Project, nodes: tuple[Node, ...]) -> dict[str, Any] | None:
    """Replace the whole 倒排工期 schedule when it differs; the change for the audit."""
    before = [str(n) for n in _stored_nodes(project)]
    after = [str(n) for n in nodes]
    if before == after:
        return None
    project.milestones.clear()
    for node in nodes:
        project.milestones.append(
            Milestone(month=node.month, task=node.task, planned_cumulative_yuan=node.cumulative_yuan)
        )
    return {"from": before, "to": after}


LINKS: dict[str, Link] = {
    "leader": _field("leader", lambda p: p.wecom_userid),
    "enterprise": _field("enterprise", lambda e: e.uscc),
    "starts_on": _field("starts_on", date.isoformat),
    "due_on": _field("due_on", date.isoformat),
    "members": _replace_task_force,
    "milestones": _replace_milestones,
}
