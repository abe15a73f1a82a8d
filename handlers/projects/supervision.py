"""督办卡 and 批示卡 as services: drafted from a project's weekly colours or given by a leader's 交办,
then 签发, 反馈 and 销号 (or 退回), each one conditional UPDATE on the card's status and version.

Who may do what:
- the card's leader, or an admin, 签发 / 不签发 a draft and 销号 / 退回督办 an answered card;
- the assignee, or any official of the card's department (责任单位), answers (反馈): a colleague
  may answer for an assignee who is away, and a 批示卡 to a department without a head has no
  assignee at all, so its officials answer;
- drafts are seen only by the leader (and admins); officials see a card once it is issued.

Each service raises NotFound / NotAllowed / Invalid / Conflict with the sentence to show, writes
the audit row, and returns the card; supervision_chat.py tells the people concerned. Drafting from
the weekly colours is in supervision_drafting.py, the 督办 list and the reminders in supervision_lists.py.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from bot.audit import record
from bot.clock import as_utc, local
from bot.directory import heads_of, officials_of, people_with_role
from bot.errors import Conflict, Invalid, NotAllowed, NotFound
from bot.models import Department, Person, Role
from bot.numbering import canonical_number, insert_numbered
from bot.workdays import next_working_day
from handlers.complaints.parsing import parse_until
from handlers.complaints.queries import find_department
from handlers.complaints.register import required_text
from handlers.inspections.dates import parse_day
from handlers.projects.cycle import day_label
from handlers.projects.models import CardKind, CardStatus, Project, SupervisionCard

LETTER = "D"
DUE_WORKING_DAYS = 5  # a 督办卡 gives at least this many working days after 签发
MAX_MATTER = 500
MAX_ANSWER = 1000
MAX_AHEAD_DAYS = 366
BUSY = "正在生成其他督办卡，请稍后再试。"
_SPAN = re.compile(r"^\d{1,3}(?:\.\d)?(?:天|日|小时|个小时|h)$")
_WORKDAYS = re.compile(r"^(\d{1,3})个?工作日$")
_SPACES = re.compile(r"\s+")


# ---------------------------------------------------------------- finding cards


def parse_card_number(text: str) -> str:
    """「d2611-1」「D26110001」「Ｄ２６１１－０００１」 → 「D2611-0001」."""
    return canonical_number(text, LETTER, "督办卡编号", "编号形如 D2611-0001")


def get_card(session: Session, number: str) -> SupervisionCard:
    """The card with this number (typed loosely), or NotFound."""
    canonical = parse_card_number(number)
    card = session.scalar(select(SupervisionCard).where(SupervisionCard.number == canonical))
    if card is None:
        raise NotFound(f"没有找到编号为 {canonical} 的督办卡或批示卡，请发送「督办」查看您的卡片。")
    return card


def card_name(card: SupervisionCard) -> str:
    """「督办卡 D2611-0001」 or 「批示卡 D2611-0002」."""
    return f"{card.kind_enum.label} {card.number}"


def is_decider(card: SupervisionCard, person: Person) -> bool:
    """The card's leader, or an admin."""
    return person.role_enum is Role.ADMIN or card.leader_id == person.id


def is_answerer(card: SupervisionCard, person: Person) -> bool:
    """The assignee, or an official of the card's department."""
    if card.assignee_id == person.id:
        return True
    official = person.role_enum is Role.OFFICIAL and person.department_id is not None
    return official and person.department_id == card.department_id


def deciders(session: Session, card: SupervisionCard) -> list[Person]:
    """Who 签发s and 销号s: the card's leader, or the admins when it has none (or he left)."""
    if card.leader is not None and card.leader.active:
        return [card.leader]
    return people_with_role(session, Role.ADMIN)


def answerers(session: Session, card: SupervisionCard) -> list[Person]:
    """Who must answer: the assignee, or every official of the department when there is none."""
    if card.assignee is not None and card.assignee.active:
        return [card.assignee]
    return officials_of(session, card.department_id) if card.department_id is not None else []


