"""政策匹配 in chat: the 明白卡, one policy's full reasoning, and the enterprise profile (企业信息)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import func, select

from bot.clock import as_utc, local
from bot.errors import Invalid, NotAllowed, NotFound
from bot.models import Enterprise, Person, Role
from bot.replies import Button, Reply, TemplateCard, Text
from bot.routing import Context, HandlerResult, Router
from bot.weblinks import Purpose, link_url
from handlers.complaints.flow import clicked
from handlers.complaints.queries import bound_enterprises
from handlers.inspections.service import find_enterprises
from handlers.policies import pushes
from handlers.policies.attributes import ATTRIBUTES, find_attribute, questions
from handlers.policies.conditions import Outcome
from handlers.policies.corrections import profile_rows, record_value, rematch_later
from handlers.policies.matching import Result, match
from handlers.policies.models import Policy, PolicyAnswer, ProfileSource
from handlers.policies.profile import profile_of, set_value

router = Router("policies")

STAFF = (Role.OFFICIAL, Role.LEADER, Role.ADMIN)
MAX_QUALIFIED, MAX_NEAR, MAX_QUESTIONS, MAX_BUTTONS = 8, 5, 4, 5
TEXT_BYTES = 1900  # one WeCom text holds 2048 bytes (UTF-8) and the platform cuts off the end
LINE_BYTES = 450  # one line of a card at most (a 200-character title or contact is cut)
EXCERPT_BYTES = 150  # at least this much of the benefit and of how to apply, in the reasoning
CLOSING = "发送「政策 编号」查看逐条理由。"
ASK_HEAD = "补充以下信息可得到更准确的结果（发送「企业信息 项目 值」，如「企业信息 营业收入 1800万」）："
_CONDITION_LINE = re.compile(r"\d+\. ")  # 「1. 须为高新技术企业——符合」: explain numbers each condition
STALE_CARD = "这张卡片已失效，请重新发送「政策」查看最新的明白卡。"


@router.command("政策", "政策匹配", "明白卡", roles=tuple(Role), usage="政策 [编号] / 政策 <企业> [编号]")
def card(ctx: Context, args: str) -> HandlerResult:
    """查看本企业可享受的惠企政策（明白卡）；「政策 编号」看逐条理由；干部可查所联系企业"""
    person = ctx.require_person()
    enterprise, rest = _subject(ctx, person, args)
    if rest:
        return Text(_reasoning(ctx, enterprise, rest))
    results = match(ctx.session, enterprise.id, _today(ctx))
    _record(ctx, enterprise, results)
    stamp = int(ctx.now.timestamp())
    if not results:  # a card needs a button to show: nothing matched, nothing to open
        return Text(_card_text(enterprise, results))
    card = _summary_card(enterprise, results, person, stamp)
    if person.role_enum is Role.ENTERPRISE:  # the web page shows the contact's own 明白卡 in full
        card = replace(card, url=link_url(ctx.services, ctx.clock, person.id, Purpose.POLICIES))
    return [Text(_card_text(enterprise, results)), card]


@router.card_action("policy:show:")
def show_by_card(ctx: Context, key: str) -> HandlerResult:
    """查看 on a 明白卡: one policy's reasoning for the enterprise the card was about."""
    code, _, raw_id = key.partition(":")
    if not (code and raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 9):
        raise Invalid(STALE_CARD)  # not a key this feature made (²3, a number past the id column …)
    enterprise = _enterprise_for(ctx, ctx.require_person(), int(raw_id))
    return Text(_reasoning(ctx, enterprise, code))


def _subject(ctx: Context, person: Person, args: str) -> tuple[Enterprise, str]:
    """Whose card: the contact's own enterprise, or (for staff) the one named first; and the rest."""
    if person.role_enum is Role.ENTERPRISE:
        return _own_enterprise(ctx, person), args.strip()
    name, _, rest = args.strip().partition(" ")
    if not name:
        raise Invalid("请写明企业，例如：政策 鑫源食品，或「政策 鑫源食品 XGX-2026-01」查看逐条理由。")
    found = find_enterprises(ctx.session, name)
    if len(found) != 1:
        names = "、".join(e.name for e in found[:5])
        raise Invalid(
            f"「{name}」对应多家企业：{names}，请写全称。" if found else f"没有找到企业「{name}」。"
        )
    return _enterprise_for(ctx, person, found[0].id), rest.strip()


