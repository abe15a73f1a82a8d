"""Jobs of the 诉求 work orders: fire an order's 盯单 alarm, and re-queue alarms whose job was lost."""

from __future__ import annotations

from datetime import timedelta

from bot.db import session_scope
from bot.outbox import OutboxWriter
from handlers.complaints.alarms import alarm_job, due_alarms, fire
from handlers.complaints.rules import rules_from
from jobs.runtime import current

SWEEP_GRACE = timedelta(seconds=30)  # alarms due more recently may still have their own job coming


def alarm(order_id: int) -> str:
    """Send the order's due reminder or escalation once, and schedule its next one."""
    rt = current()
    with session_scope(rt.session_factory) as session:
        outbox = OutboxWriter(session, rt.clock, "wecom")
        following = fire(session, outbox, order_id, rules_from(rt.settings), rt.clock.now())
        rows = outbox.scheduled()
    rt.enqueue_rows(rows)
    if following is not None:
        rt.enqueue_deferred([following])
    return f"{len(rows)} messages queued; next: {following.job_id if following else 'none'}"


def sweep() -> int:
    """Queue alarms due a while ago whose job went missing (lost with Redis); the job ids keep it once."""
    rt = current()
    with session_scope(rt.session_factory) as session:
        due = due_alarms(session, rt.clock.now() - SWEEP_GRACE)
    rt.enqueue_deferred([alarm_job(order_id, rung, at) for order_id, rung, at in due])
    return len(due)