def require_viewer(card: SupervisionCard, person: Person) -> None:
    """Leaders and admins see every card; officials those they answer, once issued."""
    if person.role_enum in (Role.LEADER, Role.ADMIN):
        return
    if not is_answerer(card, person):
        raise NotAllowed(f"{card_name(card)} 不是交给您或您所在部门办理的，您不能查看。")
    if card.status_enum in (CardStatus.DRAFT, CardStatus.DISMISSED):
        raise NotAllowed(f"{card_name(card)} 尚未签发。")


# ---------------------------------------------------------------- dates


def working_days_after(day: date, count: int) -> date:
    """The `count`-th working day after `day`."""
    for _ in range(count):
        day = next_working_day(day)
    return day


def local_today(now: datetime) -> date:
    """The county's date at `now`."""
    return local(as_utc(now)).date()


def parse_deadline(text: str, now: datetime) -> date:
    """A 期限 as leaders type it: 12月5日, 2026-12-05, 明天, 下周五, 5天, 3个工作日 (「前」 allowed)."""
    raw = _SPACES.sub("", unicodedata.normalize("NFKC", text)).removesuffix("之前").removesuffix("前")
    today = local_today(now)
    if match := _WORKDAYS.match(raw):
        return _within_reach(working_days_after(today, int(match.group(1))), today)
    if _SPAN.match(raw):
        moment, _ = parse_until(raw, now)
        return _within_reach(local_today(moment), today)
    try:
        return parse_day(raw, today)
    except Invalid as exc:
        # parse_day speaks of inspections; the rule it explains is the same for a 期限.
        message = exc.message.replace("检查日期", "期限")
        hint = "也可以写「5天」「3个工作日」。" if "例如" in message else ""
        raise Invalid(message + hint) from exc


def _within_reach(day: date, today: date) -> date:
    """The day, unless it is more than a year ahead."""
    if (day - today).days > MAX_AHEAD_DAYS:
        raise Invalid(
            f"期限（{day:%Y-%m-%d}）太远了，最多一年（最晚{today + timedelta(MAX_AHEAD_DAYS):%Y-%m-%d}）。"
        )
    return day


# ---------------------------------------------------------------- 交办: a 批示卡


@dataclass(frozen=True)
class Target:
    """Whom a 批示卡 goes to: a person, or a department (its head, or all its officials)."""

    department: Department | None
    assignee: Person | None

    @property
    def label(self) -> str:
        """「县工信局（周海涛）」, 「县工信局」 or 「吴晓燕」."""
        if self.department is None:
            return self.assignee.name if self.assignee else "—"
        return self.department.name + (f"（{self.assignee.name}）" if self.assignee else "")


def find_target(session: Session, text: str) -> Target:
    """A department (code or name) or an official (name or userid) as a leader names it."""
    raw = unicodedata.normalize("NFKC", text).strip()
    if not raw:
        raise Invalid("请写明交办给哪个部门或哪位干部。")
    exact = session.scalar(
        select(Department).where(or_(Department.code == raw.upper(), Department.name == raw))
    )
    if exact is not None:
        return _department_target(session, exact)
    people = list(
        session.scalars(
            select(Person)
            .where(Person.active.is_(True), or_(Person.wecom_userid == raw, Person.name == raw))
            .order_by(Person.id)
        )
    )
    if people:
        return _person_target(raw, people)
    try:
        return _department_target(session, find_department(session, raw))
    except Invalid as exc:
        raise Invalid(f"{exc.message}交办对象也可以是干部的姓名或账号。") from exc


def _department_target(session: Session, department: Department) -> Target:
    """A department's head, or (without one) its officials; refused if it has nobody."""
    heads = heads_of(session, department.id)
    if heads:
        return Target(department, heads[0])
    if not officials_of(session, department.id):
        raise Invalid(f"{department.name}还没有登记干部，无法交办。请联系管理员导入人员名单。")
    return Target(department, None)