def _own_enterprise(ctx: Context, person: Person) -> Enterprise:
    bound = bound_enterprises(ctx.session, person)
    if not bound:
        raise NotAllowed("您还没有绑定企业。请先发送「绑定 统一社会信用代码 姓名」。")
    return bound[0]  # several: the first; staff can look up the others by name


def _enterprise_for(ctx: Context, person: Person, enterprise_id: int | None) -> Enterprise:
    """The enterprise, if `person` may see its card: its contacts, 包联部门 officials, leaders, admins."""
    enterprise = ctx.session.get(Enterprise, enterprise_id) if enterprise_id else None
    if enterprise is None:
        raise NotFound("没有找到该企业。")
    if person.role_enum in (Role.LEADER, Role.ADMIN):
        return enterprise
    if (
        person.role_enum is Role.OFFICIAL
        and person.department_id is not None  # no department is not the 包联部门 of one without
        and person.department_id == enterprise.contact_department_id
    ):
        return enterprise
    if enterprise.id in {e.id for e in bound_enterprises(ctx.session, person)}:
        return enterprise
    raise NotAllowed(f"只有「{enterprise.name}」的联系人、包联部门干部和县领导可以查看或补充它的政策信息。")


def _today(ctx: Context) -> date:
    return local(as_utc(ctx.now)).date()


def _record(ctx: Context, enterprise: Enterprise, results: list[Result]) -> None:
    """Keep the answer (policy versions and inputs), so it can be explained later."""
    ctx.session.add(
        PolicyAnswer(
            enterprise_id=enterprise.id,
            asked_by_id=ctx.person.id if ctx.person else None,
            asked_at=ctx.now,
            results=[r.record() for r in results],
        )
    )


def _summary_card(enterprise: Enterprise, results: list[Result], person: Person, stamp: int) -> TemplateCard:
    """The 明白卡 at a glance: how many policies, the sum of known amounts, a button per top policy."""
    qualified = [r for r in results if r.outcome is Outcome.QUALIFIED]
    amount = sum(r.policy.amount_wan or 0 for r in qualified)
    return TemplateCard(
        card_type="button_interaction",
        task_id=f"policy-card-{enterprise.id}-{person.id}-{stamp}",  # one per asking
        title="惠企政策明白卡",
        desc=enterprise.name,
        sub_title=(
            f"可享受{len(qualified)}项（可确定金额合计约{amount:g}万元），"
            f"另有{len(results) - len(qualified)}项差一个条件。"
        ),
        buttons=tuple(
            Button(f"查看 {r.policy.code}", f"policy:show:{r.policy.code}:{enterprise.id}", style=4)
            for r in results[:MAX_BUTTONS]
        ),
        replace_text="已查看",
    )


@dataclass(frozen=True)
class _Section:
    """A part of the 明白卡: its heading, its lines (as many as fit are shown), how many in all."""

    head: str
    lines: list[str]
    total: int
    left_out: str  # 「……另有{}项未列出」: what did not fit or is past the cap


