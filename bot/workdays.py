"""China's working days (调休 included), shared by every feature that counts or skips rest days.

chinesecalendar knows the years the State Council has published (each December for the next
year). For a year it does not know yet we fall back to Monday–Friday minus the fixed-date
statutory holidays (元旦, 劳动节, 国庆), log a warning once per year, and pick up the real calendar
as soon as the package is upgraded.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import chinese_calendar

log = logging.getLogger(__name__)

FIXED_HOLIDAYS = ((1, 1), (5, 1), (10, 1), (10, 2), (10, 3))  # the ones that fall on a fixed date
_warned: set[int] = set()


def is_working_day(day: date) -> bool:
    """A China working day (调休 included); an estimate for years chinesecalendar does not know yet."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return _estimated_working_day(day)


def _estimated_working_day(day: date) -> bool:
    if day.year not in _warned:
        _warned.add(day.year)
        log.warning(
            "chinesecalendar has no %s holidays yet: Monday-Friday without 元旦/劳动节/国庆 is assumed; "
            "upgrade chinesecalendar once the State Council publishes them",
            day.year,
        )
    return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


def next_working_day(day: date) -> date:
    """The first working day after `day`."""
    following = day + timedelta(days=1)
    while not is_working_day(following):
        following += timedelta(days=1)
    return following
