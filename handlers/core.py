"""Help, identity and welcome: what every user can ask of the bot."""

from __future__ import annotations

from sqlalchemy import select

from bot.messages import Channel
from bot.models import BindingStatus, Enterprise, EnterpriseMember
from bot.replies import Text
from bot.routing import WHO_ARE_YOU, Context, Dispatcher, HandlerResult, Router

router = Router("core")

STATUS_LABELS = {
    BindingStatus.PENDING.value: "待确认",
    BindingStatus.CONFIRMED.value: "已确认",
    BindingStatus.REJECTED.value: "未通过",
}


@router.command("帮助", "help", "?", "菜单", "menu", public=True, anytime=True, usage="帮助")
def show_help(ctx: Context, args: str) -> HandlerResult:
    """列出您可以使用的命令"""
    dispatcher = ctx.services["dispatcher"]
    assert isinstance(dispatcher, Dispatcher)
    return Text(dispatcher.help_text(ctx.role))


@router.command("我是谁", "whoami", "我的身份", public=True, anytime=True, usage="我是谁")
def who_am_i(ctx: Context, args: str) -> HandlerResult:
    """查看您在本系统登记的身份、部门和绑定的企业"""
    if ctx.person is None:
        # A 公众号 follower's id is an openid nobody can read out: name the account, not the id.
        account = "微信账号" if ctx.inbound.channel is Channel.WECHAT_MP else f"账号 {ctx.inbound.user_id}"
        return Text(f"您的{account}尚未登记。\n{WHO_ARE_YOU}")
    person = ctx.person
    lines = [f"姓名：{person.name}", f"身份：{person.role_enum.label}"]
    if person.department:
        head = "（负责人）" if person.is_head else ""
        lines.append(f"部门：{person.department.name}{head}")
    lines.extend(_enterprise_lines(ctx))
    return Text("\n".join(lines))


def _enterprise_lines(ctx: Context) -> list[str]:
    assert ctx.person is not None
    rows = ctx.session.execute(
        select(Enterprise.name, EnterpriseMember.status)
        .join(EnterpriseMember, EnterpriseMember.enterprise_id == Enterprise.id)
        .where(EnterpriseMember.person_id == ctx.person.id)
        .order_by(EnterpriseMember.id)
    )
    return [f"企业：{name}（{STATUS_LABELS[status]}）" for name, status in rows]


@router.event("subscribe")
@router.event("enter_chat")  # the AI bot's 1:1 chat, opened for the first time today
def welcome(ctx: Context) -> HandlerResult:
    """Greets a member who just added the app (or opened the AI bot's chat)."""
    if ctx.person is None:
        return Text(f"欢迎使用政企直通车！\n{WHO_ARE_YOU}")
    return Text(f"{ctx.person.name}，欢迎使用政企直通车！发送「帮助」查看您可以使用的命令。")