def _card_text(enterprise: Enterprise, results: list[Result]) -> str:
    """The 明白卡's text: what it qualifies for and how to get it, what it nearly does, what to tell us.

    One text message: qualified lines first, then near misses, then questions, each while it fits in
    TEXT_BYTES; what is left out is counted (……另有N项), and the closing line is always there.
    """
    qualified = [r for r in results if r.outcome is Outcome.QUALIFIED]
    near = [r for r in results if r.outcome is Outcome.NEAR]
    asks = questions(key for r in near for key in r.missing)
    sections = [
        _Section(
            f"✅ 可享受（{len(qualified)}项）：" if qualified else "暂未匹配到可直接享受的政策。",
            [_qualified_line(r) for r in qualified[:MAX_QUALIFIED]],
            len(qualified),
            "……另有{}项未列出",
        )
    ]
    if near:
        lines = [_near_line(r) for r in near[:MAX_NEAR]]
        sections.append(_Section(f"🔶 差一个条件（{len(near)}项）：", lines, len(near), "……另有{}项未列出"))
    if asks:
        sections.append(
            _Section(
                ASK_HEAD,
                [_clip(f"· {q}", LINE_BYTES) for q in asks[:MAX_QUESTIONS]],
                len(asks),
                "……另有{}项待补充",
            )
        )
    title = f"【{_clip(enterprise.name, LINE_BYTES // 2)} · 惠企政策明白卡】"

    def render(shown: list[int]) -> list[str]:
        lines = [title]
        for section, n in zip(sections, shown, strict=True):
            lines.append(section.head)
            lines.extend(section.lines[:n])
            if section.total > n:
                lines.append(section.left_out.format(section.total - n))
        return [*lines, CLOSING]

    shown = [0] * len(sections)  # headings, counts and the closing line alone always fit
    for i, section in enumerate(sections):
        while shown[i] < len(section.lines):
            shown[i] += 1
            if _size(render(shown)) > TEXT_BYTES:
                shown[i] -= 1  # this section stops here; a shorter line of the next may still fit
                break
    return "\n".join(render(shown))


def _qualified_line(result: Result) -> str:
    p = result.policy
    amount = f"，{p.amount_wan:g}万元" if p.amount_wan else ""
    deadline = f"，{p.deadline:%m-%d}前" if p.deadline else ""
    manual = "（部分条件需人工核实）" if result.assessment.manual else ""
    return _clip(f"· {p.code} {p.title}{amount}｜{p.mode}{deadline}｜{p.contact}{manual}", LINE_BYTES)


def _near_line(result: Result) -> str:
    p = result.policy
    (failing,) = result.assessment.failing
    line = f"· {p.code} {p.title}：{failing.condition.on(result.assessment.day)}（{failing.verdict.label}）"
    return _clip(line, LINE_BYTES)


def _reasoning(ctx: Context, enterprise: Enterprise, code_text: str) -> str:
    """One policy's full reasoning for the enterprise: each condition, its value and source, the verdict.

    One text message: every condition if they fit (else as many as fit, the rest counted), and
    excerpts of the benefit and of how to apply sharing what is left of TEXT_BYTES.
    """
    typed = unicodedata.normalize("NFKC", code_text).strip()
    code = typed.upper()  # codes are imported as written (xkj-gq-2026 too): compared case-insensitively
    results = [
        r
        for r in match(ctx.session, enterprise.id, _today(ctx), everything=True)
        if r.policy.code.upper() == code
    ]
    if not results:
        known = ctx.session.scalar(select(Policy.id).where(func.upper(Policy.code) == code).limit(1))
        raise NotFound(f"政策 {code} 当前不在有效期内。" if known else f"没有编号为 {code} 的政策。")
    results.sort(key=lambda r: r.policy.code != typed)  # two codes differing in case: the one written
    result = results[0]
    p = result.policy
    head, *explained = result.explanation()
    groups: list[list[str]] = []  # the lines of each condition (its value, a group's children)
    for line in explained:
        if not groups or _CONDITION_LINE.match(line):
            groups.append([])
        groups[-1].append(_clip(line, LINE_BYTES))
    tail = [_clip(f"咨询：{p.contact}" + (f"｜{p.link}" if p.link else ""), LINE_BYTES)]
    if result.missing:
        tail.append(_clip("请补充：" + "；".join(questions(result.missing)), LINE_BYTES))
    benefit, how_to = f"待遇：{p.benefit}", f"办理：{p.mode}。{p.how_to}"

    def render(shown: int, benefit_cap: int = EXCERPT_BYTES, how_to_cap: int = EXCERPT_BYTES) -> list[str]:
        lines = [_clip(head, LINE_BYTES), *(line for group in groups[:shown] for line in group)]
        if shown < len(groups):
            lines.append(f"……另有{len(groups) - shown}条条件未列出，请咨询办理部门")
        return [*lines, _clip(benefit, benefit_cap), _clip(how_to, how_to_cap), *tail]

    shown = 0  # the head, short excerpts and the tail alone always fit
    while shown < len(groups) and _size(render(shown + 1)) <= TEXT_BYTES:
        shown += 1
    spare = TEXT_BYTES - _size(render(shown))
    return "\n".join(render(shown, *_shared(_size([benefit]), _size([how_to]), spare)))


