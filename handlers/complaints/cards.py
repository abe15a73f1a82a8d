"""Card and text layouts for work orders: what each person sees at each step.

Button keys carry the order's version (`order:take:S2611-0042:3`): a click on a card the order
has moved past is refused as stale, even if the state happens to match again.
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import as_utc, fmt_local
from bot.models import Person
from bot.replies import Button, TemplateCard
from handlers.complaints.models import RATINGS, OrderState, WorkOrder

EXCERPT = 60  # characters of the request shown on a card


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of a long text, marked as cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(at: datetime | None) -> str:
    """A moment in local time, or 「—」."""
    return fmt_local(at) if at is not None else "—"


def due_text(due: datetime | None, now: datetime) -> str:
    """「11-25 09:30」, or 「11-25 09:30（已超时）」 once it has passed."""
    if due is None:
        return "—"
    late = as_utc(due) <= as_utc(now)
    return f"{when(due)}{'（已超时）' if late else ''}"


def button_key(verb: str, order: WorkOrder, *extra: str) -> str:
    """`order:<verb>:<number>:<version>[:extra]`, parsed back by handlers.complaints.chat."""
    return ":".join(("order", verb, order.number, str(order.version), *extra))


def _task_id(kind: str, order: WorkOrder, person: Person) -> str:
    # Unique per card sent: WeCom refuses a reused task_id, and each version is a new card.
    return f"order-{kind}-{order.id}-v{order.version}-{person.id}"


def dispatch_card(order: WorkOrder, official: Person, now: datetime, *, heading: str) -> TemplateCard:
    """The holding department's card: the request, the pickup deadline, 接单 / 转办 / 退回."""
    return TemplateCard(
        card_type="button_interaction",
        task_id=_task_id("dispatch", order, official),
        title=heading,
        desc=f"单号 {order.number}",
        quote=excerpt(order.description),
        fields=(
            ("企业", order.enterprise.name),
            ("类别", order.category),
            ("紧急程度", order.urgency),
            ("接单时限", due_text(order.pickup_due_at, now)),
            *((("返工次数", str(order.rework_count)),) if order.rework_count else ()),
        ),
        buttons=(
            Button("接单", button_key("take", order), style=1),
            Button("转办", button_key("xfer", order), style=2),
            Button("退回", button_key("back", order), style=3),
        ),
        replace_text="已处理",
    )


def status_card(
    order: WorkOrder, person: Person, now: datetime, *, heading: str = "诉求已受理"
) -> TemplateCard:
    """The enterprise's receipt: number, where it went, by when it will be picked up, 查看进度."""
    due_label, due = _next_due(order)
    # A text_notice would need a link (card_action url); until the H5 pages exist, a button.
    return TemplateCard(
        card_type="button_interaction",
        task_id=_task_id("status", order, person),
        title=heading,
        desc=f"单号 {order.number}",
        emphasis=(order.number, "诉求单号（可发送「诉求 单号」查看进度）"),
        quote=excerpt(order.description),
        fields=(
            ("类别", order.category),
            ("承办部门", order.holding_department.name),
            ("状态", order.state_enum.label),
            (due_label, due_text(due, now)),
        ),
        buttons=(Button("查看进度", button_key("show", order), style=4),),
    )


def _next_due(order: WorkOrder) -> tuple[str, datetime | None]:
    if order.state_enum is OrderState.PICKED_UP:
        return ("办结时限（已延期）" if order.extended_until else "办结时限"), order.solve_due
    return "接单时限", order.pickup_due_at


def signoff_card(order: WorkOrder, person: Person, *, round_: str = "") -> TemplateCard:
    """The enterprise's 签单 card after 办结: the result, and 满意 / 基本满意 / 不满意."""
    styles = {"满意": 1, "基本满意": 4, "不满意": 3}
    return TemplateCard(
        card_type="button_interaction",
        task_id=_task_id(f"signoff{round_}", order, person),
        title="诉求已办结，请评价",
        desc=f"单号 {order.number} · {order.holding_department.name}",
        quote=excerpt(order.result or "", 120),
        fields=(("诉求", excerpt(order.description, 30)), ("办结时间", when(order.resolved_at))),
        buttons=tuple(Button(r, button_key("rate", order, r), style=styles[r]) for r in RATINGS),
        replace_text="已评价",
    )


def extension_card(order: WorkOrder, leader: Person, reason: str) -> TemplateCard:
    """A leader's card for a 延期 request: why, until when, 批准 / 驳回."""
    return TemplateCard(
        card_type="button_interaction",
        task_id=_task_id("extend", order, leader),
        title="延期申请待审批",
        desc=f"单号 {order.number} · {order.holding_department.name}",
        quote=f"理由：{excerpt(reason, 100)}",
        fields=(
            ("企业", order.enterprise.name),
            ("原办结时限", when(order.solve_due)),
            ("申请延至", when(order.extension_requested_until)),
        ),
        buttons=(
            Button("批准", button_key("extok", order), style=1),
            Button("驳回", button_key("extno", order), style=3),
        ),
        replace_text="已审批",
    )


def returned_card(order: WorkOrder, coordinator: Person, reason: str) -> TemplateCard:
    """A coordinator's card for a 退回 order: why, and 退回原部门 (other targets by command)."""
    return TemplateCard(
        card_type="button_interaction",
        task_id=_task_id("returned", order, coordinator),
        title="诉求被退回，待协调",
        desc=f"单号 {order.number} · 退回部门 {order.holding_department.name}",
        quote=f"退回理由：{excerpt(reason, 100)}",
        sub_title=f"改派其他部门请发送「分派 {order.number} 部门名称」",
        fields=(
            ("企业", order.enterprise.name),
            ("类别", order.category),
            ("诉求", excerpt(order.description, 30)),
        ),
        buttons=(Button("仍由原部门办理", button_key("keep", order), style=2),),
        replace_text="已处理",
    )
