"""The 重点项目 clocks: the weekly 绿白黄红 sweep (every 5 minutes) and the daily 月汇报 check."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import as_utc, local
from bot.db import session_scope
from bot.models import OutboxMessage
from bot.outbox import OutboxWriter
from handlers.projects.prompts import Outgoing, monthly_due, weekly_due
from handlers.projects.rules import rules_from
from handlers.projects.supervision_cards import announce_drafts
from handlers.projects.supervision_drafting import draft_for_week
from jobs.runtime import current

KEYS_PER_QUERY = 500  # idempotency keys looked up at once (well inside every driver's parameter limit)


def sweep() -> int:
    """Send the weekly prompts, reminders and leader lists that are due; draft 督办卡 after escalation."""
    rt = current()
    rules = rules_from(rt.settings)
    aibot_name = rt.settings.aibot_name if rt.settings.aibot_enabled else None
    with session_scope(rt.session_factory) as session:
        due, escalated = weekly_due(session, rt.clock.now(), rules, aibot_name=aibot_name)
        outbox = OutboxWriter(session, rt.clock)
        _queue(session, outbox, due)
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
        rows = _queue(session, OutboxWriter(session, rt.clock), due)
    rt.enqueue_rows(rows)
    return len(due)


def _queue(session: Session, outbox: OutboxWriter, due: list[Outgoing]) -> list[tuple[int, datetime]]:
    """Write each message not queued before to the outbox; the rows to enqueue.

    The sweep runs every 5 minutes and most of what is due was queued by an earlier run: those
    keys are found in one query per KEYS_PER_QUERY, not one per message, and the new rows are
    flushed together at the end (their keys are distinct, so no flush is needed in between).
    """
    queued = _queued_keys(session, [item.key for item in due])
    fresh: dict[str, Outgoing] = {}
    for item in due:
        if item.key not in queued and item.key not in fresh:
            fresh[item.key] = item
    with session.no_autoflush:
        for item in fresh.values():
            outbox.add(item.recipient, item.reply, key=item.key)
    return outbox.scheduled()


def _queued_keys(session: Session, keys: list[str]) -> set[str]:
    """Which of these idempotency keys the outbox already holds."""
    found: set[str] = set()
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[start : start + KEYS_PER_QUERY]
        query = select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(chunk))
        found.update(session.scalars(query))
    return found
