"""免申即享 jobs: push policies to newly qualifying enterprises (after imports, daily, on profile changes)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.db import session_scope
from bot.outbox import OutboxWriter
from handlers.policies.pushes import automatic_in_force, push_policies
from jobs.runtime import current


def push() -> int:
    """Push every 免申即享 policy in force to the enterprises newly qualifying (each version once)."""
    return _push(None)


def rematch(enterprise_id: int) -> int:
    """Re-match one enterprise whose profile changed against the 免申即享 policies in force."""
    return _push([enterprise_id])


def _push(enterprise_ids: Iterable[int] | None) -> int:
    rt = current()
    with session_scope(rt.session_factory) as session:
        now = rt.clock.now()
        outbox = OutboxWriter(session, rt.clock)
        messages = push_policies(session, automatic_in_force(session, now), now, enterprise_ids)
        for message in messages:
            outbox.add(message.person.wecom_userid, message.reply, key=message.key)
        rows = outbox.scheduled()
    rt.enqueue_rows(rows)
    return len(messages)
