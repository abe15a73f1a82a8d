"""Jobs that handle inbound messages the webhook left for a worker."""

from __future__ import annotations

from datetime import timedelta

from bot.db import session_scope
from bot.intake import Intake, stale_inbound
from jobs.runtime import current

STALE_AFTER = timedelta(seconds=60)


def handle(inbound_id: int) -> int:
    """Run the handler of a stored message (slow commands); answers go out through the outbox."""
    return len(Intake(current()).handle(inbound_id))


def sweep() -> int:
    """Queue messages stored but never handled (a crash, or Redis down on the slow path)."""
    rt = current()
    with session_scope(rt.session_factory) as session:
        ids = stale_inbound(session, rt, STALE_AFTER)
    return sum(rt.enqueue_handling(inbound_id) for inbound_id in ids)
