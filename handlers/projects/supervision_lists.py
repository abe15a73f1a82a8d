"""The 督办 list of each person, and the daily reminders of cards due soon or overdue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.clock import as_utc
from bot.models import Person, Role
from bot.workdays import is_working_day, next_working_day
from handlers.projects.models import OPEN_CARD_STATUSES, CardStatus, SupervisionCard
from handlers.projects.supervision import answerers, deciders, local_today

# ---------------------------------------------------------------- lists


RECENTLY_CLEARED = timedelta(days=30)
SECTIONS = ("待签发", "已逾期", "办理中", "近30天已销号")


def is_overdue(card: SupervisionCard, today: date) -> bool:
    """Issued, not yet answered, and past its 期限 (the due day itself is still in time)."""
    return card.status_enum is CardStatus.ISSUED and card.due_on < today


def listing_for(session: Session, person: Person, now: datetime) -> list[tuple[str, list[SupervisionCard]]]:
    """The cards a person deals with, in sections: drafts, overdue, open, recently cleared."""
    query = select(SupervisionCard).where(_visible(person), _current(now))
    cards = list(session.scalars(query.order_by(SupervisionCard.due_on, SupervisionCard.id)))
    today = local_today(now)
    sections: dict[str, list[SupervisionCard]] = {name: [] for name in SECTIONS}
    for card in cards:
        sections[_section(card, today)].append(card)
    sections["近30天已销号"].sort(key=lambda c: as_utc(c.cleared_at or now), reverse=True)
    return [(name, found) for name, found in sections.items() if found]


def _visible(person: Person) -> Any:
    """The cards a person's list covers: a leader's own, an official's or his department's, all for admins."""
    if person.role_enum is Role.ADMIN:
        return SupervisionCard.id.is_not(None)
    if person.role_enum is Role.LEADER:
        return SupervisionCard.leader_id == person.id
    mine = [SupervisionCard.assignee_id == person.id]
    if person.department_id is not None:
        mine.append(SupervisionCard.department_id == person.department_id)
    return or_(*mine) & SupervisionCard.status.not_in([CardStatus.DRAFT.value])


def _current(now: datetime) -> Any:
    """Drafts and open cards, and those cleared within RECENTLY_CLEARED."""
    live = [CardStatus.DRAFT.value, *(s.value for s in OPEN_CARD_STATUSES)]
    return or_(
        SupervisionCard.status.in_(live),
        (SupervisionCard.status == CardStatus.CLEARED.value)
        & (SupervisionCard.cleared_at >= now - RECENTLY_CLEARED),
    )


def _section(card: SupervisionCard, today: date) -> str:
    """Which section of the list a card falls in."""
    status = card.status_enum
    if status is CardStatus.DRAFT:
        return "待签发"
    if status is CardStatus.CLEARED:
        return "近30天已销号"
    return "已逾期" if is_overdue(card, today) else "办理中"


# ---------------------------------------------------------------- reminders


@dataclass(frozen=True)
class Reminder:
    """One message to one person, with the outbox key that makes it once-only."""

    person: Person
    card: SupervisionCard
    kind: str  # "due" (due by the next working day), "overdue" (assignee), "overdue-leader"
    key: str


def due_reminders(session: Session, today: date) -> list[Reminder]:
    """The reminders of a working day: cards due by the next working day, and overdue ones.

    The assignee hears of an overdue card every working day, the leader once per issue (the key
    holds the card's version, so a card 退回 and overdue again is reported again). Nothing on a rest day.
    """
    if not is_working_day(today):
        return []
    horizon = next_working_day(today)
    query = select(SupervisionCard).where(
        SupervisionCard.status == CardStatus.ISSUED.value, SupervisionCard.due_on <= horizon
    )
    found: list[Reminder] = []
    for card in session.scalars(query.order_by(SupervisionCard.due_on, SupervisionCard.id)):
        found.extend(_due_soon(session, card) if card.due_on > today else _overdue(session, card, today))
    return found


def _due_soon(session: Session, card: SupervisionCard) -> Iterable[Reminder]:
    """The answerers of a card due by the next working day, once per due date."""
    for person in answerers(session, card):
        yield Reminder(person, card, "due", f"sv:{card.id}:due:{card.due_on.isoformat()}:{person.id}")


def _overdue(session: Session, card: SupervisionCard, today: date) -> Iterable[Reminder]:
    """The answerers of an overdue card (daily) and its leader (once per issue)."""
    if card.due_on == today:
        return  # due today: still in time, and yesterday's reminder said so
    for person in answerers(session, card):
        yield Reminder(person, card, "overdue", f"sv:{card.id}:overdue:{today.isoformat()}:{person.id}")
    for person in deciders(session, card):
        yield Reminder(person, card, "overdue-leader", f"sv:{card.id}:v{card.version}:overdue:{person.id}")
