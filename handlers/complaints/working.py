"""The officials' and leaders' side of 诉求: 待办, 接单, 转办, 退回, 办结, 延期, 分派, 督办."""

from __future__ import annotations

from bot.directory import officials_of
from bot.errors import Invalid
from bot.models import Role
from bot.replies import CardUpdate, Reply, Text
from bot.routing import Context, HandlerResult, Router
from handlers.complaints import closing, queries, service
from handlers.complaints.cards import when
from handlers.complaints.flow import act, card_target, clicked, due_line, history_text, listing, order_line
from handlers.complaints.models import Action, OrderState
from handlers.complaints.parsing import numbered, parse_until, split_first
from handlers.complaints.register import order_for_holder, write_event
from handlers.complaints.service import RETURN_REASONS

router = Router("complaints.working")

HOLDERS = (Role.OFFICIAL, Role.LEADER)  # the services narrow it to the holding department
COORDINATORS = (Role.OFFICIAL, Role.LEADER, Role.ADMIN)  # the services narrow it to offices
ASK_TRANSFER, ASK_RETURN = "order.xfer", "order.back"
MAX_LISTED = 10  # two lines each: the list stays inside one 2048-byte message


@router.command("待办", "我的待办", "todo", roles=COORDINATORS, usage="待办")
def todo(ctx: Context, args: str) -> HandlerResult:
    """查看本部门待接单、办理中的诉求（按时限排序）"""
    orders = queries.todo_for_official(ctx.session, ctx.require_person())
    if not orders:
        return Text("目前没有待办的诉求。")
    return Text(
        listing(
            orders,
            lambda o: f"{order_line(o)}\n   {o.enterprise.name} · {due_line(o, ctx)}",
            heading=f"待办诉求（{len(orders)}件，最紧急的在前）：",
            footer="回复「接单 单号」「办结 单号 结果」办理。",
            limit=MAX_LISTED,
        )
    )


@router.command("接单", roles=HOLDERS, usage="接单 <单号>")
def take(ctx: Context, args: str) -> HandlerResult:
    """接单：开始办理，24小时内须办结"""
    return _take(ctx, args, None)


def _take(ctx: Context, number: str, version: int | None) -> list[Reply]:
    order = act(ctx, service.pick_up, _number(number), version=version).order
    return [
        Text(f"已接单：诉求 {order.number}（{order.enterprise.name}）。请于 {when(order.solve_due)} 前办结。")
    ]


@router.command("转办", roles=HOLDERS, usage="转办 <单号> <部门> <理由>")
def transfer(ctx: Context, args: str) -> HandlerResult:
    """转办给其他部门（须写明理由，时限不重新计算）"""
    number, rest = split_first(args)
    department, reason = split_first(rest)
    if not department:
        raise Invalid("用法：转办 单号 部门 理由，例如：转办 S2611-0001 县自然资源局 用地审批归口。")
    return _transfer(ctx, number, department, reason, None)


def _transfer(ctx: Context, number: str, department: str, reason: str, version: int | None) -> list[Reply]:
    target = queries.find_department(ctx.session, department)
    order = act(ctx, service.transfer, _number(number), target, reason, version=version).order
    return [Text(f"已将诉求 {order.number} 转办至{target.name}，原时限不变。")]


@router.command("退回", roles=HOLDERS, usage="退回 <单号> <理由>")
def send_back(ctx: Context, args: str) -> HandlerResult:
    """退回不属于本部门的诉求（由营商环境部门或县领导协调）"""
    number, reason = split_first(args)
    return _send_back(ctx, number, reason, None)


def _send_back(ctx: Context, number: str, reason: str, version: int | None) -> list[Reply]:
    # isdecimal, not isdigit: 「፩」 is a digit that int() refuses.
    if reason.strip().isdecimal() and 1 <= int(reason.strip()) <= len(RETURN_REASONS):
        reason = RETURN_REASONS[int(reason.strip()) - 1]
    code, note = service.parse_return_reason(reason)
    order = act(ctx, service.send_back, _number(number), code, note, version=version).order
    return [Text(f"已退回诉求 {order.number}（{code}），等待协调部门处理。")]


