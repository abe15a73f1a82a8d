"""The enterprise's side of 诉求: filing (one line or guided), 我的诉求, 诉求 <单号>, 签单 (评价)."""

from __future__ import annotations

from datetime import datetime

from bot.errors import Invalid, NotAllowed
from bot.messages import Kind
from bot.models import Enterprise, Person, Role
from bot.replies import CardUpdate, Reply, Text
from bot.routing import Context, HandlerResult, Router
from bot.weblinks import Purpose, link_url
from handlers.complaints import closing, queries, service
from handlers.complaints.cards import status_card, when
from handlers.complaints.flow import (
    act,
    card_target,
    clicked,
    due_line,
    history_text,
    listing,
    order_line,
    rules,
    settle,
)
from handlers.complaints.models import MAX_TEXT, RATINGS, URGENCIES, WorkOrder
from handlers.complaints.parsing import numbered, parse_filing, pick
from handlers.complaints.register import Transition

router = Router("complaints.filing")

ASK_FIRM, ASK_CATEGORY, ASK_TEXT, ASK_URGENCY, ASK_PHOTO = (
    "order.firm",
    "order.category",
    "order.text",
    "order.urgency",
    "order.photo",
)
ASK_UNHAPPY = "order.unhappy"  # the reason for 不满意, asked after the card click
MAX_PHOTOS = 3
DONE_WORDS = frozenset({"提交", "跳过", "完成", "好", "没有", "无", "不用"})
MAX_LISTED = 10


@router.command("诉求", "投诉", "反映", roles=tuple(Role), usage="诉求 [类别] [紧急] <内容> 或 诉求 <单号>")
def file_or_show(ctx: Context, args: str) -> HandlerResult:
    """「诉求 单号」查看诉求办理进度；企业用「诉求 内容」提交诉求（如「诉求 用地 扩建用地未批」）"""
    person = ctx.require_person()
    if _looks_like_number(args):
        order, events = queries.history(ctx.session, person, args)
        return Text(history_text(order, events))
    if person.role_enum is not Role.ENTERPRISE:
        if args.strip():
            raise NotAllowed(
                "只有企业联系人可以提交诉求。查看诉求请发送「诉求 单号」，查看待办请发送「待办」。"
            )
        return Text("查看诉求请发送「诉求 单号」，例如：诉求 S2611-0001。")
    if not args.strip():
        guided = _start_guided(ctx)
        url = link_url(ctx.services, ctx.clock, person.id, Purpose.FILE)
        return [guided, Text(f"也可以在网页上填写（可附照片）：{url}")]
    filing = parse_filing(args, rules(ctx).categories)
    filed = file_in_context(ctx, filing.category, filing.urgency, filing.text, None, [])
    return receipt(filed.order, person, ctx.now)


def _looks_like_number(args: str) -> bool:
    try:
        queries.parse_number(args)
    except Invalid:
        return False
    return True


def file_in_context(
    ctx: Context,
    category: str,
    urgency: str,
    text: str,
    enterprise: Enterprise | None,
    photos: list[dict[str, str]],
) -> Transition:
    """File an order as the context's person (a chat message or the H5 form) and settle it."""
    r = rules(ctx)
    transition = service.file_order(
        ctx.session,
        ctx.require_person(),
        text,
        category,
        urgency,
        ctx.now,
        enterprise=enterprise,
        mode=r.clock_mode,
        categories=r.categories,
        photos=photos,
        channel=ctx.inbound.channel.value,
    )
    return settle(ctx, transition)


def receipt(order: WorkOrder, person: Person, now: datetime) -> list[Reply]:
    """What the filer reads once an order is filed (in chat, or sent there after the H5 form)."""
    return [
        Text(
            f"诉求已受理，单号 {order.number}。\n已派至{order.holding_department.name}，"
            f"将于 {when(order.pickup_due_at)} 前接单。\n发送「诉求 {order.number}」可随时查看进度。"
        ),
        status_card(order, person, now),
    ]


def _start_guided(ctx: Context) -> Text:
    bound = queries.bound_enterprises(ctx.session, ctx.require_person())
    if not bound:
        raise NotAllowed("您还没有绑定企业，不能提交诉求。请先发送「绑定 统一社会信用代码 姓名」。")
    if len(bound) > 1:
        names = tuple(e.name for e in bound)
        ctx.conversation.goto(ASK_FIRM, firms=[e.id for e in bound])
        return Text(f"请选择以哪家企业提交诉求（回复序号）：\n{numbered(names)}\n发送「取消」可随时退出。")
    ctx.conversation.goto(ASK_CATEGORY, firm=bound[0].id)
    return _ask_category(ctx)


def _ask_category(ctx: Context) -> Text:
    return Text(
        f"请选择诉求类别（回复序号或名称）：\n{numbered(rules(ctx).categories)}\n发送「取消」可随时退出。"
    )


@router.state(ASK_FIRM)
def firm_step(ctx: Context, text: str) -> HandlerResult:
    """Guided filing, for a contact of several enterprises: which one."""
    firms: list[int] = ctx.conversation.data["firms"]
    bound = {e.id: e for e in queries.bound_enterprises(ctx.session, ctx.require_person())}
    names = tuple(bound[i].name for i in firms if i in bound)
    name = pick(text, names, "企业")
    firm = next(e for e in bound.values() if e.name == name)
    ctx.conversation.goto(ASK_CATEGORY, firm=firm.id)
    return _ask_category(ctx)


