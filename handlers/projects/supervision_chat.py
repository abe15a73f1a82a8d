"""督办卡 and 批示卡 in chat: 督办 (lists), 签发 / 不签发, 反馈, 销号 / 退回督办, 交办, and the card buttons.

退回 is the work orders' command, so sending a card back is 「退回督办」 (or the card's 退回 button,
which asks for the 意见).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.errors import Invalid
from bot.models import Person, Role
from bot.replies import CardUpdate, Reply, Text
from bot.routing import Context, HandlerResult, Router
from handlers.complaints.flow import clicked
from handlers.complaints.parsing import split_first
from handlers.projects import supervision as service
from handlers.projects.cycle import day_label
from handlers.projects.models import CardStatus, SupervisionCard
from handlers.projects.supervision_cards import (
    PREFIX,
    announce_issued,
    answered_card,
    answering,
    card_target,
    cleared_text,
    detail_text,
    listing_text,
    returned_text,
)
from handlers.projects.supervision_lists import listing_for

router = Router("supervision")

DECIDERS = (Role.LEADER, Role.ADMIN)  # the services narrow it to the card's leader (or an admin)
STAFF = (Role.OFFICIAL, Role.LEADER, Role.ADMIN)
ASK_BACK = "sv.back"
INSTRUCT_USAGE = "交办 <部门或人> <事项> <期限>"
INSTRUCT_EXAMPLE = "例如：交办 县工信局 协调解决鑫源食品用地问题 12月5日（期限也可写2026-12-05、5天）。"

Step = Callable[..., SupervisionCard]


def _run(ctx: Context, step: Step, number: str, *args: str, version: int | None) -> SupervisionCard:
    """Run one service as the sender (checked against `version` if from a card button)."""
    return step(
        ctx.session, ctx.require_person(), _number(number), *args, ctx.now,
        expected_version=version, channel=ctx.inbound.channel.value,
    )  # fmt: skip


def _number(text: str) -> str:
    """The card number typed, or how to write one."""
    if not text.strip():
        raise Invalid("请写明督办卡编号，例如：签发 D2611-0001。发送「督办」查看您的卡片。")
    return service.parse_card_number(text)


def _tell(
    ctx: Context, people: list[Person], card: SupervisionCard, reply: Callable[[Person], Reply]
) -> None:
    """Queue one message per person, once per card version."""
    for person in people:
        ctx.notify(person, reply(person), key=f"sv:{card.id}:v{card.version}:{person.id}")


# ---------------------------------------------------------------- lists


@router.command("督办", "督办卡", "我的督办", roles=STAFF, usage="督办 [编号]")
def show(ctx: Context, args: str) -> HandlerResult:
    """查看督办卡、批示卡（待签发、逾期、办理中、近期销号）；「督办 编号」查看详情"""
    person = ctx.require_person()
    today = service.local_today(ctx.now)
    if args.strip():
        card = service.get_card(ctx.session, args)
        service.require_viewer(card, person)
        return Text(detail_text(card, today))
    return Text(listing_text(listing_for(ctx.session, person, ctx.now), person, today))


# ---------------------------------------------------------------- the leader: 签发, 不签发, 销号, 退回督办


@router.command("签发", roles=DECIDERS, usage="签发 <编号>")
def issue(ctx: Context, args: str) -> HandlerResult:
    """签发督办卡：责任人收到督办事项和办理期限"""
    return _issue(ctx, args, None)


def _issue(ctx: Context, number: str, version: int | None) -> list[Reply]:
    """签发, by command or button; the assignee is told."""
    card = _run(ctx, service.issue, number, version=version)
    announce_issued(ctx.session, ctx.outbox, card)
    return [
        Text(f"已签发{service.card_name(card)}，已通知{answering(card)}，办理期限{day_label(card.due_on)}。")
    ]


@router.command("不签发", roles=DECIDERS, usage="不签发 <编号> [理由]")
def dismiss(ctx: Context, args: str) -> HandlerResult:
    """不签发督办卡（可写理由），卡片存档"""
    number, reason = split_first(args)
    return _dismiss(ctx, number, reason, None)


def _dismiss(ctx: Context, number: str, reason: str, version: int | None) -> list[Reply]:
    """不签发, by command or button."""
    card = _run(ctx, service.dismiss, number, reason, version=version)
    return [Text(f"{service.card_name(card)} 未签发，已存档。")]


@router.command("销号", roles=DECIDERS, usage="销号 <编号> [意见]")
def clear(ctx: Context, args: str) -> HandlerResult:
    """认可反馈，督办卡销号"""
    number, note = split_first(args)
    return _clear(ctx, number, note, None)


def _clear(ctx: Context, number: str, note: str, version: int | None) -> list[Reply]:
    """销号, by command or button; the assignee and whoever answered are told."""
    card = _run(ctx, service.clear, number, note, version=version)
    told = service.answerers(ctx.session, card)
    if card.answered_by is not None and card.answered_by not in told:
        told.append(card.answered_by)  # a colleague who answered for the assignee hears too
    _tell(ctx, told, card, lambda _p: cleared_text(card))
    return [Text(f"{service.card_name(card)} 已销号，已通知{answering(card)}。")]


@router.command("退回督办", roles=DECIDERS, usage="退回督办 <编号> <意见>")
def send_back(ctx: Context, args: str) -> HandlerResult:
    """反馈不到位，退回督办卡继续办理（须写意见）"""
    number, note = split_first(args)
    return _send_back(ctx, number, note, None)


def _send_back(ctx: Context, number: str, note: str, version: int | None) -> list[Reply]:
    """退回督办, by command or after the button's question; the answerers are told."""
    card = _run(ctx, service.send_back, number, note, version=version)
    _tell(ctx, service.answerers(ctx.session, card), card, lambda _p: returned_text(card))
    return [Text(f"已退回{service.card_name(card)}，已通知{answering(card)}继续办理。")]