@router.command("办结", roles=HOLDERS, usage="办结 <单号> <办理结果>")
def resolve(ctx: Context, args: str) -> HandlerResult:
    """办结诉求并写明结果，企业签单评价"""
    number, result = split_first(args)
    order = act(ctx, closing.resolve, _number(number), result).order
    return Text(f"诉求 {order.number} 已办结，已请企业签单评价。")


@router.command("延期", roles=HOLDERS, usage="延期 <单号> <时间> <理由>")
def extend(ctx: Context, args: str) -> HandlerResult:
    """申请延期（如「延期 S2611-0001 3天 等待省厅批复」），须县领导批准"""
    number, rest = split_first(args)
    until, reason = parse_until(rest, ctx.now)
    order = act(ctx, closing.request_extension, _number(number), until, reason).order
    return Text(f"已提交诉求 {order.number} 的延期申请，等待县领导审批。")


@router.command("批准延期", roles=(Role.LEADER,), usage="批准延期 <单号>")
def approve_extension(ctx: Context, args: str) -> HandlerResult:
    """批准延期申请"""
    return _decide_extension(ctx, args, True, None)


@router.command("驳回延期", roles=(Role.LEADER,), usage="驳回延期 <单号>")
def reject_extension(ctx: Context, args: str) -> HandlerResult:
    """驳回延期申请（原时限不变）"""
    return _decide_extension(ctx, args, False, None)


def _decide_extension(ctx: Context, number: str, approve: bool, version: int | None) -> list[Reply]:
    order = act(ctx, closing.decide_extension, _number(number), approve, version=version).order
    return [Text(f"已{'批准' if approve else '驳回'}诉求 {order.number} 的延期申请。")]


@router.command("分派", "协调", roles=COORDINATORS, usage="分派 <单号> <部门|原部门> [说明]")
def assign(ctx: Context, args: str) -> HandlerResult:
    """协调被退回的诉求：分派给其他部门，或「原部门」继续办理"""
    number, rest = split_first(args)
    department, note = split_first(rest)
    if not department:
        raise Invalid("用法：分派 单号 部门（或「原部门」）[说明]，例如：分派 S2611-0001 县自然资源局。")
    return _assign(ctx, number, department, note, None)


def _assign(ctx: Context, number: str, department: str, note: str, version: int | None) -> list[Reply]:
    target = None if department == "原部门" else queries.find_department(ctx.session, department)
    order = act(ctx, service.decide_return, _number(number), target, version=version, note=note).order
    return [Text(f"已将诉求 {order.number} 分派至{order.holding_department.name}，原时限不变。")]


def _number(text: str) -> str:
    if not text.strip():
        raise Invalid("请写明诉求单号，例如：接单 S2611-0001。")
    return queries.parse_number(text)


# ---------------------------------------------------------------- card buttons


@router.card_action("order:take:", roles=HOLDERS)
def take_by_card(ctx: Context, key: str) -> HandlerResult:
    """接单 on a dispatch card."""
    number, version, _ = card_target(key)
    return clicked(ctx, "已接单", lambda: _take(ctx, number, version))


@router.card_action("order:xfer:", roles=HOLDERS)
def transfer_by_card(ctx: Context, key: str) -> HandlerResult:
    """转办 on a dispatch card: asks for the department and the reason."""
    number, version, _ = card_target(key)
    allowed = (OrderState.DISPATCHED, OrderState.PICKED_UP)
    order = order_for_holder(ctx.session, ctx.require_person(), number, version, allowed, "转办")
    rule = queries.routing_rule(ctx.session, order.category)
    hint = f"「{order.category}」类诉求一般由{rule.department.name}办理。\n" if rule else ""
    clicked_card = ctx.inbound.response_code  # relabelled once the answer succeeds
    ctx.conversation.goto(ASK_TRANSFER, number=number, version=version, response_code=clicked_card)
    return Text(f"{hint}请回复接收部门和转办理由，例如：县自然资源局 用地审批归口。发送「取消」放弃。")


@router.state(ASK_TRANSFER)
def transfer_step(ctx: Context, text: str) -> HandlerResult:
    """The department and reason for a 转办 started on a card."""
    department, reason = split_first(text)
    data = ctx.conversation.data
    replies = _transfer(ctx, data["number"], department, reason, data["version"])
    ctx.conversation.end()
    return _relabel(replies, data.get("response_code"), "已转办")


