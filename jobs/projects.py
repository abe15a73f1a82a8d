"""The 重点项目 clocks: the weekly 绿白黄红 sweep (every 5 minutes) and the daily 月汇报 check."""

from __future__ import annotations

from datetime import datetime

from bot.clock import as_utc, local
from bot.db import session_scope
from bot.outbox import OutboxWriter
from handlers.projects.prompts import Outgoing, monthly_due, weekly_due
from handlers.projects.rules import rules_from
from handlers.projects.supervision_cards import announce_drafts
from handlers.projects.supervision_drafting import draft_for_week
from jobs.runtime import current


def sweep() -> int:
    """Send the weekly prompts, reminders and leader lists that are due; draft 督办卡 after escalation."""
    rt = current()
    rules = rules_from(rt.settings)
    with session_scope(rt.session_factory) as session:
        due, escalated = weekly_due(session, rt.clock.now(), rules)
        outbox = OutboxWriter(session, rt.clock)
        rows = _queue(outbox, due)
        for cycle in escalated:  # the week is closed: lagging or silent projects get a draft 督办卡
            announce_drafts(session, outbox, draft_for_week(session, cycle.week, rules, rt.clock.now()))
        rows = outbox.scheduled()
    rt.enqueue_rows(rows)
    return len(due)


def monthly() -> int:
    """Send today's 月汇报 reminders or late lists."""
    rt = current()
    today = local(as_utc(rt.clock.now())).date()
    with session_scope(rt.session_factory) as session:
        due = monthly_due(session, today, rules_from(rt.settings))
        rows = _queue(OutboxWriter(session, rt.clock), due)
    rt.enqueue_rows(rows)
    return len(due)


def _queue(outbox: OutboxWriter, due: list[Outgoing]) -> list[tuple[int, datetime]]:
    """Write each message to the outbox (its key makes a rerun harmless); the rows to enqueue."""
    for item in due:
        outbox.add(item.recipient, item.reply, key=item.key)
    return outbox.scheduled()