def _shared(first: int, second: int, spare: int) -> tuple[int, int]:
    """Byte caps for two excerpts given EXCERPT_BYTES each and `spare` bytes more between them."""
    floor, half = EXCERPT_BYTES, spare // 2
    more_first, more_second = max(first - floor, 0), max(second - floor, 0)
    if more_first + more_second <= spare:
        return first, second
    if more_first <= half:
        return first, floor + spare - more_first
    if more_second <= half:
        return floor + spare - more_second, second
    return floor + half, floor + spare - half


def _size(lines: list[str]) -> int:
    """The UTF-8 bytes of the lines as one text."""
    return len("\n".join(lines).encode("utf-8"))


def _clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, ending in 「…」 when cut (never mid-character)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode("utf-8", errors="ignore") + "…"


@router.command("企业信息", "企业画像", roles=tuple(Role), usage="企业信息 [项目 值]")
def profile(ctx: Context, args: str) -> HandlerResult:
    """查看或补充本企业信息（如「企业信息 营业收入 1800万」），用于政策匹配"""
    person = ctx.require_person()
    if person.role_enum is Role.ENTERPRISE:
        enterprise, rest = _own_enterprise(ctx, person), args.strip()
    else:
        enterprise, rest = _subject(ctx, person, args)
    if not rest:
        return Text(_profile_text(ctx, enterprise))
    name, _, raw = rest.partition(" ")
    attribute = find_attribute(name)
    if attribute is None:
        labels = "、".join(a.label for a in ATTRIBUTES.values())
        raise Invalid(f"「{name}」不是企业信息项目，可填写：{labels}。")
    source = ProfileSource.ENTERPRISE if person.role_enum is Role.ENTERPRISE else ProfileSource.OFFICIAL
    value = record_value(ctx, enterprise, attribute, raw, source)
    rematch_later(ctx, enterprise.id)
    shown = attribute.show(value.value)
    return Text(f"已更新{enterprise.name}的{attribute.label}：{shown}。发送「政策」查看最新的明白卡。")


ASK_PROFILE = "profile.ask"  # the guided 完善信息: one missing attribute at a time
SKIP_WORDS, DONE_WORDS = frozenset({"跳过", "不知道", "不清楚"}), frozenset({"完成", "结束", "好了"})
ONLY_WHEN_ASKED = frozenset({"investment_wan"})  # a project's figure: asked only when a policy needs it


@router.command("完善信息", "完善企业信息", roles=(Role.ENTERPRISE,), usage="完善信息")
def fill_in(ctx: Context, args: str) -> HandlerResult:
    """逐项补充政策匹配需要的企业信息（先问最能增加可享政策的项目）"""
    enterprise = _own_enterprise(ctx, ctx.require_person())
    keys = _missing_keys(ctx, enterprise)
    if not keys:
        return Text("贵企业的信息已经齐全。发送「政策」查看明白卡，发送「企业信息」核对各项。")
    ctx.conversation.goto(ASK_PROFILE, enterprise=enterprise.id, keys=keys, changed=False)
    return Text(f"共{len(keys)}项待补充，回复「跳过」略过一项，「完成」随时结束。\n{_question(keys[0])}")


def _missing_keys(ctx: Context, enterprise: Enterprise) -> list[str]:
    """Attributes with no value: those that would settle a near-miss first, then the rest."""
    facts = profile_of(ctx.session, enterprise.id, ctx.now)
    wanted = [key for r in match(ctx.session, enterprise.id, _today(ctx)) for key in r.missing]
    ordered = dict.fromkeys([*wanted, *(k for k in ATTRIBUTES if k not in ONLY_WHEN_ASKED)])
    return [key for key in ordered if facts.get(key) is None or facts[key].value is None]


