"""The leaders' digests, pushed on a schedule (ZTC_DIGEST_*): once per recipient and period."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import session_scope
from bot.models import OutboxMessage
from bot.outbox import OutboxWriter
from handlers.digests.composing import app_messages, group_messages
from handlers.digests.delivery import chart_file, make_digest, recipients, scope_for
from handlers.digests.figures import county_scope
from handlers.digests.model import Period
from handlers.digests.timing import due_periods
from jobs.runtime import current


def sweep() -> int:
    """Send every digest due now that has not gone out yet; the number of recipients served."""
    rt = current()
    served = 0
    for period in due_periods(rt.clock.now(), rt.settings):
        served += _send_period(period)
    return served


def _send_period(period: Period) -> int:
    rt = current()
    served = 0
    with session_scope(rt.session_factory) as session:
        outbox = OutboxWriter(session, rt.clock, "job")
        for person in recipients(session):
            key = f"digest:{period.kind}:{period.start}:{person.id}"
            scope = scope_for(session, person, rt.settings)
            if scope is None or _already_sent(session, key):
                continue  # a rerun of the job (every 5 minutes) computes nothing twice
            digest = make_digest(session, scope, period, rt.clock.now(), rt.settings)
            messages = app_messages(digest, chart_file(digest, rt.settings), task_id=key.replace(":", "-"))
            for index, reply in enumerate(messages):
                outbox.add(person.wecom_userid, reply, key=f"{key}:{index}")
            served += 1
        served += _send_group(session, outbox, period)
        rows = outbox.scheduled()
    rt.enqueue_rows(rows)
    return served


def _send_group(session: Session, outbox: OutboxWriter, period: Period) -> int:
    """The county digest in the leaders' group, if ZTC_DIGEST_GROUP_WEBHOOK is set."""
    rt = current()
    webhook = rt.settings.digest_group_webhook
    key = f"digest:{period.kind}:{period.start}:group"
    if not webhook or _already_sent(session, key):
        return 0
    digest = make_digest(session, county_scope(), period, rt.clock.now(), rt.settings)
    for index, reply in enumerate(group_messages(digest, webhook, chart_file(digest, rt.settings))):
        outbox.add("group", reply, key=f"{key}:{index}")
    return 1


def _already_sent(session: Session, key: str) -> bool:
    """Whether the first message of this digest is in the outbox already."""
    first = select(OutboxMessage.id).where(OutboxMessage.idempotency_key == f"{key}:0")
    return session.scalar(first) is not None
