"""What the weekly and monthly clocks send: prompts, reminders, the late list to leaders.

Every message has an idempotency key naming its period, project and person, so the sweep can
run as often as it likes (every 5 minutes) and after an outage: each step is sent once, and a
step whose window has passed is not sent late (a prompt after the deadline would confuse).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import as_utc, fmt_local
from bot.directory import heads_of
from bot.models import Person
from bot.replies import Button, GroupText, Reply, TemplateCard, Text
from handlers.projects import reports
from handlers.projects.cycle import Cycle, current_cycles
from handlers.projects.models import COLOUR_MEANINGS, TRACKED_STAGES, Colour, Project
from handlers.projects.registry import project_leaders
from handlers.projects.rules import ProjectRules

ESCALATION_WINDOW = timedelta(days=1)
BOT_NAME = "政企直通车"  # how officials @ the AI bot in their group


@dataclass(frozen=True)
class Outgoing:
    """One message to a person (userid) or a group (GroupText), once per key."""

    recipient: str
    reply: Reply
    key: str


def tracked_projects(session: Session) -> list[Project]:
    """Active projects still under construction or preparation (竣工/投产 ones are not prompted)."""
    query = select(Project).where(
        Project.active.is_(True), Project.stage.in_([s.value for s in TRACKED_STAGES])
    )
    return list(session.scalars(query.order_by(Project.code)))


def weekly_due(session: Session, now: datetime, rules: ProjectRules) -> tuple[list[Outgoing], list[Cycle]]:
    """The messages due at `now`, and the cycles whose escalation time has come (cards are drafted)."""
    now = as_utc(now)
    projects = tracked_projects(session)
    out: list[Outgoing] = []
    escalated: list[Cycle] = []
    for cycle in current_cycles(now, rules):
        missing = reports.missing_weekly(session, projects, cycle.week)
        if cycle.prompt_at <= now < cycle.deadline_at:
            out += _prompts(projects, cycle)
        if cycle.remind_at <= now < cycle.deadline_at:
            out += _reminders(missing, cycle, "remind")
        if cycle.late_at <= now < cycle.escalate_at:
            out += _reminders(missing, cycle, "late")
        if cycle.escalate_at <= now < cycle.escalate_at + ESCALATION_WINDOW:
            out += _escalations(session, missing, cycle)
            escalated.append(cycle)
    return out, escalated


def _prompts(projects: list[Project], cycle: Cycle) -> list[Outgoing]:
    """A card per project to each 责任人, and one message per department group."""
    out = [
        Outgoing(
            person.wecom_userid, prompt_card(project, person, cycle), _key(cycle, "prompt", project, person)
        )
        for project in projects
        for person in project.leads
    ]
    return out + _group_messages(projects, cycle, "prompt")


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


def _reminders(missing: list[Project], cycle: Cycle, step: str) -> list[Outgoing]:
    """The 责任人 of projects not yet reported, and their groups."""
    out = []
    for project in missing:
        text = Text(_reminder_text(project, cycle, step))
        out += [Outgoing(p.wecom_userid, text, _key(cycle, step, project, p)) for p in project.leads]
    return out + _group_messages(missing, cycle, step)


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


def _group_messages(projects: list[Project], cycle: Cycle, step: str) -> list[Outgoing]:
    """One markdown message per department group that has a 群机器人, @-mentioning the 责任人."""
    by_department: dict[int, list[Project]] = defaultdict(list)
    for project in projects:
        by_department[project.department_id].append(project)
    out = []
    for department_id, listed in by_department.items():
        department = listed[0].department
        if not department.group_webhook_key:
            continue
        mentioned = tuple(dict.fromkeys(p.wecom_userid for project in listed for p in project.leads))
        reply = GroupText(
            department.group_webhook_key, _group_text(listed, cycle, step), mentioned, markdown=True
        )
        out.append(
            Outgoing(f"group:{department.code}", reply, f"proj:{cycle.week}:{step}:group:{department_id}")
        )
    return out


def _group_text(projects: list[Project], cycle: Cycle, step: str) -> str:
    heading = {"prompt": "请报送本周进展", "remind": "以下项目尚未报送", "late": "以下项目逾期未报，请补报"}[
        step
    ]
    rows = "\n".join(
        f"> {p.code} {p.name}（责任人：{'、'.join(x.name for x in p.leads) or '—'}）" for p in projects
    )
    due = cycle.deadline_at if step != "late" else cycle.escalate_at
    return (
        f"**【重点项目周进展】{cycle.label}** {heading}（截止 {fmt_local(due)}）\n{rows}\n"
        f"在群里 @{BOT_NAME} 发送：进展 编号 颜色 完成投资 形象进度:… 问题:…\n"
        f"颜色：绿（超前）白（正常）黄（滞后）红（停滞）"
    )


def _escalations(session: Session, missing: list[Project], cycle: Cycle) -> list[Outgoing]:
    """Each leader gets the list of his projects still unreported after the late reminder."""
    by_leader: dict[int, tuple[Person, list[Project]]] = {}
    for project in missing:
        for leader in project_leaders(session, project):
            by_leader.setdefault(leader.id, (leader, []))[1].append(project)
    out = []
    for leader, listed in by_leader.values():
        rows = "\n".join(
            f"· {p.code} {p.name}（{p.department.name}，责任人 {_names(p.leads)}）" for p in listed
        )
        text = Text(f"【未报送进展】{cycle.label}以下{len(listed)}个重点项目经提醒仍未报送：\n{rows}")
        out.append(Outgoing(leader.wecom_userid, text, f"proj:{cycle.week}:escalate:{leader.id}"))
    return out


def _names(people: list[Person]) -> str:
    return "、".join(p.name for p in people) or "未指定"


def _key(cycle: Cycle, step: str, project: Project, person: Person) -> str:
    return f"proj:{cycle.week}:{step}:{project.id}:{person.id}"


# ---- 月汇报 ---------------------------------------------------------------------------------


def monthly_due(session: Session, today: date, rules: ProjectRules) -> list[Outgoing]:
    """Today's 月汇报 messages: reminders on the reminder days, late lists the day after it is due."""
    month = reports.month_of(today)
    missing = reports.missing_monthly(session, tracked_projects(session), month)
    if today.day in rules.monthly_remind_days:
        return _monthly_reminders(missing, today, rules)
    if today.day == rules.monthly_due_day + 1:
        return _monthly_escalations(session, missing, month, rules)
    return []


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
    by_person: dict[int, tuple[Person, list[Project]]] = {}
    for project in missing:
        for person in heads_of(session, project.department_id) + project_leaders(session, project):
            by_person.setdefault(person.id, (person, []))[1].append(project)
    out = []
    for person, listed in by_person.values():
        rows = "\n".join(f"· {p.code} {p.name}（{p.department.name}）" for p in listed)
        text = Text(
            f"【月汇报逾期】{month.month}月{rules.monthly_due_day}日前应报送的月汇报，以下项目仍未报送：\n{rows}"
        )
        out.append(Outgoing(person.wecom_userid, text, f"proj:month:{month:%Y-%m}:late:{person.id}"))
    return out
