"""The authorization matrix: every chat command and card button × every kind of user (issue 9, item 3).

One row per command or card action: what is sent, who may do it, the text that means it worked,
the object's state it needs, and what it changes. Each cell runs through the intake (as the
webhook would) with the clicking / typing user's own identity: an allowed user gets the success
text and the change; anyone else gets a clear Chinese refusal, and nothing stored changes — no
state, no version, no audit row, no outgoing message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from bot.intake import SORRY
from bot.models import EnterpriseMember, Role
from bot.replies import Text
from bot.routing import Dispatcher, normalise
from handlers import ALL_ROUTERS
from handlers.complaints.models import WorkOrder
from handlers.inspections.models import Inspection
from handlers.policies.models import ProfileValue
from handlers.projects.models import MonthlyReport, SupervisionCard, WeeklyReport
from tests import authz
from tests.authz import (
    ADMIN,
    DEPT,
    LEADER,
    OTHER_DEPT,
    OTHER_FIRM,
    OWN,
    ROLES,
    UNKNOWN,
    USERS,
    Effect,
    Setup,
    adds,
    becomes,
    event,
    nothing,
)
from tests.builders import Chat

EVERYONE = frozenset(ROLES)
KNOWN = EVERYONE - {UNKNOWN}
CONTACTS = frozenset({OWN, OTHER_FIRM})  # each for his own enterprise
HOLDERS = frozenset({DEPT, LEADER})  # the holding department, and leaders (全程盯单)
OVERSEERS = frozenset({DEPT, LEADER, ADMIN})  # the 包联部门, leaders, admins
# A refusal says why: a role, a relation, or that the thing is not there for this person.
REFUSAL = re.compile(r"仅限|只有|须由|没有找到|没有编号|还没有|尚未|无需|不能|请写明|不是|不在")


@dataclass(frozen=True)
class Row:
    """One command or card action: the input, who may, the success text, the state, the change."""

    name: str
    send: str  # a text, or a card button's key after "click:"; {placeholders} from the setup
    allowed: frozenset[str]
    ok: str  # a regex the allowed answer matches and no refusal does
    setup: Setup = nothing
    effect: Effect | None = None  # None: a query, nothing stored may change
    then: str = ""  # the answer to the question a button asks, sent next by the same user
    holes: dict[str, str] = field(default_factory=dict)  # role → why it is a known hole (xfail)

    @property
    def target(self) -> str:
        """The registered command name or card-action prefix this row exercises."""
        if self.send.startswith("click:"):
            key = self.send.removeprefix("click:")
            return max((p for p in PREFIXES if key.startswith(p)), key=len)
        found = DISPATCHER.match(normalise(self.send))
        assert found, self.send
        return found[0].name


def say(name: str, text: str, allowed: frozenset[str] | set[str], ok: str, **kw) -> Row:
    return Row(name, text, frozenset(allowed), ok, **kw)


def _card(status: str) -> Effect:
    """The 督办卡 reached `status`."""
    return becomes(lambda card: card.status == status)


def click(key: str, allowed: frozenset[str] | set[str], ok: str, name: str = "", **kw) -> Row:
    return Row(name or key.split("{")[0], f"click:{key}", frozenset(allowed), ok, **kw)


# Known holes, each an xfail(strict) cell: fixing the product turns it into a failure to remove here.
s = authz  # the setups (s.dispatched, s.pushed …), short
TABLE = [
    # --- core: anyone, even before he is known
    say("help", "帮助", EVERYONE, "可用命令"),
    say("whoami", "我是谁", EVERYONE, "姓名：|尚未登记"),
    # --- 绑定: a contact (or a newcomer) asks for the firm; its 包联部门 or an admin decides
    say("bind", "绑定 {uscc} 新人", {OTHER_FIRM, UNKNOWN}, "已提交绑定申请",
        effect=adds(EnterpriseMember, status="pending")),  # OWN: already bound
    say("bind-ok", "同意绑定 B{member}", {DEPT, ADMIN}, "已同意绑定申请", setup=s.pending_binding,
        effect=becomes(lambda m: m.status == "confirmed")),
    say("bind-no", "拒绝绑定 B{member}", {DEPT, ADMIN}, "已拒绝绑定申请", setup=s.pending_binding,
        effect=becomes(lambda m: m.status == "rejected")),
    say("bind-list", "绑定申请", {DEPT, OTHER_DEPT, ADMIN}, "等待确认的绑定申请", setup=s.pending_binding),
    click("bind:ok:{member}", {DEPT, ADMIN}, "已同意绑定申请", setup=s.pending_binding,
          effect=becomes(lambda m: m.status == "confirmed")),
    # --- 诉求: the enterprise files, views and signs off
    say("file", "诉求 路灯坏了，夜间运输不安全", CONTACTS, "诉求已受理", effect=adds(WorkOrder)),
    say("view", "诉求 {order}", {OWN, DEPT, LEADER, ADMIN}, "办理记录", setup=s.dispatched),
    say("mine", "我的诉求", CONTACTS, "本企业的诉求|还没有提交过诉求", setup=s.dispatched),
    say("rate", "评价 {order} 满意", {OWN}, "感谢您的评价", setup=s.resolved,
        effect=becomes(lambda o: o.state == "closed")),
    click("order:rate:{order}:{v}:满意", {OWN}, "感谢您的评价", setup=s.resolved,
          effect=becomes(lambda o: o.state == "closed")),
    click("order:rate:{order}:{v}:不满意", {OWN}, "已退回.*重新办理", setup=s.resolved, then="只修了一半",
          effect=becomes(lambda o: o.rework_count == 1), name="order:rate:unhappy"),  # 返工
    click("order:show:{order}:{v}", {OWN, DEPT, LEADER, ADMIN}, "办理记录", setup=s.dispatched),
    # --- 诉求: the holding department (and leaders) work it; coordinators 分派; leaders 批准延期, 督办
    say("todo", "待办", {DEPT, OTHER_DEPT, LEADER, ADMIN}, "待办", setup=s.dispatched),
    say("take", "接单 {order}", HOLDERS, "已接单", setup=s.dispatched,
        effect=becomes(lambda o: o.state == "picked_up")),
    click("order:take:{order}:{v}", HOLDERS, "已接单", setup=s.dispatched,
          effect=becomes(lambda o: o.state == "picked_up")),
    say("transfer", "转办 {order} 县发改局 属发改职责", HOLDERS, "转办至县发改局", setup=s.dispatched,
        effect=becomes(lambda o: o.holding_department.code == "FGJ")),
    click("order:xfer:{order}:{v}", HOLDERS, "转办至县发改局", setup=s.dispatched, then="县发改局 属发改职责",
          effect=becomes(lambda o: o.holding_department.code == "FGJ")),
    say("return", "退回 {order} 非本部门职责", HOLDERS, "已退回诉求", setup=s.dispatched,
        effect=becomes(lambda o: o.state == "returned")),
    click("order:back:{order}:{v}", HOLDERS, "已退回诉求", setup=s.dispatched, then="1 应由发改局办理",
          effect=becomes(lambda o: o.state == "returned")),
    say("resolve", "办结 {order} 已修复路面", HOLDERS, "已办结", setup=s.picked_up,
        effect=becomes(lambda o: o.state == "resolved")),
    say("extend", "延期 {order} 3天 等待省厅批复", HOLDERS, "已提交.*延期申请", setup=s.picked_up,
        effect=becomes(lambda o: o.extension_requested_until is not None)),
    say("ext-ok", "批准延期 {order}", {LEADER}, "已批准", setup=s.extension_asked,
        effect=becomes(lambda o: o.extended_until is not None)),
    say("ext-no", "驳回延期 {order}", {LEADER}, "已驳回", setup=s.extension_asked,
        effect=becomes(lambda o: o.extension_requested_until is None and o.extended_until is None)),
    click("order:extok:{order}:{v}", {LEADER}, "已批准", setup=s.extension_asked,
          effect=becomes(lambda o: o.extended_until is not None)),
    click("order:extno:{order}:{v}", {LEADER}, "已驳回", setup=s.extension_asked,
          effect=becomes(lambda o: o.extension_requested_until is None and o.extended_until is None)),
    say("assign", "分派 {order} 原部门", {LEADER, ADMIN}, "分派至", setup=s.returned,  # office officials too
        effect=becomes(lambda o: o.state == "dispatched")),
    click("order:keep:{order}:{v}", {LEADER, ADMIN}, "分派至", setup=s.returned,
          effect=becomes(lambda o: o.state == "dispatched")),
    click("order:urge:{order}:{v}", {LEADER}, "已督办", setup=s.dispatched, effect=event("escalate")),
    # --- 企业宁静日: enforcement officials register, the department head approves, the firm rates
    say("inspect", "报备检查 {firm} 11月26日 市场监管 食品抽检", {DEPT}, "允许检查", effect=adds(Inspection)),
    say("insp-ok", "批准检查 {insp}", {DEPT}, "已批准检查", setup=s.pending_inspection,
        effect=becomes(lambda i: i.status == "approved")),
    say("insp-no", "不批准检查 {insp}", {DEPT}, "已不批准检查", setup=s.pending_inspection,
        effect=becomes(lambda i: i.status == "rejected")),
    click("insp:ok:{insp}", {DEPT}, "已批准检查", setup=s.pending_inspection,
          effect=becomes(lambda i: i.status == "approved")),
    click("insp:no:{insp}", {DEPT}, "已不批准检查", setup=s.pending_inspection,
          effect=becomes(lambda i: i.status == "rejected")),
    say("join", "合并检查 {insp}", {DEPT}, "已同意联合检查", setup=s.joint_inspections,
        effect=becomes(lambda i: i.planned_on == authz.LATER)),
    click("insp:join:{insp}:{day}", {DEPT}, "已同意联合检查", setup=s.joint_inspections,
          effect=becomes(lambda i: i.planned_on == authz.LATER)),
    say("result", "检查结果 {insp} 未发现问题", {DEPT}, "已登记检查", setup=s.approved_inspection,
        effect=becomes(lambda i: i.status == "done")),
    say("insp-list", "检查列表", KNOWN, "入企检查", setup=s.approved_inspection),
    say("quiet", "宁静日", KNOWN, "企业宁静日"),
    say("lenient", "免罚 营业执照", KNOWN, "包容免罚清单"),
    say("insp-rate", "评价检查 {insp} 满意", {OWN}, "评价已记录", setup=s.approved_inspection,
        effect=becomes(lambda i: i.rating == "满意")),
    say("report", "举报检查 昨天有人自称执法人员来厂检查", CONTACTS, "举报已受理",
        effect=adds(WorkOrder, category="执法检查")),
    # --- 政策匹配: the firm's contacts, its 包联部门, leaders and admins see and fill in its profile
    say("card", "政策", CONTACTS, "惠企政策明白卡"),  # his own firm's card (the other firm matches nothing)
    say("card-of", "政策 {firm}", OVERSEERS, "惠企政策明白卡"),  # the staff's form: they name it
    click("policy:show:{code}:{firm_id}", {OWN, DEPT, LEADER, ADMIN}, "高新技术企业认定奖励"),
    say("profile", "企业信息 从业人数 120", CONTACTS, "已更新",  # the contact's form
        effect=adds(ProfileValue, attribute="employees")),
    say("profile-of", "企业信息 {firm} 从业人数 120", OVERSEERS, "已更新",  # the staff's form
        effect=adds(ProfileValue, attribute="employees")),
    say("fill-in", "完善信息", CONTACTS, "待补充|已经齐全"),
    click("policy:push:ok:{push}", {OWN}, "已确认享受", setup=s.pushed,
          effect=becomes(lambda p: p.status == "confirmed")),
    click("policy:push:no:{push}", {OWN}, "暂不需要", setup=s.pushed,
          effect=becomes(lambda p: p.status == "declined")),
    say("deliver", "兑现 P{push}", OVERSEERS, "已登记兑现", setup=s.confirmed_push,
        effect=becomes(lambda p: p.status == "delivered")),
    # --- 重点项目: the task force (and the department's head) reports; staff look at their projects
    say("progress", "进展 XM001 白 投资100万 形象进度:主体施工", {DEPT}, "已记录",
        effect=adds(WeeklyReport)),
    click("proj:colour:XM001:2026-11-23:white", {DEPT}, "本周完成投资多少"),
    say("monthly", "月汇报 XM001 完成投资:100万 形象进度:主体施工", {DEPT}, "已记录",
        effect=adds(MonthlyReport)),
    say("projects", "我的项目", {DEPT, OTHER_DEPT, LEADER, ADMIN}, "重点项目（|名下没有重点项目"),
    say("project", "项目 XM001", {DEPT, LEADER, ADMIN}, "包抓县领导"),
    say("ledger", "台账", {DEPT, OTHER_DEPT, LEADER, ADMIN}, "正在处理"),  # slow: a worker writes the XLSX
    say("exports", "导出 诉求", {DEPT, OTHER_DEPT, LEADER, ADMIN}, "正在处理"),  # the register for a period
    # --- digests: staff see their scope (a leader his 分管, an official his department); slow
    say("daily", "日报", {DEPT, OTHER_DEPT, LEADER, ADMIN}, "正在处理"),
    say("weekly", "周报", {DEPT, OTHER_DEPT, LEADER, ADMIN}, "正在处理"),
    say("ranking", "排名 上月", {DEPT, OTHER_DEPT, LEADER, ADMIN}, "正在处理"),
    click("digest:project:XM001", {DEPT, LEADER, ADMIN}, "包抓县领导"),
    click("digest:instruct:XM001", {LEADER}, "作出批示"),
    # --- 督办卡/批示卡: the project's leader (or an admin) issues and clears; the department answers
    say("sv-list", "督办", {DEPT, OTHER_DEPT, LEADER, ADMIN}, "督办卡|没有需要您处理", setup=s.issued_card),
    say("sv-issue", "签发 {card}", {LEADER, ADMIN}, "已签发", setup=s.drafted_card, effect=_card("issued")),
    say("sv-dismiss", "不签发 {card} 已另行安排", {LEADER, ADMIN}, "未签发，已存档", setup=s.drafted_card,
        effect=_card("dismissed")),
    say("sv-answer", "反馈 {card} 已协调劳务公司补充工人", {DEPT}, "已反馈", setup=s.issued_card,
        effect=_card("answered")),
    say("sv-clear", "销号 {card}", {LEADER, ADMIN}, "已销号", setup=s.answered_card, effect=_card("cleared")),
    say("sv-back", "退回督办 {card} 措施不具体", {LEADER, ADMIN}, "已退回", setup=s.answered_card,
        effect=_card("issued")),
    say("sv-assign", "交办 县发改局 牵头研究园区用地问题 12月4日", {LEADER}, "已交办",
        effect=adds(SupervisionCard, kind="instruct")),
    click("sv:issue:{card}:{v}", {LEADER, ADMIN}, "已签发", setup=s.drafted_card, effect=_card("issued")),
    click("sv:dismiss:{card}:{v}", {LEADER, ADMIN}, "未签发，已存档", setup=s.drafted_card,
          effect=_card("dismissed")),
    click("sv:clear:{card}:{v}", {LEADER, ADMIN}, "已销号", setup=s.answered_card, effect=_card("cleared")),
    click("sv:back:{card}:{v}", {LEADER, ADMIN}, "已退回", setup=s.answered_card, then="措施不具体",
          effect=_card("issued")),
]  # fmt: skip
DISPATCHER = Dispatcher(ALL_ROUTERS)
PREFIXES = [a.prefix for r in ALL_ROUTERS for a in r.card_actions]


def cells() -> list[object]:
    return [
        pytest.param(row, role, id=f"{row.name}-{role}", marks=_hole(row, role))
        for row in TABLE
        for role in ROLES
    ]


def _hole(row: Row, role: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xfail(strict=True, reason=row.holes[role])] if role in row.holes else []


@pytest.fixture
def county(session_factory) -> None:
    with session_factory() as session:
        authz.build_county(session)


def send(chat: Chat, user: str, what: str) -> str:
    """The answer's text (the first passive reply), or "" if none."""
    if what.startswith("click:"):
        replies = chat.click(user, what.removeprefix("click:"))
    else:
        replies = chat.say(user, what)
    return replies[0].content if replies and isinstance(replies[0], Text) else ""


