"""督办卡 jobs: the daily reminders (cron), and drafting a week's cards (for the weekly project job)."""

from __future__ import annotations

from datetime import date

from bot.db import session_scope
from bot.outbox import OutboxWriter
from handlers.projects.rules import rules_from
from handlers.projects.supervision import local_today
from handlers.projects.supervision_cards import announce_drafts, reminder_text
from handlers.projects.supervision_drafting import draft_for_week
from handlers.projects.supervision_lists import due_reminders
from jobs.runtime import current


def remind() -> int:
    """Queue today's reminders: cards due by the next working day, overdue ones (once each by key)."""
    rt = current()
    with session_scope(rt.session_factory) as session:
        outbox = OutboxWriter(session, rt.clock)
        today = local_today(rt.clock.now())
        due = due_reminders(session, today)
        for reminder in due:
            outbox.add(reminder.person.wecom_userid, reminder_text(reminder, today), key=reminder.key)
        rows = outbox.scheduled()
    rt.enqueue_rows(rows)
    return len(due)


def draft(week: str) -> int:
    """Draft the 督办卡 of the week whose Monday is `week` (ISO date) and send the 签发 cards; idempotent."""
    rt = current()
    with session_scope(rt.session_factory) as session:
        outbox = OutboxWriter(session, rt.clock)
        cards = draft_for_week(session, date.fromisoformat(week), rules_from(rt.settings), rt.clock.now())
        announce_drafts(session, outbox, cards)
        rows = outbox.scheduled()
    rt.enqueue_rows(rows)
    return len(cards)