def _person_target(raw: str, people: list[Person]) -> Target:
    """The one official among the people of that name or userid."""
    officials = [p for p in people if p.role_enum is Role.OFFICIAL]
    if not officials:
        raise Invalid(f"「{raw}」是{people[0].role_enum.label}，批示卡只能交办给部门或干部。")
    if len(officials) > 1:
        listed = "、".join(
            f"{p.name}（{p.department.name if p.department else '无部门'}，{p.wecom_userid}）"
            for p in officials
        )
        raise Invalid(f"名为「{raw}」的干部有多位：{listed}，请写账号。")
    return Target(officials[0].department, officials[0])


def instruct(
    session: Session,
    leader: Person,
    target: Target,
    matter: str,
    due_on: date,
    now: datetime,
    *,
    project: Project | None = None,
    channel: str = "wecom",
) -> SupervisionCard:
    """交办: a 批示卡, issued at once by the leader who gives it."""
    matter = required_text(matter, "请写明交办事项。", MAX_MATTER)
    card = SupervisionCard(
        kind=CardKind.INSTRUCT.value,
        status=CardStatus.ISSUED.value,
        project_id=project.id if project else None,
        trigger=f"instruct:{secrets.token_hex(8)}",  # each 交办 is its own cause
        problem=matter,
        action=f"请于{day_label(due_on)}前办理并反馈。",
        leader=leader,
        assignee=target.assignee,
        department=target.department,
        due_on=due_on,
        drafted_at=now,
        issued_at=now,
    )
    insert_numbered(session, card, SupervisionCard.number, LETTER, now, busy=BUSY)
    audit(session, card, "instruct", leader, now, channel, target=target.label, due_on=due_on.isoformat())
    return card


def project_named(session: Session, word: str) -> Project | None:
    """The active project whose code is exactly `word` (any case), for 「交办 … XM-001 …」."""
    code = unicodedata.normalize("NFKC", word).strip().upper()
    return session.scalar(select(Project).where(func.upper(Project.code) == code, Project.active.is_(True)))


# ---------------------------------------------------------------- the transitions


