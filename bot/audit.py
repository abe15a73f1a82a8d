"""The audit trail: every state change records who, when, what and from which channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.models import AuditEvent, Person


def record(
    session: Session,
    *,
    at: datetime,
    actor: Person | None,
    channel: str,
    action: str,
    entity: str,
    entity_id: object = None,
    data: dict[str, Any] | None = None,
    actor_userid: str | None = None,
) -> AuditEvent:
    """Add one audit row to the caller's transaction (it commits or rolls back with the change)."""
    event = AuditEvent(
        at=at,
        actor_id=actor.id if actor else None,
        actor_userid=actor.wecom_userid if actor else actor_userid,
        channel=channel,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        data=data or {},
    )
    session.add(event)
    return event
