"""绑定: an enterprise contact binds himself to his enterprise; its 包联部门 or an admin confirms."""

from __future__ import annotations

from bot.errors import Conflict
from bot.models import EnterpriseMember, Person, Role
from bot.replies import CardUpdate, Reply, Text
from bot.routing import Context, HandlerResult, Router
from handlers.onboarding import service
from handlers.onboarding.cards import approval_card

router = Router("onboarding")
DECIDERS = (Role.OFFICIAL, Role.ADMIN)
ASK_CODE, ASK_NAME = "bind.code", "bind.name"  # the guided 绑定's two steps


@router.command(
    "绑定", "绑定企业", "bind", roles=(Role.ENTERPRISE,), public=True, usage="绑定 <统一社会信用代码> [姓名]"
)
def bind(ctx: Context, args: str) -> HandlerResult:
    """企业人员绑定所在企业，由包联部门确认"""
    if not args.strip():
        ctx.conversation.goto(ASK_CODE)
        return Text("请发送企业的统一社会信用代码（18位，见营业执照）。发送「取消」可随时退出。")
    code, name = service.parse_bind_args(args)
    return _request(ctx, code, name)


@router.state(ASK_CODE)
def bind_code_step(ctx: Context, text: str) -> HandlerResult:
    """Step 1 of a guided 绑定: the code (checked now, so a typo is asked again at once)."""
    if ctx.person is not None and ctx.person.role_enum is not Role.ENTERPRISE:
        ctx.conversation.end()
        return Text("您是政府工作人员账号，无需绑定企业。")
    ctx.conversation.goto(ASK_NAME, code=service.check_code(ctx.session, text))
    return Text("请发送您的姓名（用于包联部门确认您的身份）。")


@router.state(ASK_NAME)
def bind_name_step(ctx: Context, text: str) -> HandlerResult:
    """Step 2 of a guided 绑定: the applicant's name, then the request is filed."""
    name = service.check_name(text)
    replies = _request(ctx, ctx.conversation.data["code"], name)
    ctx.conversation.end()
    return replies


def _request(ctx: Context, code: str, name: str | None) -> HandlerResult:
    request = service.request_binding(
        ctx.session, userid=ctx.inbound.user_id, person=ctx.person, code=code, name=name, now=ctx.now
    )
    member = request.member
    ctx.audit("binding.request", "enterprise_member", member.id, enterprise=member.enterprise.uscc)
    for approver in request.approvers:
        ctx.notify(
            approver,
            approval_card(member, approver),
            key=f"bind:{member.id}:{member.requested_at.isoformat()}:{approver.id}",
        )
    dept = member.enterprise.contact_department
    who = dept.name if dept else "管理员"
    return Text(
        f"已提交绑定申请（编号 B{member.id}）：{member.enterprise.name}。\n等待{who}确认，确认后会通知您。"
    )


@router.command("同意绑定", roles=DECIDERS, usage="同意绑定 <编号>")
def approve_by_text(ctx: Context, args: str) -> HandlerResult:
    """同意一个企业绑定申请"""
    return _decide(ctx, service.parse_member_id(args), approve=True)


@router.command("拒绝绑定", roles=DECIDERS, usage="拒绝绑定 <编号>")
def reject_by_text(ctx: Context, args: str) -> HandlerResult:
    """拒绝一个企业绑定申请"""
    return _decide(ctx, service.parse_member_id(args), approve=False)


@router.command("绑定申请", "待确认绑定", roles=DECIDERS, usage="绑定申请")
def list_pending(ctx: Context, args: str) -> HandlerResult:
    """查看等待您确认的企业绑定申请"""
    pending = service.pending_for(ctx.session, ctx.require_person())
    if not pending:
        return Text("目前没有等待确认的绑定申请。")
    lines = [f"B{m.id} {m.enterprise.name} — {m.person.name}（{m.person.wecom_userid}）" for m in pending]
    return Text("等待确认的绑定申请：\n" + "\n".join(lines) + "\n回复「同意绑定 编号」或「拒绝绑定 编号」。")


@router.card_action("bind:", roles=DECIDERS)
def decide_by_card(ctx: Context, key: str) -> HandlerResult:
    """Handles 同意 / 拒绝 on a binding card (checked against the clicking user, not the card)."""
    verdict, _, raw_id = key.partition(":")
    try:
        replies = _decide(ctx, service.parse_member_id(raw_id), approve=verdict == "ok")
        label = "已同意" if verdict == "ok" else "已拒绝"
    except Conflict as exc:  # decided by someone else: say so, and retire this card's buttons
        replies, label = [Text(exc.message)], "已处理"
    if ctx.inbound.response_code:
        replies.append(CardUpdate(ctx.inbound.response_code, replace_name=label))
    return replies


def _decide(ctx: Context, member_id: int, *, approve: bool) -> list[Reply]:
    approver = ctx.require_person()
    member = service.decide_binding(
        ctx.session, member_id=member_id, approver=approver, approve=approve, now=ctx.now
    )
    ctx.audit("binding.confirm" if approve else "binding.reject", "enterprise_member", member.id)
    if approve:  # 免申即享 benefits wait for a contact to tell: the enterprise now has one
        rematch = f"policy-rematch-{member.enterprise_id}-bind{member.id}"
        ctx.schedule("jobs.policies.rematch", ctx.now, member.enterprise_id, job_id=rematch)
    ctx.notify(
        member.person,
        _decision_notice(member, approver, approve),
        key=f"bind:{member.id}:decided:{member.decided_at}",
    )
    verdict = "同意" if approve else "拒绝"
    return [Text(f"已{verdict}绑定申请 B{member.id}：{member.person.name} — {member.enterprise.name}。")]


def _decision_notice(member: EnterpriseMember, approver: Person, approve: bool) -> Text:
    name = member.enterprise.name
    if approve:
        return Text(
            f"您绑定「{name}」的申请已通过（确认人：{approver.name}）。发送「帮助」查看您可以使用的功能。"
        )
    return Text(f"您绑定「{name}」的申请未通过。如有疑问，请联系包联部门。")
