"""盯单: the reminders and the escalation ladder of an order, armed after each transition, sent once.

An order's ladder follows from its state and deadlines (ladder()); the order stores only its next
rung (alarm_at, alarm_rung). arm() sets it after every transition; a job (jobs.orders.alarm)
fires it with a compare-and-set on the stored pair, so a rung is sent once however many jobs run
for it, and a worker that was down for hours sends the latest rung that fell due, not a burst of
stale ones. Neither bumps the order's version: the buttons on cards already sent stay valid.

Deadline rungs count time the way the order's clock does (working mode skips rest days); the
sign-off rungs count natural hours, as 自动销号 does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.clock import as_utc
from bot.directory import heads_of, officials_of, overseers
from bot.errors import Conflict
from bot.models import Department, DepartmentKind, Person, Role
from bot.outbox import OutboxWriter
from bot.queues import Deferred
from bot.replies import Button, Reply, TemplateCard, Text
from handlers.complaints import clocks, closing, notices, queries
from handlers.complaints.cards import button_key, excerpt, signoff_card, when
from handlers.complaints.models import Action, OrderState, WorkOrder
from handlers.complaints.rules import OrderRules

ALARM_JOB = "jobs.orders.alarm"
EARLY_TOLERANCE = timedelta(seconds=2)
CLOCK_LABELS = {"pickup": "接单时限", "solve": "办结时限"}
REMINDERS = frozenset({"warn", "remind"})  # the other steps are escalations (督办)

Step = tuple[str, datetime]  # (rung, when)


# ---------------------------------------------------------------- the ladder


def ladder(order: WorkOrder, rules: OrderRules) -> list[Step]:
    """Every alarm of the order's current state, in time order; none once it is closed."""
    state = order.state_enum
    # An order 转办'd after 接单 is DISPATCHED again, but its solve clock keeps running: that
    # deadline is the one the new department is chased for (the pickup deadline has passed).
    if state in (OrderState.PICKED_UP, OrderState.DISPATCHED) and order.solve_due is not None:
        return _deadline_steps("solve", order.solve_due, order.held_since, order.clock_mode, rules)
    if state in (OrderState.DISPATCHED, OrderState.RETURNED):
        return _deadline_steps("pickup", order.pickup_due_at, order.held_since, order.clock_mode, rules)
    if state is OrderState.RESOLVED and order.resolved_at is not None:
        done = as_utc(order.resolved_at)
        return [
            ("signoff.remind", done + rules.rate_remind_after),
            ("signoff.close", done + rules.auto_close_after),
        ]
    return []


def _deadline_steps(
    clock: str, due: datetime, held_since: datetime | None, mode: str, rules: OrderRules
) -> list[Step]:
    """warn before the deadline (unless set to 0), overdue at it, then the head and the leader.

    A holder who got the order already late is escalated from the moment he got it: otherwise
    every rung would lie in the past and nobody would chase him.
    """
    late = max(as_utc(due), as_utc(held_since)) if held_since is not None else as_utc(due)
    steps = [
        (f"{clock}.overdue", late),
        (f"{clock}.head", clocks.add_hours(late, rules.head_after, mode)),
        (f"{clock}.leader", clocks.add_hours(late, rules.leader_after, mode)),
    ]
    if rules.warn_before:
        steps.insert(0, (f"{clock}.warn", clocks.subtract_hours(due, rules.warn_before, mode)))
    return sorted(steps, key=lambda step: step[1])  # stable: equal times keep the ladder's order


def next_step(steps: list[Step], now: datetime) -> Step | None:
    """The first rung still ahead of `now`."""
    return next((step for step in steps if step[1] > now), None)


def latest_due(steps: list[Step], now: datetime) -> list[Step]:
    """The latest rung that fell due by `now` (with any sharing its moment); earlier ones are stale."""
    past = [step for step in steps if step[1] <= now]
    return [step for step in past if step[1] == past[-1][1]] if past else []


def alarm_job_id(order_id: int, rung: str, at: datetime) -> str:
    """The RQ job id of one rung of one order at one moment: scheduling it twice schedules it once."""
    return f"order-alarm-{order_id}-{rung.replace('.', '-')}-{int(as_utc(at).timestamp())}"


def alarm_job(order_id: int, rung: str, at: datetime) -> Deferred:
    """The job that fires one rung of one order at its moment."""
    return Deferred(ALARM_JOB, at, (order_id,), job_id=alarm_job_id(order_id, rung, at))


def _job(order_id: int, step: Step | None) -> Deferred | None:
    return alarm_job(order_id, *step) if step is not None else None


# ---------------------------------------------------------------- arming and firing


