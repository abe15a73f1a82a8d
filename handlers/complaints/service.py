"""诉求 work orders as pure services: 挂号 and 派单, then the holder's 接单, 转办 and 退回.

Each service takes the session, the acting person and `now`; it raises NotFound / NotAllowed /
Invalid / Conflict with the reply to show, and returns a Transition naming who must be told.
The later steps (延期, 办结, 签单, 自动销号) are in closing.py, the queries in queries.py.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.directory import officials_of
from bot.errors import Conflict, Invalid, NotAllowed, NotFound
from bot.models import Department, Enterprise, Person
from bot.numbering import insert_numbered
from handlers.complaints import clocks
from handlers.complaints.models import (
    CATEGORIES,
    MAX_TEXT,
    URGENCIES,
    Action,
    ClockMode,
    OrderState,
    WorkOrder,
)
from handlers.complaints.queries import (
    bound_enterprises,
    coordinators,
    filer,
    get_order,
    is_coordinator,
    routing_rule,
)
from handlers.complaints.register import (
    Transition,
    check_state,
    move,
    order_for_holder,
    required_text,
    write_event,
)

DUPLICATE_WINDOW = timedelta(minutes=10)
# 退回 reason codes (the coordinator needs to know why, and the 退回率 is read with them).
RETURN_REASONS = ("非本部门职责", "诉求不明确", "不属政府职能", "重复诉求", "其他")
_SPACES = re.compile(r"\s+")


def file_order(
    session: Session,
    person: Person,
    text: str,
    category: str,
    urgency: str,
    now: datetime,
    *,
    enterprise: Enterprise | None = None,
    mode: ClockMode = ClockMode.NATURAL,
    categories: tuple[str, ...] = CATEGORIES,
    photos: list[dict[str, str]] | None = None,
    department: Department | None = None,
    channel: str = "wecom",
) -> Transition:
    """挂号 and 派单 in one step: the order gets its number and goes to the department that must act."""
    enterprise = _filing_enterprise(session, person, enterprise)
    description = check_description(text)
    category, urgency = check_category(category, categories), check_urgency(urgency)
    _refuse_duplicate(session, enterprise, description, now)
    # A 举报检查 goes to the supervising office, not to the department being reported.
    department = department or dispatch_target(session, enterprise, category)
    order = WorkOrder(
        enterprise=enterprise,
        filed_by=person,
        category=category,
        description=description,
        urgency=urgency,
        clock_mode=ClockMode(mode).value,
        holding_department=department,
        state=OrderState.DISPATCHED.value,
        filed_at=now,
        dispatched_at=now,
        pickup_due_at=clocks.pickup_deadline(now, mode),
        held_since=now,
        photos=photos or [],
    )
    insert_numbered(session, order, WorkOrder.number, "S", now, busy="提交的人太多了，请稍后再试。")
    filed = write_event(
        session,
        order,
        Action.FILE,
        person,
        now,
        before=None,
        channel=channel,
        category=category,
        urgency=urgency,
        enterprise_id=enterprise.id,
    )
    dispatched = write_event(
        session,
        order,
        Action.DISPATCH,
        person,
        now,
        before=None,
        channel=channel,
        pickup_due=order.pickup_due_at,
    )
    return Transition(order, [filed, dispatched], officials_of(session, department.id))


def check_description(text: str) -> str:
    """The request text: not empty, at most MAX_TEXT characters."""
    description = text.strip()
    if not description:
        raise Invalid("请写明您的诉求内容，例如：诉求 厂区门前路灯坏了，夜间运输不安全。")
    if len(description) > MAX_TEXT:
        raise Invalid(f"诉求内容太长了（{len(description)}字），最多{MAX_TEXT}字，请精简后重新提交。")
    return description


def check_category(category: str, categories: tuple[str, ...] = CATEGORIES) -> str:
    """One of the county's categories (CATEGORIES unless configured)."""
    value = unicodedata.normalize("NFKC", category).strip()
    if value not in categories:
        raise Invalid(f"「{value or '（空）'}」不是诉求类别，请从以下类别中选择：{'、'.join(categories)}。")
    return value


def check_urgency(urgency: str) -> str:
    """普通 or 紧急."""
    value = urgency.strip()
    if value not in URGENCIES:
        raise Invalid(f"紧急程度只能是{'或'.join(URGENCIES)}。")
    return value


def _filing_enterprise(session: Session, person: Person, chosen: Enterprise | None) -> Enterprise:
    bound = bound_enterprises(session, person)
    if not bound:
        raise NotAllowed(
            "您还没有绑定企业，不能提交诉求。请先发送「绑定 统一社会信用代码 姓名」，经包联部门确认后再提交。"
        )
    if chosen is not None:
        if chosen.id not in {e.id for e in bound}:
            raise NotAllowed(f"您没有绑定「{chosen.name}」，不能以该企业名义提交诉求。")
        return chosen
    if len(bound) > 1:
        raise Invalid(f"您绑定了多家企业（{'、'.join(e.name for e in bound)}），请选择以哪家企业提交。")
    return bound[0]


