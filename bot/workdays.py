"""China's working days (调休 included), shared by every feature that counts or skips rest days."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar


def is_working_day(day: date) -> bool:
    """A China working day (调休 included); Monday–Friday for years chinesecalendar does not know."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def next_working_day(day: date) -> date:
    """The first working day after `day`."""
    following = day + timedelta(days=1)
    while not is_working_day(following):
        following += timedelta(days=1)
    return following