def _question(key: str) -> str:
    return questions([key])[0]


@router.state(ASK_PROFILE)
def fill_in_step(ctx: Context, text: str) -> HandlerResult:
    """One answer of the guided 完善信息 (checked now: a bad value is asked again)."""
    data = ctx.conversation.data
    keys: list[str] = data["keys"]
    answer = text.strip()
    changed = bool(data.get("changed"))
    if answer in DONE_WORDS:
        return _finish_filling(ctx, data["enterprise"], changed)
    if answer not in SKIP_WORDS:
        enterprise = ctx.session.get_one(Enterprise, data["enterprise"])
        set_value(ctx.session, enterprise, keys[0], answer, source=ProfileSource.ENTERPRISE.value,
                  by=ctx.require_person(), now=ctx.now)  # fmt: skip
        changed = True
    if len(keys) == 1:
        return _finish_filling(ctx, data["enterprise"], changed)
    ctx.conversation.goto(ASK_PROFILE, enterprise=data["enterprise"], keys=keys[1:], changed=changed)
    return Text(_question(keys[1]))


def _finish_filling(ctx: Context, enterprise_id: int, changed: bool) -> Text:
    ctx.conversation.end()
    if not changed:
        return Text("已结束，未作修改。")
    ctx.audit("profile.fill_in", "enterprise", enterprise_id)
    rematch_later(ctx, enterprise_id)
    return Text("谢谢，企业信息已更新。发送「政策」查看最新的明白卡。")


def _profile_text(ctx: Context, enterprise: Enterprise) -> str:
    lines = [f"【{enterprise.name} · 企业信息】"]
    for row in profile_rows(ctx.session, enterprise, ctx.now):
        shown = "未登记" if row.shown is None else f"{row.shown}（{row.provenance}）"
        lines.append(f"· {row.attribute.label}：{shown}")
    lines.append("补充或更正请发送「企业信息 项目 值」，如「企业信息 从业人数 120」。")
    person = ctx.require_person()
    if person.role_enum is Role.ENTERPRISE:  # the contact's own profile, one field per attribute
        lines.append(f"在网页上查看和修改：{link_url(ctx.services, ctx.clock, person.id, Purpose.PROFILE)}")
    return "\n".join(lines)


@router.card_action("policy:push:ok:", roles=(Role.ENTERPRISE,))
def confirm_push(ctx: Context, key: str) -> HandlerResult:
    """确认享受 on a 免申即享 card: the 包联部门 is asked to deliver it."""
    return clicked(ctx, "已确认享受", lambda: _answer_push(ctx, key, True))


@router.card_action("policy:push:no:", roles=(Role.ENTERPRISE,))
def decline_push(ctx: Context, key: str) -> HandlerResult:
    """不需要 on a 免申即享 card."""
    return clicked(ctx, "已回复不需要", lambda: _answer_push(ctx, key, False))


def _answer_push(ctx: Context, raw_id: str, accept: bool) -> list[Reply]:
    push, messages = pushes.answer_push(
        ctx.session, ctx.require_person(), pushes.parse_push_id(raw_id), accept, ctx.now
    )
    _send(ctx, messages)
    if accept:
        return [Text(f"已确认享受「{push.policy.title}」（P{push.id}），包联部门将为您办理兑现。")]
    return [Text(f"已记录：贵企业暂不需要「{push.policy.title}」（P{push.id}）。")]


@router.command("兑现", roles=STAFF, usage="兑现 <推送编号>")
def deliver(ctx: Context, args: str) -> HandlerResult:
    """登记免申即享政策已兑现（企业确认享受后）"""
    push, messages = pushes.deliver(ctx.session, ctx.require_person(), pushes.parse_push_id(args), ctx.now)
    _send(ctx, messages)
    return Text(f"已登记兑现：{push.enterprise.name}「{push.policy.title}」（P{push.id}），已通知企业。")


def _send(ctx: Context, messages: list[pushes.Message]) -> None:
    for message in messages:
        ctx.notify(message.person, message.reply, key=message.key)