def normalise(text: str) -> str:
    """Text compared for duplicates: NFKC, case and spacing ignored."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _refuse_duplicate(session: Session, enterprise: Enterprise, description: str, now: datetime) -> None:
    # A double tap or an impatient resend must not open a second order for the same problem.
    query = select(WorkOrder).where(
        WorkOrder.enterprise_id == enterprise.id, WorkOrder.filed_at >= now - DUPLICATE_WINDOW
    )
    key = normalise(description)
    for earlier in session.scalars(query.order_by(WorkOrder.id)):
        if normalise(earlier.description) == key:
            n = earlier.number
            raise Conflict(f"相同的诉求刚刚已提交（单号 {n}），无需重复提交。可发送「诉求 {n}」查看进度。")


def dispatch_target(session: Session, enterprise: Enterprise, category: str) -> Department:
    """The enterprise's 包联部门; the category's 职能部门 when it has none."""
    if enterprise.contact_department is not None:
        return enterprise.contact_department
    rule = routing_rule(session, category)
    if rule is None:
        raise NotFound(
            f"「{enterprise.name}」暂无包联部门，且「{category}」类诉求未配置承办部门。请联系管理员配置后再提交。"
        )
    return rule.department


def pick_up(
    session: Session,
    person: Person,
    number: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> Transition:
    """接单: the solve clock starts at the first pickup; a later pickup (after 转办) does not restart it."""
    order = order_for_holder(session, person, number, expected_version, (OrderState.DISPATCHED,), "接单")
    first = order.picked_up_at is None
    picked_at = now if first else order.picked_up_at
    assert picked_at is not None
    solve_due = clocks.solve_deadline(picked_at, order.clock_mode) if first else order.solve_due_at
    before = move(
        session,
        order,
        (OrderState.DISPATCHED,),
        state=OrderState.PICKED_UP.value,
        picked_up_at=picked_at,
        solve_due_at=solve_due,
    )
    event = write_event(
        session,
        order,
        Action.PICKUP,
        person,
        now,
        before=before,
        channel=channel,
        pickup_due=order.pickup_due_at,
        solve_due=order.solve_due_at,
    )
    return Transition(order, [event], filer(order))


def transfer(
    session: Session,
    person: Person,
    number: str,
    department: Department,
    reason: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> Transition:
    """转办 to another department with a reason; the clocks keep running (they are not reset)."""
    order = order_for_holder(
        session, person, number, expected_version, (OrderState.DISPATCHED, OrderState.PICKED_UP), "转办"
    )
    if department.id == order.holding_department_id:
        raise Invalid(f"诉求 {order.number} 已由{department.name}办理，请选择其他部门。")
    require_staffed(session, department)
    reason = required_text(reason, "请写明转办理由。")
    source = order.holding_department
    before = move(
        session,
        order,
        (OrderState.DISPATCHED, OrderState.PICKED_UP),
        state=OrderState.DISPATCHED.value,
        holding_department_id=department.id,
        held_since=now,
    )
    event = write_event(
        session,
        order,
        Action.TRANSFER,
        person,
        now,
        before=before,
        channel=channel,
        reason=reason,
        from_department=source.name,
        to_department=department.name,
        pickup_due=order.pickup_due_at,
    )
    return Transition(order, [event], officials_of(session, department.id) + filer(order))


def require_staffed(session: Session, department: Department) -> None:
    """Refuse to hand an order to a department nobody in the bot can act for."""
    if not officials_of(session, department.id):
        raise Invalid(f"{department.name}暂无在册干部，无法接收诉求，请选择其他部门或联系管理员。")


def parse_return_reason(text: str) -> tuple[str, str]:
    """「非本部门职责 应由自然资源局办理」 → (code, note); free text becomes 其他."""
    text = text.strip()
    for code in RETURN_REASONS:
        if text.startswith(code):
            return code, text[len(code) :].strip(" ，,：:")
    return "其他", text


def send_back(
    session: Session,
    person: Person,
    number: str,
    reason_code: str,
    note: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    channel: str = "wecom",
) -> Transition:
    """退回 before pickup, with a reason code; a coordinator or leader decides where it goes next."""
    order = order_for_holder(session, person, number, expected_version, (OrderState.DISPATCHED,), "退回")
    if reason_code not in RETURN_REASONS:
        raise Invalid(f"退回理由请选择：{'、'.join(RETURN_REASONS)}。")
    if reason_code == "其他" and not note.strip():
        raise Invalid("请写明退回理由。")
    before = move(session, order, (OrderState.DISPATCHED,), state=OrderState.RETURNED.value, held_since=now)
    event = write_event(
        session,
        order,
        Action.RETURN,
        person,
        now,
        before=before,
        channel=channel,
        reason=reason_code,
        note=note.strip() or None,
    )
    return Transition(order, [event], coordinators(session))


def decide_return(
    session: Session,
    person: Person,
    number: str,
    department: Department | None,
    now: datetime,
    *,
    note: str = "",
    expected_version: int | None = None,
    channel: str = "wecom",
) -> Transition:
    """A coordinator sends a 退回 order to `department`, or back to its holder (None); clocks keep running."""
    order = get_order(session, number)
    if not is_coordinator(person):
        raise NotAllowed("只有营商环境部门、督查部门、管理员或县领导可以处理退回的诉求。")
    check_state(order, expected_version, (OrderState.RETURNED,), "处理退回")
    target = department or order.holding_department
    require_staffed(session, target)
    before = move(
        session,
        order,
        (OrderState.RETURNED,),
        state=OrderState.DISPATCHED.value,
        holding_department_id=target.id,
        held_since=now,
    )
    event = write_event(
        session,
        order,
        Action.RETURN_DECIDED,
        person,
        now,
        before=before,
        channel=channel,
        accepted=department is not None,
        to_department=target.name,
        note=note.strip() or None,
        pickup_due=order.pickup_due_at,
    )
    return Transition(order, [event], officials_of(session, target.id))
