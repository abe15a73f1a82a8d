"""What each person sees of a 督办卡 / 批示卡: the leader's cards (签发, 销号), the assignee's texts, lists.

Button keys carry the card's version (`sv:issue:D2611-0001:1`): a click on a card the card has
moved past is refused as stale, even if the status happens to match again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from bot.errors import Invalid
from bot.models import Person, Role
from bot.outbox import OutboxWriter
from bot.replies import Button, TemplateCard, Text
from handlers.complaints.cards import excerpt, when
from handlers.projects.cycle import day_label
from handlers.projects.models import CardKind, CardStatus, SupervisionCard
from handlers.projects.supervision import DUE_WORKING_DAYS, answerers, card_name, deciders, parse_card_number
from handlers.projects.supervision_lists import Reminder, is_overdue

PREFIX = "sv:"
MAX_LISTED = 12  # one line each: the list stays inside one 2048-byte message


def button_key(verb: str, card: SupervisionCard) -> str:
    """`sv:<verb>:<number>:<version>`, read back by card_target."""
    return f"{PREFIX}{verb}:{card.number}:{card.version}"


def card_target(key: str) -> tuple[str, int]:
    """「D2611-0001:3」 (after the verb) → (number, version)."""
    number, _, version = key.partition(":")
    if not (version.isascii() and version.isdigit()):  # 「፩」 passes isdigit() but not int()
        raise Invalid("这张卡片的按钮已失效，请发送「督办」查看最新情况。")
    return parse_card_number(number), int(version)


def subject(card: SupervisionCard) -> str:
    """What the card is about, short: the project, or the start of the 交办 matter."""
    if card.project is not None:
        return f"{card.project.code} {excerpt(card.project.name, 16)}"
    return excerpt(card.problem, 18)


def due_text(card: SupervisionCard, today: date) -> str:
    """「12月1日」, or 「11月20日（已逾期4天）」 for an overdue card."""
    late = (today - card.due_on).days
    return (
        f"{day_label(card.due_on)}（已逾期{late}天）" if is_overdue(card, today) else day_label(card.due_on)
    )


def answering(card: SupervisionCard) -> str:
    """「县工信局 周海涛」, or the department alone when nobody in it is named."""
    dept = card.department.name if card.department else ""
    person = card.assignee.name if card.assignee else ""
    return " ".join(p for p in (dept, person) if p) or "—"


def _task_id(kind: str, card: SupervisionCard, person: Person) -> str:
    # Unique per card sent: WeCom refuses a reused task_id, and each version is a new card.
    """A task_id unique per card, version and recipient."""
    return f"sv-{kind}-{card.id}-v{card.version}-{person.id}"


def issue_card(card: SupervisionCard, leader: Person) -> TemplateCard:
    """The leader's card for a draft: the problem, who must answer by when; 签发 / 不签发."""
    return TemplateCard(
        card_type="button_interaction",
        task_id=_task_id("issue", card, leader),
        title=f"{card.kind_enum.label}待签发",
        desc=f"编号 {card.number}",
        quote=excerpt(card.problem, 160),
        sub_title=f"也可发送「签发 {card.number}」或「不签发 {card.number} 理由」。",
        fields=(
            ("项目", subject(card)),
            ("责任单位", card.department.name if card.department else "—"),
            ("责任人", card.assignee.name if card.assignee else "部门干部"),
            ("办理期限", f"{day_label(card.due_on)}（签发后至少{DUE_WORKING_DAYS}个工作日）"),
        ),
        buttons=(
            Button("签发", button_key("issue", card), style=1),
            Button("不签发", button_key("dismiss", card), style=2),
        ),
        replace_text="已处理",
    )


def answered_card(card: SupervisionCard, leader: Person) -> TemplateCard:
    """The leader's card once answered: the answer; 销号 / 退回."""
    who = card.answered_by.name if card.answered_by else answering(card)
    return TemplateCard(
        card_type="button_interaction",
        task_id=_task_id("answered", card, leader),
        title=f"{card.kind_enum.label}已反馈，待销号",
        desc=f"编号 {card.number} · {subject(card)}",
        quote=f"反馈（{who}）：{excerpt(card.answer or '', 200)}",
        sub_title=f"也可发送「销号 {card.number} 意见」或「退回督办 {card.number} 意见」。",
        fields=(
            ("督办事项", excerpt(card.problem, 30)),
            ("办理期限", day_label(card.due_on)),
            ("反馈时间", when(card.answered_at)),
        ),
        buttons=(
            Button("销号", button_key("clear", card), style=1),
            Button("退回", button_key("back", card), style=3),
        ),
        replace_text="已处理",
    )


def assigned_text(card: SupervisionCard) -> Text:
    """The assignee's notice of an issued card: the problem, the 期限 and how to answer."""
    leader = f"县领导{card.leader.name}" if card.leader else "县领导"
    kind = "签发" if card.kind_enum is CardKind.SUPERVISE else "交办"
    return Text(
        f"【{card.kind_enum.label}】{leader}{kind}{card_name(card)}，请{answering(card)}办理：\n"
        f"{excerpt(card.problem, 300)}\n"
        f"办理要求：{card.action}\n"
        f"办理期限：{day_label(card.due_on)}\n"
        f"办理后请发送「反馈 {card.number} 办理情况」。"
    )