def arm(session: Session, order: WorkOrder, rules: OrderRules, now: datetime) -> Deferred | None:
    """Store the order's next alarm after a transition (or filing); the job to schedule after commit."""
    step = next_step(ladder(order, rules), now)
    _store(session, order, step)
    return _job(order.id, step)


def _store(session: Session, order: WorkOrder, step: Step | None, *, expected: Step | None = None) -> bool:
    """Write (alarm_at, alarm_rung) without touching the version; with `expected`, only if still stored."""
    rung, at = step if step else (None, None)
    stmt = update(WorkOrder).where(WorkOrder.id == order.id)
    if expected is not None:
        stmt = stmt.where(WorkOrder.alarm_rung == expected[0], WorkOrder.alarm_at == expected[1])
    result = session.execute(
        stmt.values(alarm_at=at, alarm_rung=rung).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    set_committed_value(order, "alarm_at", at)  # in step with the row, without dirtying the order
    set_committed_value(order, "alarm_rung", rung)
    return True


def stored_step(order: WorkOrder) -> Step | None:
    """The alarm the order has armed, if any."""
    if order.alarm_rung is None or order.alarm_at is None:
        return None
    return order.alarm_rung, as_utc(order.alarm_at)


def fire(
    session: Session, outbox: OutboxWriter, order_id: int, rules: OrderRules, now: datetime
) -> Deferred | None:
    """Send the order's due alarm once (in the caller's transaction); the job for its next one."""
    order = session.get(WorkOrder, order_id, populate_existing=True)
    stored = stored_step(order) if order is not None else None
    if order is None or stored is None:
        return None
    if stored[1] > now + EARLY_TOLERANCE:
        return _job(order.id, stored)  # the order was re-armed since (or the clocks disagree)
    now = max(now, stored[1])  # RQ schedules to the whole second: a job may run a fraction early
    steps = ladder(order, rules)
    following = next_step(steps, now)
    if not _store(session, order, following, expected=stored):
        return None  # another job fired it, or a transition re-armed it, in the meantime
    for rung, _ in latest_due(steps, now):
        _sound(session, outbox, order, rung, rules, now)
    return _job(order.id, following)


def due_alarms(session: Session, now: datetime, limit: int = 500) -> list[tuple[int, str, datetime]]:
    """(order id, rung, when) of alarms due by `now`, oldest first (their jobs may have been lost)."""
    query = (
        select(WorkOrder.id, WorkOrder.alarm_rung, WorkOrder.alarm_at)
        .where(WorkOrder.alarm_at <= now)
        .order_by(WorkOrder.alarm_at)
        .limit(limit)
    )
    return [(row.id, str(row.alarm_rung), as_utc(row.alarm_at)) for row in session.execute(query)]


# ---------------------------------------------------------------- who hears what


def _sound(
    session: Session, outbox: OutboxWriter, order: WorkOrder, rung: str, rules: OrderRules, now: datetime
) -> None:
    """Record one rung in the register and queue its messages (or close the order, at the end)."""
    if rung == "signoff.close":
        _auto_close(session, outbox, order, rules, now)
        return
    due = _due(order, rung, rules)
    people = recipients(session, order, rung)
    action = Action.REMIND if _step_of(rung) in REMINDERS else Action.ESCALATE
    to = [p.wecom_userid for p in people]
    closing.note_reminder(session, order.number, action, now, rung=rung, due=due, to=to)
    for person in people:
        for index, reply in enumerate(messages(order, rung, due, person, now)):
            key = f"order:{order.id}:alarm:{rung}:{due.isoformat()}:{person.id}:{index}"
            outbox.add(person.wecom_userid, reply, key=key)


def _auto_close(
    session: Session, outbox: OutboxWriter, order: WorkOrder, rules: OrderRules, now: datetime
) -> None:
    try:
        transition = closing.auto_close(session, order.number, now, after=rules.auto_close_after)
    except Conflict:
        return  # rated in the same instant: nothing to close
    notices.announce(outbox, transition, now)


def _step_of(rung: str) -> str:
    return rung.partition(".")[2]


def _due(order: WorkOrder, rung: str, rules: OrderRules) -> datetime:
    """The deadline a rung is about: 接单时限, 办结时限, or when an unrated order will be closed."""
    clock = rung.partition(".")[0]
    if clock == "pickup":
        return as_utc(order.pickup_due_at)
    if clock == "solve" and order.solve_due is not None:
        return as_utc(order.solve_due)
    assert order.resolved_at is not None, rung
    return as_utc(order.resolved_at) + rules.auto_close_after


def recipients(session: Session, order: WorkOrder, rung: str) -> list[Person]:
    """Who hears a rung: the holders (coordinators for a 退回), their heads, leaders, or the filer."""
    step, holder = _step_of(rung), order.holding_department_id
    if step == "remind":
        return queries.filer(order)
    if step == "leader":
        return overseers(session, holder) or queries.people_with_role(session, Role.LEADER)
    returned = order.state_enum is OrderState.RETURNED
    if step == "head":
        return office_heads(session) if returned else heads_of(session, holder)
    return queries.coordinators(session) if returned else officials_of(session, holder)


def office_heads(session: Session) -> list[Person]:
    """The active heads of the coordinating offices (营商办, 督查室): they answer for a late 退回."""
    offices = select(Department.id).where(Department.kind == DepartmentKind.OFFICE.value)
    query = select(Person).where(
        Person.department_id.in_(offices),
        Person.role == Role.OFFICIAL.value,
        Person.is_head.is_(True),
        Person.active.is_(True),
    )
    return list(session.scalars(query.order_by(Person.id)))


def messages(order: WorkOrder, rung: str, due: datetime, person: Person, now: datetime) -> list[Reply]:
    """What one person reads for one rung."""
    step = _step_of(rung)
    if step == "remind":
        return [signoff_card(order, person, round_="r"), Text(_signoff_text(order, due))]
    if step == "leader":
        return [leader_card(order, rung, due, person, now)]
    return [Text(_deadline_text(order, rung, due, now))]


def _signoff_text(order: WorkOrder, closes_at: datetime) -> str:
    return (
        f"诉求 {order.number} 已于 {when(order.resolved_at)} 办结，请您评价办理结果。"
        f"如 {when(closes_at)} 前仍未评价，将自动销号。"
    )


def _deadline_text(order: WorkOrder, rung: str, due: datetime, now: datetime) -> str:
    clock, _, step = rung.partition(".")
    label, subject = CLOCK_LABELS[clock], f"诉求 {order.number}（{order.enterprise.name}）"
    if step == "warn":
        return f"⏰ {subject}将于 {when(due)} 到达{label}，{_ask(order, clock, step)}"
    late = _span(now - due)
    status = f"已超过{label}（{when(due)}）{f'，已超时{late}' if late else ''}"
    return f"⚠️ {subject}{status}，{_ask(order, clock, step)}"


def _ask(order: WorkOrder, clock: str, step: str) -> str:
    """What the reader should do now."""
    n, dept = order.number, order.holding_department.name
    if order.state_enum is OrderState.RETURNED:
        if step == "head":
            return f"{dept}退回后仍待协调分派，请督促处理。"
        return f"请尽快协调：发送「分派 {n} 部门名称」改派，或「分派 {n} 原部门」。"
    if step == "head":
        return f"{dept}尚未{'接单' if clock == 'pickup' else '办结'}，请督促办理。"
    if clock == "pickup" or order.state_enum is OrderState.DISPATCHED:  # 转办'd after 接单: take it first
        return f"请尽快接单：发送「接单 {n}」。"
    return f"请抓紧办理，办结后发送「办结 {n} 办理结果」；确需延期请发送「延期 {n} 时间 理由」。"


def _span(delta: timedelta) -> str:
    """「1天2小时」「2小时30分钟」「45分钟」; empty under a minute."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [(days, "天"), (hours, "小时"), (mins if not days else 0, "分钟")]
    return "".join(f"{value}{unit}" for value, unit in parts if value)


def leader_card(order: WorkOrder, rung: str, due: datetime, leader: Person, now: datetime) -> TemplateCard:
    """A leader's 督办 card for a late order: what, who holds it, how late; 督办 / 查看."""
    clock = rung.partition(".")[0]
    label = CLOCK_LABELS[clock]
    late = "超时未协调" if order.state_enum is OrderState.RETURNED else _LATE_TITLES[clock]
    return TemplateCard(
        card_type="button_interaction",
        task_id=f"{alarm_job_id(order.id, rung, due)}-{leader.id}",
        title=f"诉求{late}，请督办",
        desc=f"单号 {order.number} · {order.holding_department.name}",
        quote=excerpt(order.description),
        fields=(
            ("企业", order.enterprise.name),
            ("承办部门", order.holding_department.name),
            ("状态", order.state_enum.label),
            (label, when(due)),
            ("已超时", _span(now - due) or "不足1分钟"),
        ),
        buttons=(
            Button("督办", button_key("urge", order), style=1),
            Button("查看", button_key("show", order), style=2),
        ),
        replace_text="已处理",
    )


_LATE_TITLES = {"pickup": "超时未接单", "solve": "超时未办结"}