@router.card_action("order:back:", roles=HOLDERS)
def send_back_by_card(ctx: Context, key: str) -> HandlerResult:
    """退回 on a dispatch card: asks for the reason code."""
    number, version, _ = card_target(key)
    order_for_holder(ctx.session, ctx.require_person(), number, version, (OrderState.DISPATCHED,), "退回")
    clicked_card = ctx.inbound.response_code  # relabelled once the answer succeeds
    ctx.conversation.goto(ASK_RETURN, number=number, version=version, response_code=clicked_card)
    return Text(
        f"请选择退回理由（回复序号，可附说明，如「1 应由自然资源局办理」）：\n{numbered(RETURN_REASONS)}"
    )


@router.state(ASK_RETURN)
def send_back_step(ctx: Context, text: str) -> HandlerResult:
    """The reason for a 退回 started on a card."""
    choice, note = split_first(text)
    if choice.isdecimal() and 1 <= int(choice) <= len(RETURN_REASONS):
        text = f"{RETURN_REASONS[int(choice) - 1]} {note}".strip()
    data = ctx.conversation.data
    replies = _send_back(ctx, data["number"], text, data["version"])
    ctx.conversation.end()
    return _relabel(replies, data.get("response_code"), "已退回")


def _relabel(replies: list[Reply], response_code: str | None, label: str) -> list[Reply]:
    """A card action finished after a question: relabel the card clicked (as clicked() does at once)."""
    return [*replies, CardUpdate(response_code, replace_name=label)] if response_code else replies


@router.card_action("order:extok:", roles=(Role.LEADER,))
def approve_by_card(ctx: Context, key: str) -> HandlerResult:
    """批准 on a 延期 card."""
    number, version, _ = card_target(key)
    return clicked(ctx, "已批准", lambda: _decide_extension(ctx, number, True, version))


@router.card_action("order:extno:", roles=(Role.LEADER,))
def reject_by_card(ctx: Context, key: str) -> HandlerResult:
    """驳回 on a 延期 card."""
    number, version, _ = card_target(key)
    return clicked(ctx, "已驳回", lambda: _decide_extension(ctx, number, False, version))


@router.card_action("order:keep:", roles=COORDINATORS)
def keep_by_card(ctx: Context, key: str) -> HandlerResult:
    """仍由原部门办理 on a 退回 card."""
    number, version, _ = card_target(key)
    return clicked(ctx, "已派回原部门", lambda: _assign(ctx, number, "原部门", "", version))


@router.card_action("order:show:")
def show_by_card(ctx: Context, key: str) -> HandlerResult:
    """查看 / 查看进度 on a card: the order's history, to those allowed to see it."""
    number, _, _ = card_target(key)
    order, events = queries.history(ctx.session, ctx.require_person(), number)
    return Text(history_text(order, events))


@router.card_action("order:urge:", roles=(Role.LEADER,))
def urge_by_card(ctx: Context, key: str) -> HandlerResult:
    """督办 on a leader's escalation card: the holding department's officials and head are pressed."""
    number, _, _ = card_target(key)
    return clicked(ctx, "已督办", lambda: _urge(ctx, number))


def _urge(ctx: Context, number: str) -> list[Reply]:
    leader = ctx.require_person()
    order = queries.get_order(ctx.session, number)
    if order.state_enum not in (OrderState.DISPATCHED, OrderState.PICKED_UP, OrderState.RETURNED):
        return [Text(f"诉求 {order.number} 当前状态为「{order.state_enum.label}」，无需督办。")]
    event = write_event(
        ctx.session, order, Action.ESCALATE, leader, ctx.now,
        before=order.state, channel=ctx.inbound.channel.value, rung="urge",
    )  # fmt: skip
    notice = Text(
        f"【督办】县领导{leader.name}督办诉求 {order.number}（{order.enterprise.name}）：请抓紧办理，"
        f"{due_line(order, ctx)}。"
    )
    returned = order.state_enum is OrderState.RETURNED  # then the coordinators must act, not the holder
    pressed = (
        queries.coordinators(ctx.session)
        if returned
        else officials_of(ctx.session, order.holding_department_id)
    )
    for person in pressed:
        ctx.notify(person, notice, key=f"order:{order.id}:e{event.id}:{person.id}")
    told = "协调部门" if returned else order.holding_department.name
    return [Text(f"已督办诉求 {order.number}，已通知{told}。")]
