"""Short numbers people type (S2611-0042, J2612-0003): a letter, the local year and month, a sequence."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.clock import as_utc, local
from bot.errors import Conflict, Invalid

ATTEMPTS = 5
# ASCII digits only: \d would also take Arabic-Indic ones (「S١٢٣٤-1」), which NFKC leaves as they are
# and the stored numbers never hold.
_TYPED = re.compile(r"^([A-Z]?)(\d{4})[-_]?(\d{1,6})$", re.ASCII)
_SPACES = re.compile(r"\s+")


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


def canonical_number(text: str, letter: str, what: str, example: str) -> str:
    """A number as people type it (「s2611-42」「S26110042」「Ｓ２６１１－００４２」) → 「S2611-0042」.

    The letter may be left out; another letter, or anything else, is refused naming `what`
    and showing `example` (「单号形如 S2611-0042」).
    """
    raw = _SPACES.sub("", unicodedata.normalize("NFKC", text)).upper()
    match = _TYPED.match(raw)
    if match is None or match.group(1) not in ("", letter):
        raise Invalid(f"「{text.strip() or '（空）'}」不是{what}，{example}。")
    return f"{letter}{match.group(2)}-{int(match.group(3)):04d}"