@router.state(ASK_CATEGORY)
def category_step(ctx: Context, text: str) -> HandlerResult:
    """Guided filing: the category."""
    category = pick(text, rules(ctx).categories, "诉求类别")
    ctx.conversation.goto(ASK_TEXT, **ctx.conversation.data, category=category)
    return Text(f"类别：{category}。\n请描述您的诉求（遇到了什么问题、希望如何解决），{MAX_TEXT}字以内。")


@router.state(ASK_TEXT)
def text_step(ctx: Context, text: str) -> HandlerResult:
    """Guided filing: the description (checked now, so an empty one is asked again)."""
    description = service.check_description(text)
    ctx.conversation.goto(ASK_URGENCY, **ctx.conversation.data, text=description)
    return Text(f"紧急程度？\n{numbered(URGENCIES)}")


@router.state(ASK_URGENCY)
def urgency_step(ctx: Context, text: str) -> HandlerResult:
    """Guided filing: 普通 or 紧急."""
    urgency = pick(text, URGENCIES, "紧急程度")
    ctx.conversation.goto(ASK_PHOTO, **ctx.conversation.data, urgency=urgency, photos=[])
    return Text(f"如有现场照片，请直接发送（最多{MAX_PHOTOS}张）；没有请回复「提交」。")


@router.state(ASK_PHOTO)
def photo_step(ctx: Context, text: str) -> HandlerResult:
    """Guided filing: optional photos, then 提交 files the order."""
    data = dict(ctx.conversation.data)
    photos: list[dict[str, str]] = list(data.get("photos", []))
    if ctx.inbound.kind is Kind.IMAGE:
        photos.append({"media_id": ctx.inbound.media_id or "", "pic_url": ctx.inbound.pic_url or ""})
        ctx.conversation.goto(ASK_PHOTO, **{**data, "photos": photos})
        if len(photos) < MAX_PHOTOS:
            return Text(f"已收到第{len(photos)}张照片。可继续发送，或回复「提交」。")
    elif text.strip() not in DONE_WORDS:
        raise Invalid("请发送照片，或回复「提交」提交诉求。")
    firm = ctx.session.get(Enterprise, data["firm"])
    filed = file_in_context(ctx, data["category"], data["urgency"], data["text"], firm, photos)
    replies = receipt(filed.order, ctx.require_person(), ctx.now)
    ctx.conversation.end()
    return replies


@router.command("我的诉求", "诉求列表", roles=(Role.ENTERPRISE,), usage="我的诉求")
def my_orders(ctx: Context, args: str) -> HandlerResult:
    """查看本企业提交的诉求及办理状态"""
    orders = queries.orders_for_enterprise(ctx.session, ctx.require_person())
    if not orders:
        return Text("您的企业还没有提交过诉求。发送「诉求 内容」即可提交，例如：诉求 厂区门前路灯坏了。")
    return Text(
        listing(
            orders,
            lambda o: f"{order_line(o)}\n   {due_line(o, ctx)}",
            heading="本企业的诉求（最新的在前）：",
            footer="发送「诉求 单号」查看详情。",
            limit=MAX_LISTED,
        )
    )


@router.command("评价", "签单", roles=(Role.ENTERPRISE,), usage="评价 <单号> <满意|基本满意|不满意> [意见]")
def rate_by_text(ctx: Context, args: str) -> HandlerResult:
    """对已办结的诉求评价（满意、基本满意、不满意；不满意将返工）"""
    number, _, rest = args.strip().partition(" ")
    rating, _, comment = rest.strip().partition(" ")
    if not number or rating not in RATINGS:
        raise Invalid(f"用法：评价 单号 {'|'.join(RATINGS)} [意见]，例如：评价 S2611-0001 满意。")
    return _rate(ctx, number, rating, comment, None)


def _rate(ctx: Context, number: str, rating: str, comment: str, version: int | None) -> list[Reply]:
    order = act(ctx, closing.rate, number, rating, version=version, comment=comment).order
    if rating == "不满意":
        return [
            Text(
                f"已收到您的评价（不满意）。诉求 {order.number} "
                f"已退回{order.holding_department.name}重新办理。"
            )
        ]
    return [Text(f"感谢您的评价（{rating}）！诉求 {order.number} 已销号。")]


@router.card_action("order:rate:", roles=(Role.ENTERPRISE,))
def rate_by_card(ctx: Context, key: str) -> HandlerResult:
    """满意 / 基本满意 close the order at once; 不满意 first asks why (optional), then reopens it."""
    number, version, rating = card_target(key)
    if rating == "不满意":
        return clicked(ctx, "", lambda: _ask_why_unhappy(ctx, number, version))
    return clicked(ctx, f"已评价：{rating}", lambda: _rate(ctx, number, rating, "", version))


def _ask_why_unhappy(ctx: Context, number: str, version: int) -> list[Reply]:
    # Checked before asking: a stale card or another enterprise's contact is refused at once.
    closing.order_to_rate(ctx.session, ctx.require_person(), number, version)
    code = ctx.inbound.response_code or ""
    ctx.conversation.goto(ASK_UNHAPPY, number=number, version=version, response_code=code)
    return [Text("很抱歉没有让您满意。请简要说明原因（将转给承办部门返工），或回复「跳过」。")]


@router.state(ASK_UNHAPPY)
def unhappy_step(ctx: Context, text: str) -> HandlerResult:
    """The reason for 不满意 (or 跳过); the order goes back for 返工 and the card is relabelled."""
    data = ctx.conversation.data
    comment = "" if text.strip() in DONE_WORDS else text
    ctx.conversation.end()
    replies = _rate(ctx, data["number"], "不满意", comment, data["version"])
    if data.get("response_code"):
        replies.append(CardUpdate(data["response_code"], replace_name="已评价：不满意"))
    return replies
