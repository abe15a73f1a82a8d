"""Where the platform keeps a person's data: his inbound messages, the outbox, the audit trail, Redis.

Shared by the export (reads them) and the erasure (scrubs them), so both see the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from bot.models import AuditEvent, InboundMessage, OutboxMessage, Person


def inbound_from(session: Session, userid: str) -> list[InboundMessage]:
    """Every message and event the person sent (the inbound log keeps his userid)."""
    query = select(InboundMessage).where(InboundMessage.user_id == userid)
    return list(session.scalars(query.order_by(InboundMessage.id)))


def outbox_to(session: Session, userid: str) -> list[OutboxMessage]:
    """Every message addressed to the person: in the app, or as the answer to his @ in a group."""
    recipients = (userid, f"response_url:{userid}")
    query = select(OutboxMessage).where(
        or_(OutboxMessage.recipient.in_(recipients), _mentions(OutboxMessage.payload, userid))
    )
    return [row for row in session.scalars(query.order_by(OutboxMessage.id)) if addressed_to(row, userid)]


def addressed_to(row: OutboxMessage, userid: str) -> bool:
    """Whether the message goes to the person (the app chat, or the answer to his message in a group)."""
    in_app = row.recipient in (userid, f"response_url:{userid}")
    return in_app or (isinstance(row.payload, dict) and row.payload.get("user_id") == userid)


def outbox_mentioning(session: Session, userid: str) -> list[OutboxMessage]:
    """Group messages that name the person's userid (@-mentions in the 重点项目 notices)."""
    query = select(OutboxMessage).where(_mentions(OutboxMessage.payload, userid))
    rows = session.scalars(query.order_by(OutboxMessage.id))
    return [row for row in rows if not addressed_to(row, userid) and contains_userid(row.payload, userid)]


def audit_about(session: Session, person: Person) -> list[AuditEvent]:
    """Audit rows where the person acted, or was the thing changed (an import, a registration)."""
    query = select(AuditEvent).where(
        or_(
            AuditEvent.actor_id == person.id,
            AuditEvent.actor_userid == person.wecom_userid,
            (AuditEvent.entity == "person") & (AuditEvent.entity_id == str(person.id)),
        )
    )
    return list(session.scalars(query.order_by(AuditEvent.id)))


def audit_mentioning(session: Session, userid: str) -> list[AuditEvent]:
    """Audit rows whose data names the userid (a project's task force is audited by userids)."""
    query = select(AuditEvent).where(_mentions(AuditEvent.data, userid))
    return [
        row for row in session.scalars(query.order_by(AuditEvent.id)) if contains_userid(row.data, userid)
    ]


def redis_keys(prefix: str, userid: str) -> list[str]:
    """The person's keys: conversation, its lock, and the send-rate windows (bot/ratelimit.py)."""
    conversation = [f"{prefix}:conv:{userid}", f"{prefix}:conv-lock:{userid}"]
    return conversation + [f"{prefix}:rl:{seconds}:{userid}" for seconds in (60, 3600)]


def _mentions(column: Any, userid: str) -> Any:
    # A coarse filter in SQL (JSON as text, on both backends); the exact check is contains_userid.
    return cast(column, Text).contains(userid, autoescape=True)


def contains_userid(value: Any, userid: str) -> bool:
    """Whether a JSON value holds the userid as a whole string, or @-mentions it in a text."""
    found = False

    def look(text: str) -> str:
        nonlocal found
        found = found or text == userid or f"<@{userid}>" in text
        return text

    map_strings(value, look)
    return found


def replace_userid(value: Any, userid: str, pseudonym: str) -> Any:
    """A copy of a JSON value with the userid (whole strings and @-mentions) replaced by the pseudonym."""

    def swap(text: str) -> str:
        return pseudonym if text == userid else text.replace(f"<@{userid}>", f"<@{pseudonym}>")

    return map_strings(value, swap)


def map_strings(value: Any, func: Callable[[str], str]) -> Any:
    """A copy of a JSON value with `func` applied to every string in it (keys stay)."""
    if isinstance(value, str):
        return func(value)
    if isinstance(value, list | tuple):
        return [map_strings(item, func) for item in value]
    if isinstance(value, dict):
        return {key: map_strings(item, func) for key, item in value.items()}
    return value
