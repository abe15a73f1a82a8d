"""What the weekly and monthly clocks send: prompts, reminders, the late list to leaders.

Every message has an idempotency key naming its period, project and person, so the sweep can
run as often as it likes (every 5 minutes) and after an outage: each step is sent once, and a
step whose window has passed is not sent late (a prompt after the deadline would confuse).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.clock import as_utc, fmt_local
from bot.models import Person, Role
from bot.replies import Button, GroupText, Reply, TemplateCard, Text
from bot.wecom.outbound import APP_TEXT_BYTES, GROUP_MARKDOWN_BYTES
from handlers.projects import reports
from handlers.projects.cycle import Cycle, applies_to, current_cycles
from handlers.projects.models import COLOUR_MEANINGS, TRACKED_STAGES, Colour, Project, ProjectMember
from handlers.projects.registry import CountyLeaders
from handlers.projects.rules import ProjectRules

ESCALATION_WINDOW = timedelta(days=1)
APP_NAME = "政企直通车"  # the self-built app, as officials find it in WeCom (cf. bot.intake.CARDS_IN_APP)
ANSWER_FORM = "进展 编号 颜色 完成投资 形象进度:… 问题:…"
PART_MARK_BYTES = len("（999/999）".encode())  # room kept in each part for its 「（2/3）」
T = TypeVar("T")


@dataclass(frozen=True)
class Outgoing:
    """One message to a person (userid) or a group (GroupText), once per key."""

    recipient: str
    reply: Reply
    key: str


def tracked_projects(session: Session) -> list[Project]:
    """Active projects still under construction or preparation (竣工/投产 ones are not prompted).

    Their task forces, people, departments and leaders come in the same few queries: the sweep
    runs every 5 minutes over every project, and must not load them one project at a time.
    """
    query = (
        select(Project)
        .where(Project.active.is_(True), Project.stage.in_([s.value for s in TRACKED_STAGES]))
        .options(
            selectinload(Project.members).selectinload(ProjectMember.person),
            selectinload(Project.department),
            selectinload(Project.leader),
        )
    )
    return list(session.scalars(query.order_by(Project.code)))


def weekly_due(
    session: Session, now: datetime, rules: ProjectRules, *, aibot_name: str | None
) -> tuple[list[Outgoing], list[Cycle]]:
    """The messages due at `now`, and the cycles whose escalation time has come (cards are drafted).

    `aibot_name` is the 智能机器人 officials @ in their groups, None when the county has none (the
    group messages then send them to the app's 1:1 chat). The messages due include those queued
    by an earlier run: the caller keeps one per key (jobs/projects.py skips them in one query).
    """
    now = as_utc(now)
    out: list[Outgoing] = []
    escalated: list[Cycle] = []
    projects: list[Project] | None = None  # read only when a step is due (most runs: none is)
    for cycle in current_cycles(now, rules):
        prompt = cycle.prompt_at <= now < cycle.deadline_at
        remind = cycle.remind_at <= now < cycle.deadline_at
        late = cycle.late_at <= now < cycle.escalate_at
        escalate = cycle.escalate_at <= now < cycle.escalate_at + ESCALATION_WINDOW
        if not (prompt or remind or late or escalate):
            continue
        projects = tracked_projects(session) if projects is None else projects
        if prompt:
            out += _prompts(projects, cycle, aibot_name)
        if not (remind or late or escalate):
            continue
        owing = [p for p in projects if applies_to(cycle, p.created_at)]  # registered after it: owes nothing
        missing = reports.missing_weekly(session, owing, cycle.week)
        if remind:
            out += _reminders(missing, cycle, "remind", aibot_name)
        if late:
            out += _reminders(missing, cycle, "late", aibot_name)
        if escalate:
            out += _escalations(CountyLeaders(session), missing, cycle)
            escalated.append(cycle)
    return out, escalated


def _prompts(projects: list[Project], cycle: Cycle, aibot_name: str | None) -> list[Outgoing]:
    """A card per project to each 责任人, and one message per department group."""
    out = [
        Outgoing(
            person.wecom_userid, prompt_card(project, person, cycle), _key(cycle, "prompt", project, person)
        )
        for project in projects
        for person in project.leads
    ]
    return out + _group_messages(projects, cycle, "prompt", aibot_name)


def prompt_card(project: Project, person: Person, cycle: Cycle) -> TemplateCard:
    """The weekly prompt in the 1:1 chat: tap a colour, then answer the rest step by step."""
    week = cycle.week.isoformat()
    return TemplateCard(
        card_type="button_interaction",
        task_id=f"proj-prompt-{project.id}-{week}-{person.id}",
        title=f"重点项目周进展 · {cycle.label}",
        desc=f"请于{fmt_local(cycle.deadline_at)}前报送",
        quote=f"{project.code} {project.name}",
        fields=(
            ("责任单位", project.department.name),
            ("包抓县领导", project.leader.name if project.leader else "—"),
        ),
        buttons=tuple(
            Button(f"{c.label}·{COLOUR_MEANINGS[c]}", f"proj:colour:{project.code}:{week}:{c.value}", style=s)
            for c, s in zip(Colour, (1, 4, 2, 3), strict=True)
        ),
        replace_text="已选择",
    )


def _reminders(missing: list[Project], cycle: Cycle, step: str, aibot_name: str | None) -> list[Outgoing]:
    """The 责任人 of projects not yet reported, and their groups."""
    out = []
    for project in missing:
        text = Text(_reminder_text(project, cycle, step))
        out += [Outgoing(p.wecom_userid, text, _key(cycle, step, project, p)) for p in project.leads]
    return out + _group_messages(missing, cycle, step, aibot_name)


def _reminder_text(project: Project, cycle: Cycle, step: str) -> str:
    example = f"进展 {project.code} 白 完成投资300万 形象进度:… 问题:…"
    if step == "remind":
        return (
            f"【进展提醒】{project.code} {project.name} {cycle.label}进展尚未报送，"
            f"请于{fmt_local(cycle.deadline_at)}前报送。\n例如：{example}"
        )
    return (
        f"【补报提醒】{project.code} {project.name} {cycle.label}进展已逾期未报，"
        f"请于{fmt_local(cycle.escalate_at)}前补报，逾期将报包抓县领导。\n例如：{example}"
    )


GROUP_HEADINGS = {
    "prompt": "请报送本周进展",
    "remind": "以下项目尚未报送",
    "late": "以下项目逾期未报，请补报",
}


def _group_messages(
    projects: list[Project], cycle: Cycle, step: str, aibot_name: str | None
) -> list[Outgoing]:
    """Markdown per department group that has a 群机器人, @-mentioning the 责任人.

    A long list is sent in numbered parts (「（1/3）」), each within the 群机器人's limit and each
    starting with how to answer, so nothing is cut; each part mentions its own projects' 责任人.
    """
    by_department: dict[int, list[Project]] = defaultdict(list)
    for project in projects:
        by_department[project.department_id].append(project)
    due = cycle.deadline_at if step != "late" else cycle.escalate_at
    heading = f"**【重点项目周进展】{cycle.label}** {GROUP_HEADINGS[step]}（截止 {fmt_local(due)}）"
    how = f"{how_to_answer(aibot_name, step)}\n颜色：绿（超前）白（正常）黄（滞后）红（停滞）"
    # the three line breaks: after the heading, after `how`, and before the mentions outbound.py adds
    room = GROUP_MARKDOWN_BYTES - _nbytes(heading) - PART_MARK_BYTES - _nbytes(how) - 3
    out = []
    for department_id, listed in by_department.items():
        department = listed[0].department
        if not department.group_webhook_key:
            continue
        parts = _split(listed, lambda p: _nbytes(_group_row(p)) + 1 + _nbytes(_mentions(p.leads)), room)
        for index, part in enumerate(parts, 1):
            rows = "\n".join(_group_row(p) for p in part)
            text = f"{heading}{_mark(index, len(parts))}\n{how}\n{rows}"
            mentioned = tuple(dict.fromkeys(x.wecom_userid for p in part for x in p.leads))
            reply = GroupText(department.group_webhook_key, text, mentioned, markdown=True)
            key = _part_key(f"proj:{cycle.week}:{step}:group:{department_id}", index)
            out.append(Outgoing(f"group:{department.code}", reply, key))
    return out


def how_to_answer(aibot_name: str | None, step: str) -> str:
    """How a group's officials answer: @ the AI bot in the group, or (without one) in the app."""
    if aibot_name:
        return f"在群里 @{aibot_name} 发送：{ANSWER_FORM}"
    card = "（或在应用推送的卡片上选择颜色）" if step == "prompt" else ""
    return f"请在企业微信「{APP_NAME}」应用中发送：{ANSWER_FORM}{card}"


def _group_row(project: Project) -> str:
    return f"> {project.code} {project.name}（责任人：{'、'.join(x.name for x in project.leads) or '—'}）"


def _mentions(people: list[Person]) -> str:
    """What the 群机器人 adds to a markdown message to mention these people (outbound.py)."""
    return "".join(f"<@{p.wecom_userid}>" for p in people)


def _escalations(leaders: CountyLeaders, missing: list[Project], cycle: Cycle) -> list[Outgoing]:
    """Each leader gets the list of his projects still unreported after the late reminder."""
    by_leader: dict[int, tuple[Person, list[Project]]] = {}
    for project in missing:
        for leader in leaders.of(project):
            by_leader.setdefault(leader.id, (leader, []))[1].append(project)
    out = []
    for leader, listed in by_leader.values():
        head = f"【未报送进展】{cycle.label}以下{len(listed)}个重点项目经提醒仍未报送"
        rows = [f"· {p.code} {p.name}（{p.department.name}，责任人 {_names(p.leads)}）" for p in listed]
        for index, text in enumerate(_list_texts(head, rows), 1):
            key = _part_key(f"proj:{cycle.week}:escalate:{leader.id}", index)
            out.append(Outgoing(leader.wecom_userid, Text(text), key))
    return out


def _names(people: list[Person]) -> str:
    return "、".join(p.name for p in people) or "未指定"


def _key(cycle: Cycle, step: str, project: Project, person: Person) -> str:
    return f"proj:{cycle.week}:{step}:{project.id}:{person.id}"


# ---- long lists in parts --------------------------------------------------------------------


def _list_texts(head: str, rows: list[str], limit: int = APP_TEXT_BYTES) -> list[str]:
    """「{head}：」 and the rows, in as many numbered texts (「{head}（1/2）：」) as `limit` bytes need."""
    room = limit - _nbytes(head) - PART_MARK_BYTES - _nbytes("：\n")
    parts = _split(rows, lambda row: _nbytes(row) + 1, room)
    return [f"{head}{_mark(i, len(parts))}：\n" + "\n".join(part) for i, part in enumerate(parts, 1)]


def _split(items: Sequence[T], cost: Callable[[T], int], room: int) -> list[list[T]]:
    """`items` in order, in runs whose costs add up to at most `room` (an item too big alone: alone)."""
    parts: list[list[T]] = []
    used = 0
    for item in items:
        size = cost(item)
        if not parts or (parts[-1] and used + size > room):
            parts.append([])
            used = 0
        parts[-1].append(item)
        used += size
    return parts


def _mark(index: int, total: int) -> str:
    """「（2/3）」, nothing when there is one part."""
    return f"（{index}/{total}）" if total > 1 else ""


def _part_key(key: str, index: int) -> str:
    """The first part keeps the list's key (as queued before lists were split); the others add their index."""
    return key if index == 1 else f"{key}:{index}"


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


# ---- 月汇报 ---------------------------------------------------------------------------------


def monthly_due(session: Session, today: date, rules: ProjectRules) -> list[Outgoing]:
    """Today's 月汇报 messages: reminders on the reminder days, late lists the day after it is due."""
    reminding = today.day in rules.monthly_remind_days
    if not reminding and today.day != rules.monthly_due_day + 1:
        return []
    month = reports.month_of(today)
    missing = reports.missing_monthly(session, tracked_projects(session), month)
    if reminding:
        return _monthly_reminders(missing, today, rules)
    return _monthly_escalations(session, missing, month, rules)


def _monthly_reminders(missing: list[Project], today: date, rules: ProjectRules) -> list[Outgoing]:
    out = []
    for project in missing:
        text = Text(
            f"【月汇报提醒】{project.code} {project.name} {today.month}月汇报尚未报送，请于{today.month}月"
            f"{rules.monthly_due_day}日前报送：月汇报 {project.code} 完成投资:… 形象进度:… 资金到位:… "
            "前期工作:… 问题:… 措施:…"
        )
        for person in project.leads:
            key = f"proj:month:{today:%Y-%m}:remind{today.day}:{project.id}:{person.id}"
            out.append(Outgoing(person.wecom_userid, text, key))
    return out


def _monthly_escalations(
    session: Session, missing: list[Project], month: date, rules: ProjectRules
) -> list[Outgoing]:
    """Late 月汇报: the department head and the leader each get their list."""
    heads = _heads_by_department(session, {p.department_id for p in missing})
    leaders = CountyLeaders(session)
    by_person: dict[int, tuple[Person, list[Project]]] = {}
    for project in missing:
        for person in heads.get(project.department_id, []) + leaders.of(project):
            by_person.setdefault(person.id, (person, []))[1].append(project)
    out = []
    for person, listed in by_person.values():
        head = f"【月汇报逾期】{month.month}月{rules.monthly_due_day}日前应报送的月汇报，以下项目仍未报送"
        rows = [f"· {p.code} {p.name}（{p.department.name}）" for p in listed]
        for index, text in enumerate(_list_texts(head, rows), 1):
            key = _part_key(f"proj:month:{month:%Y-%m}:late:{person.id}", index)
            out.append(Outgoing(person.wecom_userid, Text(text), key))
    return out


def _heads_by_department(session: Session, department_ids: set[int]) -> dict[int, list[Person]]:
    """The active heads of these departments (as bot.directory.heads_of), in one query."""
    if not department_ids:
        return {}
    query = select(Person).where(
        Person.department_id.in_(department_ids),
        Person.role == Role.OFFICIAL.value,
        Person.active.is_(True),
        Person.is_head.is_(True),
    )
    heads: dict[int, list[Person]] = defaultdict(list)
    for person in session.scalars(query.order_by(Person.id)):
        if person.department_id is not None:
            heads[person.department_id].append(person)
    return heads