# ---------------------------------------------------------------- the assignee: 反馈


@router.command("反馈", roles=(Role.OFFICIAL,), usage="反馈 <编号> <办理情况>")
def answer(ctx: Context, args: str) -> HandlerResult:
    """反馈督办卡、批示卡的办理情况，由县领导销号"""
    number, text = split_first(args)
    card = _run(ctx, service.answer, number, text, version=None)
    leaders = service.deciders(ctx.session, card)
    _tell(ctx, leaders, card, lambda leader: answered_card(card, leader))
    who = "、".join(p.name for p in leaders) or "县领导"
    return Text(f"已反馈{service.card_name(card)}，等待{who}销号。")


# ---------------------------------------------------------------- 交办: a 批示卡


@router.command("交办", roles=(Role.LEADER,), usage=INSTRUCT_USAGE)
def instruct(ctx: Context, args: str) -> HandlerResult:
    """交办事项（批示卡）给部门或干部，须写期限，如「交办 县工信局 协调用地问题 12月5日」"""
    target_text, rest = split_first(args)
    matter, _, deadline = rest.rpartition(" ")
    if not (target_text and matter.strip() and deadline):
        raise Invalid(f"用法：{INSTRUCT_USAGE}\n{INSTRUCT_EXAMPLE}")
    due_on = service.parse_deadline(deadline, ctx.now)
    target = service.find_target(ctx.session, target_text)
    project = service.project_named(ctx.session, split_first(matter)[0])
    leader = ctx.require_person()
    card = service.instruct(
        ctx.session,
        leader,
        target,
        matter,
        due_on,
        ctx.now,
        project=project,
        channel=ctx.inbound.channel.value,
    )
    announce_issued(ctx.session, ctx.outbox, card)
    return Text(f"已交办{service.card_name(card)}给{target.label}，办理期限{day_label(due_on)}。")


# ---------------------------------------------------------------- card buttons


@router.card_action(f"{PREFIX}issue:", roles=DECIDERS)
def issue_by_card(ctx: Context, key: str) -> HandlerResult:
    """签发 on a draft's card."""
    number, version = card_target(key)
    return clicked(ctx, "已签发", lambda: _issue(ctx, number, version))


@router.card_action(f"{PREFIX}dismiss:", roles=DECIDERS)
def dismiss_by_card(ctx: Context, key: str) -> HandlerResult:
    """不签发 on a draft's card."""
    number, version = card_target(key)
    return clicked(ctx, "未签发", lambda: _dismiss(ctx, number, "", version))


@router.card_action(f"{PREFIX}clear:", roles=DECIDERS)
def clear_by_card(ctx: Context, key: str) -> HandlerResult:
    """销号 on an answered card."""
    number, version = card_target(key)
    return clicked(ctx, "已销号", lambda: _clear(ctx, number, "", version))


@router.card_action(f"{PREFIX}back:", roles=DECIDERS)
def send_back_by_card(ctx: Context, key: str) -> HandlerResult:
    """退回 on an answered card: asks for the 意见 (the card is relabelled once it is given)."""
    number, version = card_target(key)
    return clicked(ctx, "", lambda: _ask_back(ctx, number, version))


def _ask_back(ctx: Context, number: str, version: int) -> list[Reply]:
    """Check the 退回 button may be used, then ask for the 意见."""
    person = ctx.require_person()
    service.card_for(ctx.session, person, number, version, (CardStatus.ANSWERED,), "退回", decider=True)
    ctx.conversation.goto(ASK_BACK, number=number, version=version, response_code=ctx.inbound.response_code)
    return [Text(f"请回复退回 {number} 的意见（将转告责任人），例如：整改措施不具体。发送「取消」放弃。")]


@router.state(ASK_BACK)
def send_back_step(ctx: Context, text: str) -> HandlerResult:
    """The 意见 for a 退回 started on a card."""
    data = ctx.conversation.data
    replies = _send_back(ctx, data["number"], text, data["version"])
    ctx.conversation.end()
    code = data.get("response_code")
    return [*replies, CardUpdate(code, replace_name="已退回")] if code else replies