def issue(
    session: Session,
    person: Person,
    number: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> SupervisionCard:
    """签发 a draft: the assignee gets at least DUE_WORKING_DAYS working days from now."""
    card = card_for(session, person, number, expected_version, (CardStatus.DRAFT,), "签发", decider=True)
    due = max(card.due_on, working_days_after(local_today(now), DUE_WORKING_DAYS))
    action = card.action.replace(day_label(card.due_on), day_label(due))
    _move(
        session,
        card,
        CardStatus.DRAFT,
        status=CardStatus.ISSUED.value,
        issued_at=now,
        due_on=due,
        action=action,
    )
    audit(session, card, "issue", person, now, channel, due_on=due.isoformat())
    return card


def dismiss(
    session: Session,
    person: Person,
    number: str,
    reason: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> SupervisionCard:
    """不签发: the draft is set aside, with the leader's reason if he gave one."""
    card = card_for(session, person, number, expected_version, (CardStatus.DRAFT,), "不签发", decider=True)
    note = _optional(reason)
    _move(session, card, CardStatus.DRAFT, status=CardStatus.DISMISSED.value, note=note)
    audit(session, card, "dismiss", person, now, channel, note=note)
    return card


def answer(
    session: Session,
    person: Person,
    number: str,
    text: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> SupervisionCard:
    """反馈: the assignee (or a colleague of the department) reports what was done."""
    card = card_for(session, person, number, expected_version, (CardStatus.ISSUED,), "反馈", decider=False)
    body = required_text(text, f"请写明办理情况，例如：反馈 {card.number} 已协调解决，下周复工。", MAX_ANSWER)
    _move(
        session, card, CardStatus.ISSUED,
        status=CardStatus.ANSWERED.value, answer=body, answered_at=now, answered_by_id=person.id,
    )  # fmt: skip
    audit(session, card, "answer", person, now, channel, late=local_today(now) > card.due_on)
    return card


def clear(
    session: Session,
    person: Person,
    number: str,
    note: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> SupervisionCard:
    """销号: the leader accepts the answer; the card is closed."""
    card = card_for(session, person, number, expected_version, (CardStatus.ANSWERED,), "销号", decider=True)
    opinion = _optional(note)
    _move(session, card, CardStatus.ANSWERED, status=CardStatus.CLEARED.value, cleared_at=now, note=opinion)
    audit(session, card, "clear", person, now, channel, note=opinion)
    return card


def send_back(
    session: Session,
    person: Person,
    number: str,
    note: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> SupervisionCard:
    """退回督办: the answer is not enough; the card is open again with the leader's 意见 (same 期限)."""
    card = card_for(session, person, number, expected_version, (CardStatus.ANSWERED,), "退回", decider=True)
    opinion = required_text(note, f"请写明退回意见，例如：退回督办 {card.number} 整改措施不具体。")
    _move(session, card, CardStatus.ANSWERED, status=CardStatus.ISSUED.value, note=opinion)
    audit(session, card, "send_back", person, now, channel, note=opinion)
    return card


def _optional(text: str) -> str | None:
    """A note that may be left out (None), checked for length when given."""
    value = text.strip()
    return required_text(value, "") if value else None


def card_for(
    session: Session,
    person: Person,
    number: str,
    expected_version: int | None,
    allowed: tuple[CardStatus, ...],
    verb: str,
    *,
    decider: bool,
) -> SupervisionCard:
    """The card, if `person` may `verb` it and it is in an `allowed` status (and on the version shown)."""
    card = get_card(session, number)
    if decider and not is_decider(card, person):
        who = f"县领导{card.leader.name}" if card.leader else "管理员"
        raise NotAllowed(f"{card_name(card)} 由{who}{verb}，您不能{verb}。")
    if not decider and not is_answerer(card, person):
        raise NotAllowed(f"{card_name(card)} 交由{_answering(card)}办理，您不能{verb}。")
    _check(card, expected_version, allowed, verb)
    return card


def _answering(card: SupervisionCard) -> str:
    """「县发改局（刘科员）」: who answers the card, for refusals."""
    if card.assignee and card.department:
        return f"{card.department.name}（{card.assignee.name}）"
    return card.department.name if card.department else (card.assignee.name if card.assignee else "—")


def _check(
    card: SupervisionCard, expected_version: int | None, allowed: tuple[CardStatus, ...], verb: str
) -> None:
    # A button carries the version it showed: a click on an older card is stale even if the status matches.
    """Refuse a stale button or a card in the wrong status, naming the card."""
    if expected_version is not None and expected_version != card.version:
        raise Conflict(
            f"这张卡片已过期：{card_name(card)} 已有变化，当前状态为「{card.status_enum.label}」。"
            f"请发送「督办 {card.number}」查看最新情况。"
        )
    if card.status_enum in allowed:
        return
    if card.status_enum is CardStatus.ISSUED and verb in ("销号", "退回"):
        raise Conflict(f"{card_name(card)} 尚未反馈，不能{verb}。")
    if card.status_enum is CardStatus.ANSWERED and verb == "反馈":
        raise Conflict(f"{card_name(card)} 已反馈，正等待县领导销号。")
    raise Conflict(f"{card_name(card)} 当前状态为「{card.status_enum.label}」，不能{verb}。")


def _move(session: Session, card: SupervisionCard, expected: CardStatus, **values: Any) -> None:
    """Apply a change only if nobody changed the card since it was read."""
    stmt = (
        update(SupervisionCard)
        .where(
            SupervisionCard.id == card.id,
            SupervisionCard.version == card.version,
            SupervisionCard.status == expected.value,
        )
        .values(version=SupervisionCard.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(card)
        raise Conflict(f"{card_name(card)} 刚刚已被他人处理，当前状态为「{card.status_enum.label}」。")
    session.refresh(card)


def audit(
    session: Session,
    card: SupervisionCard,
    action: str,
    actor: Person | None,
    now: datetime,
    channel: str,
    **data: Any,
) -> None:
    """The audit row of one change of a card."""
    record(
        session,
        at=now,
        actor=actor,
        channel=channel,
        action=f"supervision.{action}",
        entity="supervision_card",
        entity_id=card.number,
        data={"kind": card.kind, "status": card.status, **{k: v for k, v in data.items() if v is not None}},
    )
