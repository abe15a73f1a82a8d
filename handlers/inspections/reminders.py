"""The day-before reminders: a quiet period about to begin, and each approved inspection.

Sent on working days only, looking ahead to the next working day: on a Friday the reminders
for Saturday, Sunday and Monday go out together, and nothing is sent on a holiday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Department, Person, Role
from bot.replies import Text
from bot.workdays import is_working_day, next_working_day
from handlers.inspections.models import Inspection, InspectionStatus
from handlers.inspections.rules import QuietRules, quiet_period_begins, quiet_reason, rules_on


@dataclass(frozen=True)
class Reminder:
    """One message to one person, with the key that makes it once-only."""

    person: Person
    text: Text
    key: str


def days_ahead(today: date) -> list[date]:
    """The days this run covers: tomorrow up to the next working day; none on a rest day."""
    if not is_working_day(today):
        return []
    horizon = next_working_day(today)
    return [today + timedelta(days=n) for n in range(1, (horizon - today).days + 1)]


def reminders_for(session: Session, today: date) -> list[Reminder]:
    """Every reminder due today."""
    found: list[Reminder] = []
    for day in days_ahead(today):
        rules, _ = rules_on(session, day)
        if quiet_period_begins(rules, day):
            found.extend(_quiet_period(session, rules, day))
        found.extend(_inspections_on(session, day))
    return found


def _quiet_period(session: Session, rules: QuietRules, day: date) -> list[Reminder]:
    text = Text(
        f"【企业宁静日提醒】{day:%m月%d日}起进入企业宁静日（{quiet_reason(rules, day)}）。"
        f"除{'、'.join(rules.exempt_categories)}外，不得入企开展行政检查；确需检查请先发送「报备检查」。"
    )
    return [
        Reminder(p, text, f"quiet:{day.isoformat()}:{p.id}") for p in enforcement_officials(session, rules)
    ]


def enforcement_officials(session: Session, rules: QuietRules) -> list[Person]:
    """The active officials of the enforcement departments."""
    query = (
        select(Person)
        .join(Department, Person.department_id == Department.id)
        .where(
            Department.code.in_(rules.enforcement_departments),
            Person.role == Role.OFFICIAL.value,
            Person.active.is_(True),
        )
    )
    return list(session.scalars(query.order_by(Person.id)))


def _inspections_on(session: Session, day: date) -> list[Reminder]:
    query = select(Inspection).where(
        Inspection.planned_on == day, Inspection.status == InspectionStatus.APPROVED.value
    )
    reminders = []
    for item in session.scalars(query.order_by(Inspection.id)):
        text = Text(
            f"【检查提醒】{day:%m月%d日}您部门将检查{item.enterprise.name}（{item.number}，{item.category}）。"
            f"检查后请发送「检查结果 {item.number} 结果」登记；轻微违法可查「免罚 关键词」。"
        )
        reminders.append(Reminder(item.registered_by, text, f"insp:{item.id}:eve:{day.isoformat()}"))
    return reminders
