"""Jobs that send outbox rows and recover ones whose job was lost."""

from __future__ import annotations

from bot.db import session_scope
from bot.outbox import due_for_sweep
from jobs.runtime import current


def deliver(outbox_id: int) -> str:
    """Send one outbox row (idempotent: a row already sent or leased is skipped)."""
    return current().deliverer.deliver(outbox_id)


def sweep() -> int:
    """Queue pending rows whose job is missing and sending rows whose lease ran out."""
    rt = current()
    with session_scope(rt.session_factory) as session:
        due = due_for_sweep(session, rt.clock.now())
    for outbox_id, attempts in due:
        rt.enqueue_delivery(outbox_id, f"sweep{attempts}")
    return len(due)