def returned_text(card: SupervisionCard) -> Text:
    """The assignee's notice that the answer was sent back, with the leader's 意见."""
    return Text(
        f"【{card.kind_enum.label}退回】{card_name(card)}（{subject(card)}）的反馈被县领导退回。\n"
        f"意见：{card.note or '—'}\n"
        f"办理期限：{day_label(card.due_on)}。请补充办理后再次发送「反馈 {card.number} 办理情况」。"
    )


def cleared_text(card: SupervisionCard) -> Text:
    """The assignee's notice of 销号."""
    opinion = f"意见：{card.note}" if card.note else ""
    return Text(f"【{card.kind_enum.label}销号】{card_name(card)}（{subject(card)}）已销号。{opinion}")


def reminder_text(reminder: Reminder, today: date) -> Text:
    """A reminder's words: due by the next working day, overdue (assignee), overdue (leader)."""
    card = reminder.card
    name = f"{card_name(card)}（{subject(card)}）"
    how = f"请发送「反馈 {card.number} 办理情况」。"
    if reminder.kind == "due":
        return Text(f"【督办提醒】{name}的办理期限是{day_label(card.due_on)}，请按时反馈：{how}")
    late = (today - card.due_on).days
    if reminder.kind == "overdue":
        return Text(
            f"【督办逾期】{name}已超过办理期限（{day_label(card.due_on)}）{late}天，请尽快反馈：{how}"
        )
    return Text(
        f"【督办逾期】您签发的{name}已超过办理期限（{day_label(card.due_on)}），{answering(card)}尚未反馈。"
    )


def announce_drafts(session: Session, outbox: OutboxWriter, cards: Sequence[SupervisionCard]) -> None:
    """Queue the 签发 card of each new draft to its leader (admins if it has none), once per card."""
    for card in cards:
        for person in deciders(session, card):
            outbox.add(person.wecom_userid, issue_card(card, person), key=f"sv:{card.id}:drafted:{person.id}")


def announce_issued(session: Session, outbox: OutboxWriter, card: SupervisionCard) -> None:
    """Queue the assignee's notice of an issued card (every official of the department if none)."""
    for person in answerers(session, card):
        outbox.add(person.wecom_userid, assigned_text(card), key=f"sv:{card.id}:v{card.version}:{person.id}")


# ---------------------------------------------------------------- lists and details


def card_line(card: SupervisionCard, today: date) -> str:
    """「· D2611-0001 督办卡 XM-001 城东物流园 · 期限12月1日 · 待销号」."""
    status = card.status_enum
    state = f" · {status.label}" if status in (CardStatus.ANSWERED, CardStatus.CLEARED) else ""
    late = " ⚠️" if is_overdue(card, today) else ""
    return (
        f"· {card.number} {card.kind_enum.label} {subject(card)} · 期限{due_text(card, today)}{state}{late}"
    )


def listing_text(sections: list[tuple[str, list[SupervisionCard]]], person: Person, today: date) -> str:
    """督办: the sections in order, at most MAX_LISTED lines in all, and what to do next."""
    total = sum(len(cards) for _, cards in sections)
    if not total:
        return "目前没有需要您处理的督办卡或批示卡。"
    lines = [f"督办卡/批示卡（共{total}件）："]
    shown = 0
    for heading, cards in sections:
        room = MAX_LISTED - shown
        if room <= 0:
            break
        lines.append(f"【{heading}】")
        lines.extend(card_line(c, today) for c in cards[:room])
        shown += min(room, len(cards))
    if shown < total:
        lines.append(f"（另有{total - shown}件未列出）")
    lines.append(_footer(person))
    return "\n".join(lines)


def _footer(person: Person) -> str:
    """What to type next, for an official or a leader."""
    if person.role_enum is Role.OFFICIAL:
        return "发送「督办 编号」查看详情，「反馈 编号 办理情况」反馈。"
    return "发送「督办 编号」查看详情，「签发 编号」签发，「销号 编号」销号。"


def detail_text(card: SupervisionCard, today: date) -> str:
    """督办 <编号>: everything about one card."""
    lines = [
        f"{card_name(card)}【{card.status_enum.label}】",
        f"事项：{excerpt(card.problem, 300)}",
        f"办理要求：{card.action}",
        f"责任单位：{answering(card)}",
        f"签发领导：{card.leader.name if card.leader else '—'}",
        f"办理期限：{due_text(card, today)}",
    ]
    if card.issued_at:
        lines.append(f"签发时间：{when(card.issued_at)}")
    if card.answer:
        who = card.answered_by.name if card.answered_by else ""
        lines.append(f"反馈：{excerpt(card.answer, 300)}（{who} {when(card.answered_at)}）")
    if card.note:
        lines.append(f"领导意见：{excerpt(card.note, 200)}")
    if card.cleared_at:
        lines.append(f"销号时间：{when(card.cleared_at)}")
    return "\n".join(lines)
