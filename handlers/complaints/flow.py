"""What every work-order handler does after a service call, and the views they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.errors import Conflict, Invalid
from bot.models import Person
from bot.replies import CardUpdate, Reply, Text
from bot.routing import Context
from bot.settings import Settings
from bot.weblinks import Purpose, link_url
from handlers.complaints import alarms
from handlers.complaints.cards import due_text, excerpt, when
from handlers.complaints.models import Action, OrderEvent, OrderState, WorkOrder
from handlers.complaints.notices import announce
from handlers.complaints.queries import parse_number
from handlers.complaints.register import Transition
from handlers.complaints.rules import OrderRules, rules_from


def rules(ctx: Context) -> OrderRules:
    """The county's work-order rules, from the runtime's settings."""
    settings = ctx.services["settings"]
    assert isinstance(settings, Settings)
    return rules_from(settings)


def settle(ctx: Context, transition: Transition) -> Transition:
    """Tell everyone the transition names, and arm the order's next 盯单 alarm (both after commit)."""
    announce(ctx.outbox, transition, ctx.now, lambda person, order: signoff_link(ctx, person, order))
    deferred = alarms.arm(ctx.session, transition.order, rules(ctx), ctx.now)
    if deferred is not None:
        ctx.deferred.append(deferred)
    return transition


def signoff_link(ctx: Context, person: Person, order: WorkOrder) -> str:
    """The H5 sign-off page of `order` for `person` (a signed, expiring link)."""
    return link_url(ctx.services, ctx.clock, person.id, Purpose.SIGNOFF, order.number)


def act(
    ctx: Context,
    step: Callable[..., Transition],
    number: str,
    *args: Any,
    version: int | None = None,
    **options: Any,
) -> Transition:
    """Run one work-order service as the sender (checked against `version` if from a card), then settle it."""
    transition = step(
        ctx.session, ctx.require_person(), number, *args, ctx.now,
        expected_version=version, channel=ctx.inbound.channel.value, **options,
    )  # fmt: skip
    return settle(ctx, transition)


def listing(
    orders: list[WorkOrder], line: Callable[[WorkOrder], str], *, heading: str, footer: str, limit: int
) -> str:
    """A list of orders, the first `limit` of them, each as `line` renders it."""
    lines = [line(o) for o in orders[:limit]]
    more = f"\n（共{len(orders)}件，显示前{limit}件）" if len(orders) > limit else ""
    return f"{heading}\n" + "\n".join(lines) + more + f"\n{footer}"


def card_target(key: str) -> tuple[str, int, str]:
    """「S2611-0001:3[:满意]」 (after the verb) → (number, version, extra)."""
    number, _, rest = key.partition(":")
    version, _, extra = rest.partition(":")
    if not (version.isascii() and version.isdigit()):  # 「፩」 passes isdigit() but not int()
        raise Invalid("这张卡片的按钮已失效，请发送「待办」或「我的诉求」查看最新情况。")
    return parse_number(number), int(version), extra


def clicked(ctx: Context, label: str, act: Callable[[], list[Reply]]) -> list[Reply]:
    """Run a card button's action; relabel the card with `label` (if any), or 已处理 if it was stale."""
    try:
        replies = act()
    except Conflict as exc:
        replies, label = [Text(exc.message)], "已处理"
    if ctx.inbound.response_code and label:
        replies.append(CardUpdate(ctx.inbound.response_code, replace_name=label))
    return replies


def order_line(order: WorkOrder) -> str:
    """One line of a list: number, state, category, the request's start."""
    return f"{order.number}【{order.state_enum.label}】{order.category} · {excerpt(order.description, 24)}"


def due_line(order: WorkOrder, ctx: Context) -> str:
    """The deadline that matters now, for lists."""
    if order.state_enum is OrderState.PICKED_UP:
        return f"办结时限 {due_text(order.solve_due, ctx.now)}"
    if order.state_enum in (OrderState.DISPATCHED, OrderState.RETURNED):
        return f"接单时限 {due_text(order.pickup_due_at, ctx.now)}"
    if order.state_enum is OrderState.RESOLVED:
        return f"待企业评价（发送「评价 {order.number} 满意」或点击评价卡片）"
    return f"已销号{'（自动）' if order.auto_closed else ''}"


HISTORY_VERBS = {
    Action.FILE: "提交诉求",
    Action.DISPATCH: "派单",
    Action.PICKUP: "接单",
    Action.TRANSFER: "转办",
    Action.RETURN: "退回",
    Action.RETURN_DECIDED: "协调派单",
    Action.EXTEND_REQUESTED: "申请延期",
    Action.EXTEND_APPROVED: "批准延期",
    Action.EXTEND_REJECTED: "驳回延期",
    Action.RESOLVE: "办结",
    Action.RATE: "评价",
    Action.REOPEN: "返工",
    Action.AUTO_CLOSE: "自动销号",
    Action.REMIND: "催办提醒",
    Action.ESCALATE: "超时督办",
}
_DETAIL_KEYS = ("to_department", "reason", "note", "result", "rating", "comment", "rung")
RUNG_LABELS = {
    "warn": "临近时限提醒",
    "overdue": "超时提醒",
    "head": "报部门负责人",
    "leader": "报县领导",
    "remind": "提醒企业评价",
    "urge": "县领导督办",
}
CLOCK_WORDS = {"pickup": "接单", "solve": "办结", "signoff": "签单"}
MAX_EVENTS_SHOWN = 12  # a text message holds 2048 bytes; the newest events matter most


def history_text(order: WorkOrder, events: list[OrderEvent]) -> str:
    """诉求 <单号>: the order's summary, then who did what when."""
    lines = [
        f"诉求 {order.number}【{order.state_enum.label}】",
        f"企业：{order.enterprise.name}",
        f"类别：{order.category}（{order.urgency}）",
        f"内容：{excerpt(order.description, 200)}",
        f"承办部门：{order.holding_department.name}",
        f"接单时限：{when(order.pickup_due_at)}",
    ]
    if order.solve_due is not None:
        lines.append(f"办结时限：{when(order.solve_due)}{'（已延期）' if order.extended_until else ''}")
    if order.result:
        lines.append(f"办理结果：{excerpt(order.result, 200)}")
    if order.rework_count:
        lines.append(f"返工次数：{order.rework_count}")
    lines.append("办理记录：")
    hidden = len(events) - MAX_EVENTS_SHOWN
    if hidden > 0:
        lines.append(f"（较早的{hidden}条记录从略）")
    lines.extend(_event_line(e) for e in events[-MAX_EVENTS_SHOWN:])
    return "\n".join(lines)


def _detail(key: str, value: object) -> str:
    """One detail of a history line, short: 「pickup.head」 reads 「接单·报部门负责人」."""
    if key == "rung":
        clock, _, step = str(value).rpartition(".")
        label = RUNG_LABELS.get(step, step)
        return f"{CLOCK_WORDS[clock]}·{label}" if clock in CLOCK_WORDS else label
    return excerpt(str(value), 40)


def _event_line(event: OrderEvent) -> str:
    # 派单 is done by the system (by the routing rules), whoever filed the order.
    system = event.actor is None or Action(event.action) is Action.DISPATCH
    who = "系统" if system or event.actor is None else event.actor.name
    details = "，".join(
        _detail(k, event.data[k]) for k in _DETAIL_KEYS if event.data.get(k) not in (None, "")
    )
    verb = HISTORY_VERBS.get(Action(event.action), event.action)
    return f"· {when(event.at)} {who} {verb}{'：' + details if details else ''}"
