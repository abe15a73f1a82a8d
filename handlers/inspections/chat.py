"""企业宁静日 in chat: 报备检查 and its answer, the approval, 综合查一次, results, the enterprise's side."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from sqlalchemy import select

from bot.clock import as_utc, local
from bot.directory import contacts_of
from bot.errors import Conflict, Invalid, NotAllowed
from bot.models import Department, Enterprise, Person, Role
from bot.replies import Button, CardUpdate, Reply, TemplateCard, Text
from bot.routing import Context, HandlerResult, Router
from handlers.complaints import service as orders
from handlers.complaints.cards import status_card
from handlers.complaints.flow import rules as order_rules
from handlers.complaints.flow import settle
from handlers.complaints.parsing import numbered, pick, split_first
from handlers.inspections import service
from handlers.inspections.dates import parse_day
from handlers.inspections.models import Inspection, InspectionStatus, Outcome
from handlers.inspections.rules import quiet_reason, rules_on

router = Router("inspections")

STAFF = (Role.OFFICIAL, Role.LEADER, Role.ADMIN)
ASK_ENTERPRISE = "insp.enterprise"  # the name matched several enterprises: which one
REPORT_CATEGORY = "执法检查"  # 举报检查 becomes a work order of this category
USAGE = "报备检查 <企业> <日期> <类别> <事由>"


@router.command("报备检查", "检查报备", roles=(Role.OFFICIAL,), usage=USAGE)
def register(ctx: Context, args: str) -> HandlerResult:
    """入企检查前报备（如「报备检查 鑫源食品 12月3日 市场监管 食品抽检」），系统即时判断是否允许"""
    official = ctx.require_person()
    rules, _ = rules_on(ctx.session, _today(ctx))
    service.require_inspector(official, rules)
    name, rest = split_first(args)
    when, rest = split_first(rest)
    category, reason = split_first(rest)
    if not (name and when and category):
        return Text(
            f"用法：{USAGE}\n例如：报备检查 鑫源食品 12月3日 市场监管 食品安全抽检\n"
            f"检查类别：{'、'.join(rules.categories)}"
        )
    day = parse_day(when, _today(ctx))
    if category not in rules.categories:
        raise Invalid(f"「{category}」不是检查类别，请从以下类别中选择：{'、'.join(rules.categories)}。")
    service.require_reason(reason)
    found = service.find_enterprises(ctx.session, name)
    if not found:
        raise Invalid(f"没有找到企业「{name}」，请写企业全称、简称中的关键字或统一社会信用代码。")
    if len(found) > 1:
        ctx.conversation.goto(
            ASK_ENTERPRISE, ids=[e.id for e in found], day=day.isoformat(), category=category, reason=reason
        )
        return Text(f"「{name}」对应多家企业，请回复序号：\n{numbered(tuple(e.name for e in found))}")
    return _register(ctx, found[0], day.isoformat(), category, reason)


@router.state(ASK_ENTERPRISE)
def enterprise_step(ctx: Context, text: str) -> HandlerResult:
    """Which of several enterprises the 报备 means."""
    data = ctx.conversation.data
    candidates = [ctx.session.get_one(Enterprise, i) for i in data["ids"]]
    name = pick(text, tuple(e.name for e in candidates), "企业")
    enterprise = next(e for e in candidates if e.name == name)
    ctx.conversation.end()
    return _register(ctx, enterprise, data["day"], data["category"], data["reason"])


def _register(ctx: Context, enterprise: Enterprise, day_text: str, category: str, reason: str) -> list[Reply]:
    done = service.register(
        ctx.session, ctx.require_person(), enterprise, date.fromisoformat(day_text), category, reason,
        ctx.now,
        channel=ctx.inbound.channel.value,
    )  # fmt: skip
    inspection = done.inspection
    for approver in done.approvers:
        ctx.notify(
            approver, approval_card(inspection, approver), key=f"insp:{inspection.id}:approve:{approver.id}"
        )
    for leader in done.leaders:
        ctx.notify(leader, Text(_leader_report(inspection)), key=f"insp:{inspection.id}:report:{leader.id}")
    _offer_joint_visit(ctx, inspection, done.joint)
    if inspection.status_enum is InspectionStatus.APPROVED:
        _tell_enterprise(ctx, inspection)
    return [Text(_answer(inspection, bool(done.approvers)))]


def _answer(inspection: Inspection, awaiting: bool) -> str:
    head = f"检查报备 {describe(inspection)} · {inspection.category}"
    outcome = inspection.outcome_enum
    if outcome is Outcome.BLOCKED:
        nxt = f"\n最近可检查日：{inspection.next_allowed_on:%Y-%m-%d}" if inspection.next_allowed_on else ""
        return f"{head}\n⛔ 不允许检查：{inspection.rule_text}{nxt}\n本次报备已记录并报送县领导。"
    verdict = "✅ 允许检查" if outcome is Outcome.ALLOWED else "⚠️ 豁免检查（已记录并报送县领导）"
    step = "已提交部门负责人审批，批准后将通知企业。" if awaiting else "已批准，已通知企业。"
    return f"{head}\n{verdict}：{inspection.rule_text}\n{step}"


def _leader_report(inspection: Inspection, note: str = "") -> str:
    kind = "豁免检查" if inspection.outcome_enum is Outcome.EXEMPT else "被拦截的检查报备"
    return (
        f"【企业宁静日】{inspection.department.name}{kind}{note} {describe(inspection)}，"
        f"{inspection.category}，事由：{inspection.reason}。依据：{inspection.rule_text}"
    )


def approval_card(inspection: Inspection, approver: Person) -> TemplateCard:
    """The head's card: who wants to inspect whom, when, why, and what the rules said; 批准 / 不批准."""
    return TemplateCard(
        card_type="button_interaction",
        task_id=f"insp-approve-{inspection.id}-{approver.id}",
        title="涉企检查报备待审批",
        desc=f"编号 {inspection.number}",
        quote=f"事由：{inspection.reason}",
        fields=(
            ("企业", inspection.enterprise.name),
            ("日期", f"{inspection.planned_on:%Y-%m-%d}"),
            ("类别", inspection.category),
            ("报备人", inspection.registered_by.name),
            ("规则", inspection.outcome_enum.label),
        ),
        buttons=(
            Button("批准", f"insp:ok:{inspection.number}", style=1),
            Button("不批准", f"insp:no:{inspection.number}", style=3),
        ),
        replace_text="已审批",
    )


