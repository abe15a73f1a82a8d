"""The leaders' digests, pushed on a schedule (ZTC_DIGEST_*): once per recipient and period.

Each recipient's digest, and the group's, is made and queued in its own transaction. One that
fails (a chart, a query, a database hiccup) is logged and skipped; the others, and the other
periods due (Monday's 日报 and 周报), go out regardless, and the next run — every 5 minutes while
the send window lasts (timing.SEND_WINDOW) — tries the failed one again. A digest already in the
outbox is never made twice (its first message's key names the period and the recipient).

A run is one RQ job under RQ's default timeout (180 s: jobs.schedule enqueues it without one).
A digest takes a second or two (its figures, the trend's periods, the chart), so a run stops
starting new ones after RUN_BUDGET seconds and leaves the rest to the next run: a county with
many leaders is served over a few runs instead of being killed mid-run, and a digest cut short
by the timeout loses only its own transaction. The bound: RUN_BUDGET plus the slowest single
digest must stay under the job timeout, and the recipients times the time of one digest, over
RUN_BUDGET, times 5 minutes, must fit in the window (at 2 s a digest, 60 recipients a run and
about 2,000 in the 3-hour window, shared by the periods due together).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from rq.timeouts import BaseTimeoutException
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import session_scope
from bot.models import OutboxMessage, Person
from bot.outbox import OutboxWriter
from handlers.digests.composing import app_messages, group_messages
from handlers.digests.delivery import chart_file, make_digest, recipients, scope_for
from handlers.digests.figures import county_scope
from handlers.digests.model import Period
from handlers.digests.timing import due_periods
from jobs.runtime import current

log = logging.getLogger(__name__)

T = TypeVar("T")

RUN_BUDGET = 120.0  # seconds a run spends making digests; RQ's default job timeout is 180 s


def sweep() -> int:
    """Send every digest due now that has not gone out yet; the number of recipients served."""
    rt = current()
    deadline = time.monotonic() + RUN_BUDGET
    served = 0
    for period in due_periods(rt.clock.now(), rt.settings):
        people: list[int] = _attempt(_key(period, "recipients"), _recipient_ids, [])
        sends: list[tuple[str, Callable[[], int]]] = [
            (_key(period, str(person_id)), partial(_send_person, period, person_id)) for person_id in people
        ]
        sends.append((_key(period, "group"), partial(_send_group, period)))
        for key, send in sends:
            if time.monotonic() >= deadline:
                log.warning(
                    "digests: run budget of %ss spent; %s and later are left to the next run", RUN_BUDGET, key
                )
                return served
            served += _attempt(key, send, 0)
    return served


def _key(period: Period, recipient: str) -> str:
    """The digest's outbox key (each message adds :<index>)."""
    return f"digest:{period.kind}:{period.start}:{recipient}"


def _attempt(key: str, send: Callable[[], T], failed: T) -> T:
    """Run one step (a recipient's send, in its own transaction); a failure is logged and gives `failed`."""
    try:
        return send()
    except BaseTimeoutException:
        raise  # RQ's job timeout ends the run; the next run carries on from what was committed
    except Exception:
        log.exception("digest %s failed; the next run (every 5 minutes, within the window) retries it", key)
        return failed


def _recipient_ids() -> list[int]:
    """The ids of the people pushed the digests (each is then served in a session of his own)."""
    with session_scope(current().session_factory) as session:
        return [person.id for person in recipients(session)]


def _send_person(period: Period, person_id: int) -> int:
    """A leader's digest for the period, unless it went out before; 1 if made now."""
    rt = current()
    key = _key(period, str(person_id))
    with session_scope(rt.session_factory) as session:
        if _already_sent(session, key):
            return 0  # a rerun of the job (every 5 minutes) computes nothing twice
        person = session.get(Person, person_id)
        scope = scope_for(session, person, rt.settings) if person is not None else None
        if person is None or scope is None:
            return 0
        outbox = OutboxWriter(session, rt.clock, "job")
        digest = make_digest(session, scope, period, rt.clock.now(), rt.settings)
        chart = chart_file(digest, rt.settings)
        messages = app_messages(digest, chart, task_id=key.replace(":", "-"), role=person.role_enum)
        for index, reply in enumerate(messages):
            outbox.add(person.wecom_userid, reply, key=f"{key}:{index}")
        rows = outbox.scheduled()
    rt.enqueue_rows(rows)
    return 1


def _send_group(period: Period) -> int:
    """The county digest in the leaders' group, if ZTC_DIGEST_GROUP_WEBHOOK is set; 1 if made now."""
    rt = current()
    webhook = rt.settings.digest_group_webhook
    key = _key(period, "group")
    if not webhook:
        return 0
    with session_scope(rt.session_factory) as session:
        if _already_sent(session, key):
            return 0
        outbox = OutboxWriter(session, rt.clock, "job")
        digest = make_digest(session, county_scope(), period, rt.clock.now(), rt.settings)
        for index, reply in enumerate(group_messages(digest, webhook, chart_file(digest, rt.settings))):
            outbox.add("group", reply, key=f"{key}:{index}")
        rows = outbox.scheduled()
    rt.enqueue_rows(rows)
    return 1


def _already_sent(session: Session, key: str) -> bool:
    """Whether the first message of this digest is in the outbox already."""
    first = select(OutboxMessage.id).where(OutboxMessage.idempotency_key == f"{key}:0")
    return session.scalar(first) is not None
