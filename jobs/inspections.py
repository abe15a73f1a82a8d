"""The 企业宁静日 reminders job, run daily by cron."""

from __future__ import annotations

from bot.clock import as_utc, local
from bot.db import session_scope
from bot.outbox import OutboxWriter
from handlers.inspections.reminders import reminders_for
from jobs.runtime import current


def remind() -> int:
    """Queue today's day-before reminders (once each: the outbox keys are per day and person)."""
    rt = current()
    with session_scope(rt.session_factory) as session:
        outbox = OutboxWriter(session, rt.clock)
        due = reminders_for(session, local(as_utc(rt.clock.now())).date())  # the handlers' calendar
        for reminder in due:
            outbox.add(reminder.person.wecom_userid, reminder.text, key=reminder.key)
        rows = outbox.scheduled()
    rt.enqueue_rows(rows)
    return len(due)