@router.card_action("insp:ok:", roles=STAFF)
def approve_by_card(ctx: Context, number: str) -> HandlerResult:
    """批准 on an approval card."""
    return _relabelled(ctx, "已批准", lambda: _decide(ctx, number, True))


@router.card_action("insp:no:", roles=STAFF)
def reject_by_card(ctx: Context, number: str) -> HandlerResult:
    """不批准 on an approval card."""
    return _relabelled(ctx, "未批准", lambda: _decide(ctx, number, False))


@router.command("批准检查", roles=STAFF, usage="批准检查 <编号>")
def approve(ctx: Context, args: str) -> HandlerResult:
    """部门负责人批准涉企检查报备"""
    return _decide(ctx, args, True)


@router.command("不批准检查", roles=STAFF, usage="不批准检查 <编号>")
def reject(ctx: Context, args: str) -> HandlerResult:
    """部门负责人不批准涉企检查报备"""
    return _decide(ctx, args, False)


def _decide(ctx: Context, number: str, approve: bool) -> list[Reply]:
    inspection = service.decide_registration(
        ctx.session, ctx.require_person(), number, approve, ctx.now, channel=ctx.inbound.channel.value
    )
    verdict = "批准" if approve else "不批准"
    ctx.notify(
        inspection.registered_by,
        Text(f"您报备的检查 {describe(inspection)} 已{verdict}。"),
        key=f"insp:{inspection.id}:decided",
    )
    if approve:
        _tell_enterprise(ctx, inspection)
    return [Text(f"已{verdict}检查 {inspection.number}。")]


def _tell_enterprise(ctx: Context, inspection: Inspection) -> None:
    notice = Text(
        f"【入企检查告知】{inspection.department.name}将于 {inspection.planned_on:%Y-%m-%d} 到贵企业开展"
        f"{inspection.category}检查（编号 {inspection.number}），事由：{inspection.reason}。\n"
        f"检查后可发送「评价检查 {inspection.number} 满意」评价；"
        "如遇未报备或违规检查，请发送「举报检查 情况说明」。"
    )
    for contact in contacts_of(ctx.session, inspection.enterprise_id):
        ctx.notify(contact, notice, key=f"insp:{inspection.id}:told:{contact.id}")


def _offer_joint_visit(ctx: Context, inspection: Inspection, others: list[Inspection]) -> None:
    """综合查一次: everyone in the group gets a card offering the group's earliest date."""
    if not others:
        return
    group = sorted([*others, inspection], key=lambda i: (i.planned_on, i.id))
    day = group[0].planned_on
    plans = "；".join(f"{i.department.name} {i.planned_on:%m-%d} {i.category}" for i in group)
    for item in group:
        card = TemplateCard(
            card_type="button_interaction",
            task_id=f"insp-joint-{item.id}-{inspection.id}",
            title="综合查一次：建议联合检查",
            desc=f"{inspection.enterprise.name}",
            quote=f"多个部门计划检查同一企业：{plans}",
            fields=(("建议联合检查日", f"{day:%Y-%m-%d}"), ("本部门检查", item.number)),
            buttons=(Button(f"同意于{day:%m-%d}联合检查", f"insp:join:{item.number}:{day:%Y%m%d}", style=1),),
            replace_text="已同意联合检查",
        )
        ctx.notify(item.registered_by, card, key=f"insp:{item.id}:joint:{inspection.id}")


