"""Short numbers people type (S2611-0042, J2612-0003): a letter, the local year and month, a sequence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.clock import as_utc, local
from bot.errors import Conflict

ATTEMPTS = 5


def next_number(session: Session, column: InstrumentedAttribute[str], letter: str, now: datetime) -> str:
    """The next free number of this month for `column` (read, not reserved: see insert_numbered)."""
    prefix = f"{letter}{local(as_utc(now)):%y%m}-"
    last = session.scalar(select(func.max(column)).where(column.like(f"{prefix}%")))
    return f"{prefix}{int(last[len(prefix) :]) + 1 if last else 1:04d}"


def insert_numbered(
    session: Session, row: Any, column: InstrumentedAttribute[str], letter: str, now: datetime, *, busy: str
) -> None:
    """Add `row` with the next number; two writers in the same instant each get their own.

    The unique index refuses the second writer's number; it then takes the next one inside a
    savepoint instead of failing the person who is waiting.
    """
    for _ in range(ATTEMPTS):
        setattr(row, column.key, next_number(session, column, letter, now))
        try:
            with session.begin_nested():
                session.add(row)
            return
        except IntegrityError:
            continue
    raise Conflict(busy)