@pytest.mark.parametrize("row, role", cells())
def test_authorization(row: Row, role: str, runtime, standin, county, session_factory):
    with session_factory() as session:
        values = {**authz.base_values(session), **row.setup(session)}
        session.commit()
    with session_factory() as session:
        before, audits = authz.snapshot(session), authz.audit_count(session)
    chat, user, sent = Chat(runtime), USERS[role], row.send.format(**values)
    answer = last = send(chat, user, sent)
    if row.then:
        last = send(chat, user, row.then)
    with session_factory() as session:
        after, audits_after = authz.snapshot(session), authz.audit_count(session)
        changed = row.effect(session, values) if row.effect else False
    where = f"{user} ({role}) sent {sent!r}{' then ' + repr(row.then) if row.then else ''}"

    assert answer and answer != SORRY.content, f"{where}: no answer or a system error: {answer!r}"
    if role in row.allowed:
        assert re.search(row.ok, last), f"{where}: expected success /{row.ok}/, got {last!r}"
        if row.effect:
            assert changed, f"{where}: answered {last!r} but the state did not change as expected"
            assert audits_after > audits, f"{where}: the change was not audited"
        else:
            del after["outbox"], before["outbox"]  # a query may answer with a card too
            assert after == before, f"{where}: a query changed stored state"
    else:
        assert REFUSAL.search(answer) and not re.search(row.ok, answer), f"{where}: not refused: {answer!r}"
        assert after == before, f"{where}: refused ({answer!r}) but something was stored"


def test_every_command_and_card_action_is_in_the_table():
    registered = {c.name for r in ALL_ROUTERS for c in r.commands} | set(PREFIXES)
    covered = {row.target for row in TABLE}
    assert registered - covered == set(), "add these to TABLE, with who may use them"
    assert covered - registered == set()
    assert len({row.name for row in TABLE}) == len(TABLE)


def test_the_table_agrees_with_the_routers_role_declarations():
    """No cell is marked allowed for a role the router refuses before any handler runs."""
    role_of = {OWN: Role.ENTERPRISE, OTHER_FIRM: Role.ENTERPRISE, DEPT: Role.OFFICIAL,
               OTHER_DEPT: Role.OFFICIAL, LEADER: Role.LEADER, ADMIN: Role.ADMIN}  # fmt: skip
    declared = {c.name: (c.roles, c.public) for r in ALL_ROUTERS for c in r.commands}
    declared |= {a.prefix: (a.roles, False) for r in ALL_ROUTERS for a in r.card_actions}
    for row in TABLE:
        roles, public = declared[row.target]
        for column in row.allowed:
            assert public if column == UNKNOWN else role_of[column] in roles, (row.name, column)