@router.card_action("insp:join:", roles=(Role.OFFICIAL,))
def join_by_card(ctx: Context, key: str) -> HandlerResult:
    """同意联合检查 on a 综合查一次 card: 「J2611-0003:20261201」, the number and the day it offered."""
    number, _, offered = key.partition(":")
    return _relabelled(ctx, "已同意联合检查", lambda: _join(ctx, number, _card_day(offered)))


@router.command("合并检查", "联合检查", roles=(Role.OFFICIAL,), usage="合并检查 <编号>")
def join(ctx: Context, args: str) -> HandlerResult:
    """同意综合查一次：把本部门的检查并入联合检查日"""
    return _join(ctx, args, None)


def _card_day(text: str) -> date | None:
    """The day in a card's key (20261201); None on a card made before keys carried it."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("这张卡片已失效，请发送「合并检查 编号」。") from None


def _join(ctx: Context, number: str, day: date | None) -> list[Reply]:
    joined = service.join_visit(
        ctx.session, ctx.require_person(), number, ctx.now, day=day, channel=ctx.inbound.channel.value
    )
    inspection = joined.inspection
    for other in joined.others:
        ctx.notify(
            other.registered_by,
            Text(f"综合查一次：{inspection.department.name}同意联合检查 {describe(inspection)}。"),
            key=f"insp:{inspection.id}:joined:{other.id}",
        )
    for leader in joined.leaders:  # the joint day is quiet: the visit goes ahead as an exemption
        ctx.notify(
            leader,
            Text(_leader_report(inspection, "（综合查一次改期）")),
            key=f"insp:{inspection.id}:report:{inspection.planned_on}:{leader.id}",
        )
    if joined.moved_from and inspection.status_enum is InspectionStatus.APPROVED:  # told another date
        notice = Text(
            f"【入企检查变更】{inspection.department.name}的{inspection.category}检查（{inspection.number}）"
            f"改为 {inspection.planned_on:%Y-%m-%d} 与其他部门联合进行（综合查一次），减少对企业的打扰。"
        )
        for contact in contacts_of(ctx.session, inspection.enterprise_id):
            ctx.notify(
                contact, notice, key=f"insp:{inspection.id}:moved:{inspection.planned_on}:{contact.id}"
            )
    exempt = f"\n⚠️ 联合检查日按豁免检查：{inspection.rule_text}（已报送县领导）。" if joined.leaders else ""
    return [Text(f"已同意联合检查：{describe(inspection)}。{exempt}")]


def _relabelled(ctx: Context, label: str, act: Callable[[], list[Reply]]) -> list[Reply]:
    try:
        replies = act()
    except Conflict as exc:
        replies, label = [Text(exc.message)], "已处理"
    if ctx.inbound.response_code:
        replies.append(CardUpdate(ctx.inbound.response_code, replace_name=label))
    return replies


@router.command("检查结果", roles=(Role.OFFICIAL,), usage="检查结果 <编号> <结果> [免罚 清单编号…]")
def record_result(ctx: Context, args: str) -> HandlerResult:
    """登记检查结果，可关联包容免罚清单条目（如「… 免罚 SCJG-003」）"""
    number, rest = split_first(args)
    result, codes = split_lenient(rest)
    inspection = service.record_result(
        ctx.session, ctx.require_person(), number, result, codes, ctx.now,
        channel=ctx.inbound.channel.value,
    )  # fmt: skip
    linked = f"，适用免罚清单：{'、'.join(inspection.lenient_codes)}" if inspection.lenient_codes else ""
    return Text(f"已登记检查 {inspection.number} 的结果{linked}。")


@router.command("检查列表", "我的检查", roles=tuple(Role), usage="检查列表")
def upcoming(ctx: Context, args: str) -> HandlerResult:
    """查看即将进行的入企检查（干部看本部门，企业看本企业）"""
    items = service.upcoming(ctx.session, ctx.require_person(), _today(ctx))
    if not items:
        return Text("近期没有已报备的入企检查。")
    lines = [
        f"{describe(i)} · {i.department.name} · {i.category}【{i.status_enum.label}】"
        f"{' 联合检查' if i.joint_key else ''}"
        for i in items[:15]
    ]
    return Text("近期入企检查：\n" + "\n".join(lines))


@router.command("宁静日", "宁静日规则", "企业宁静日", roles=tuple(Role), usage="宁静日")
def quiet_days(ctx: Context, args: str) -> HandlerResult:
    """查看企业宁静日规则和今天是否为宁静日"""
    today = _today(ctx)
    rules, policy = rules_on(ctx.session, today)
    reason = quiet_reason(rules, today)
    lines = [
        f"今天（{today:%Y-%m-%d}）{'是企业宁静日：' + reason if reason else '不是企业宁静日'}。",
        f"豁免类别：{'、'.join(rules.exempt_categories)}（宁静日内仍可检查，须记录理由）。",
        f"同一部门对同一企业每年检查上限：{rules.annual_cap}次。",
        f"规则版本：{policy.effective_from:%Y-%m-%d} 起施行（{policy.source}）"
        if policy
        else "规则版本：系统默认规则",
    ]
    return Text("企业宁静日 · 无事不扰\n" + "\n".join(lines))


@router.command("评价检查", roles=(Role.ENTERPRISE,), usage="评价检查 <编号> <满意|基本满意|不满意> [意见]")
def rate(ctx: Context, args: str) -> HandlerResult:
    """企业对已实施的入企检查评价"""
    number, rest = split_first(args)
    rating, comment = split_first(rest)
    if not number or rating not in service.RATINGS:
        raise Invalid(
            f"用法：评价检查 编号 {'|'.join(service.RATINGS)} [意见]，例如：评价检查 J2612-0001 满意。"
        )
    inspection = service.rate_visit(
        ctx.session, ctx.require_person(), number, rating, comment, ctx.now, channel=ctx.inbound.channel.value
    )
    return Text(f"感谢您的评价（{rating}）！检查 {inspection.number} 的评价已记录。")


@router.command("举报检查", roles=(Role.ENTERPRISE,), usage="举报检查 <情况说明>")
def report(ctx: Context, args: str) -> HandlerResult:
    """举报未报备或违反企业宁静日的检查，转督查部门办理"""
    person = ctx.require_person()
    if not args.strip():
        raise Invalid(
            "请写明被举报检查的时间、部门和情况，例如："
            "举报检查 11月27日有人自称环保局来厂检查，未出示任何手续。"
        )
    rules, _ = rules_on(ctx.session, _today(ctx))
    office = ctx.session.scalar(select(Department).where(Department.code == rules.supervising_department))
    if office is None:
        raise NotAllowed("尚未配置受理举报的督查部门，请联系管理员。")
    r = order_rules(ctx)
    category = REPORT_CATEGORY if REPORT_CATEGORY in r.categories else r.categories[-1]
    transition = orders.file_order(
        ctx.session, person, f"【举报检查】{args}", category, "紧急", ctx.now,
        mode=r.clock_mode, categories=r.categories, department=office, channel=ctx.inbound.channel.value,
    )  # fmt: skip
    settle(ctx, transition)
    order = transition.order
    return [
        Text(
            f"举报已受理，单号 {order.number}，已转{office.name}办理。我们会保护您的信息，办理结果将通知您。"
        ),
        status_card(order, person, ctx.now, heading="检查举报已受理"),
    ]


def describe(inspection: Inspection) -> str:
    """「J2612-0001（示范县鑫源食品有限公司，2026-12-03）」."""
    return f"{inspection.number}（{inspection.enterprise.name}，{inspection.planned_on:%Y-%m-%d}）"


_CODE = r"[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]+(?:[-－][0-9A-Za-z０-９Ａ-Ｚａ-ｚ]+)*"
_SEPARATOR = r"[\s,，、;；]+"
# Only a trailing 「免罚 SCJG-003、SCJG-007」 names codes; 免罚 elsewhere is the result's own words.
_LENIENT_TAIL = re.compile(rf"免罚[\s:：]*(?P<codes>{_CODE}(?:{_SEPARATOR}{_CODE})*)\s*$")
_BEFORE_KEYWORD = re.compile(r"(?:^|[\s,，。;；])$")


def split_lenient(text: str) -> tuple[str, list[str]]:
    """「已整改 免罚 SCJG-003、SCJG-007」 → the result and the 免罚清单 codes (none without that ending)."""
    match = _LENIENT_TAIL.search(text)
    if match is None:
        return text, []
    before = text[: match.start()]
    # 「依法免罚 SCJG-003」: the keyword is part of the sentence and stays in the result.
    result = before if _BEFORE_KEYWORD.search(before) else text[: match.start("codes")]
    return result.strip().rstrip(",，;；").strip(), re.split(_SEPARATOR, match.group("codes"))


def _today(ctx: Context) -> date:
    return local(as_utc(ctx.now)).date()
