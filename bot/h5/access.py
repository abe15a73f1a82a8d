"""Who a link lets in, and a work-order step run as that person through the chat's own services.

The page acts in a Context like a chat message's (channel "web"), so the services, their checks,
the notices and the 盯单 alarms are exactly those of the chat; only the transport differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from bot.conversation import Conversation
from bot.db import session_scope
from bot.errors import Conflict, DomainError, Invalid, NotAllowed, NotFound
from bot.messages import Channel, Inbound, Kind
from bot.models import Person, Role
from bot.outbox import OutboxWriter
from bot.routing import Context
from bot.runtime import Runtime
from bot.weblinks import Link, LinkRefused

STATUS = {NotFound: 404, NotAllowed: 403, Invalid: 400, Conflict: 409}
GONE = "该链接对应的账号已停用，无法使用。如有疑问请联系包联部门。"


def person_for(session: Session, link: Link) -> Person:
    """The link's person, if still active and an enterprise contact (the only users of these pages)."""
    person = session.get(Person, link.person_id)
    if person is None or not person.active or person.erased:
        raise LinkRefused(GONE, 403)
    if person.role_enum is not Role.ENTERPRISE:
        raise LinkRefused("此页面仅限企业联系人使用。", 403)
    return person


def refusal(exc: DomainError) -> LinkRefused:
    """A service's refusal as a page: its message, and the status that fits it."""
    return LinkRefused(exc.message, STATUS.get(type(exc), 400))


@contextmanager
def acting(rt: Runtime, link: Link, key: str) -> Iterator[Context]:
    """One transaction as the link's person: a handler's Context; sends and jobs queued after commit."""
    with session_scope(rt.session_factory) as session:
        person = person_for(session, link)
        inbound = Inbound(Channel.WEB, Kind.TEXT, person.wecom_userid, f"h5:{key}", rt.clock.now())
        ctx = Context(
            session=session,
            clock=rt.clock,
            inbound=inbound,
            person=person,
            outbox=OutboxWriter(session, rt.clock, Channel.WEB.value),
            conversation=Conversation(person.wecom_userid),  # a form has no chat steps; never saved
            services=rt.services,
        )
        yield ctx
        rows = ctx.outbox.scheduled()
    rt.enqueue_rows(rows)
    rt.enqueue_deferred(ctx.deferred)
