"""The two 24-hour clocks of 双24小时 — pure functions of time (the alarms are in alarms.py).

Natural mode (the default) counts 24 clock hours: "上门接单24小时不打烊" is a promise that does
not stop for the night or the weekend.

Working mode counts 24 hours that fall on a China working day, round the clock, in the county's
zone: weekends and public holidays stop the clock, 调休 Saturdays/Sundays run it. So an order
dispatched on Friday 10:00 is due on Monday 10:00, and one dispatched on a holiday is due 24 h
after the first working day begins (00:00). Office hours are deliberately not modelled: counting
only 08:30–17:30 would turn "24 hours" into three working days, which is not what the counties
promise. Working days come from chinesecalendar (1.11 knows 2004–2026); for a year it does not
know, Monday–Friday are taken as working days rather than failing an order.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bot.clock import LOCAL_ZONE, as_utc, local
from bot.workdays import is_working_day
from handlers.complaints.models import ClockMode

DAY_HOURS = timedelta(hours=24)


def pickup_deadline(dispatched_at: datetime, mode: ClockMode | str = ClockMode.NATURAL) -> datetime:
    """When the holding department must have picked the order up (上门接单24小时)."""
    return add_hours(dispatched_at, DAY_HOURS, mode)


def solve_deadline(picked_up_at: datetime, mode: ClockMode | str = ClockMode.NATURAL) -> datetime:
    """When the problem must be solved (解决问题24小时不超限)."""
    return add_hours(picked_up_at, DAY_HOURS, mode)


def add_hours(start: datetime, span: timedelta, mode: ClockMode | str) -> datetime:
    """`start` plus `span` of counted time, as aware UTC."""
    if ClockMode(mode) is ClockMode.NATURAL:
        return as_utc(start) + span
    return _add_working(local(as_utc(start)), span)


def _add_working(cursor: datetime, remaining: timedelta) -> datetime:
    # Walk day by day: a working day lends the rest of itself, a rest day lends nothing.
    for _ in range(400):  # a year of rest days would be a bug in the calendar, not a long wait
        midnight = datetime.combine(cursor.date() + timedelta(days=1), time(0), tzinfo=LOCAL_ZONE)
        if is_working_day(cursor.date()):
            if remaining <= midnight - cursor:
                return as_utc(cursor + remaining)
            remaining -= midnight - cursor
        cursor = midnight
    raise RuntimeError("no working day within 400 days")


def subtract_hours(end: datetime, span: timedelta, mode: ClockMode | str) -> datetime:
    """The moment `span` of counted time before `end` (the inverse of add_hours), as aware UTC."""
    if ClockMode(mode) is ClockMode.NATURAL:
        return as_utc(end) - span
    return _subtract_working(local(as_utc(end)), span)


def _subtract_working(upto: datetime, remaining: timedelta) -> datetime:
    # Walk back day by day: a working day gives the part of itself before `upto`, a rest day nothing.
    day = upto.date()
    for _ in range(400):
        midnight = datetime.combine(day, time(0), tzinfo=LOCAL_ZONE)
        if is_working_day(day):
            if remaining <= upto - midnight:
                return as_utc(upto - remaining)
            remaining -= upto - midnight
        day, upto = day - timedelta(days=1), midnight
    raise RuntimeError("no working day within 400 days")


def is_late(due: datetime | None, now: datetime) -> bool:
    """Past the deadline (a deadline not yet set is never late)."""
    return due is not None and as_utc(now) > as_utc(due)
