"""When digests go out: the 日报 on working days, the 周报 on the first working day of the week.

The cron job runs every 5 minutes and asks which digests are due now; each goes out once (the
outbox keys name the period and the recipient) within a window after its time, so a worker that
was down at 08:30 still sends it at 08:40, but not at night.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from bot.clock import LOCAL_ZONE, as_utc, local
from bot.settings import Settings
from bot.workdays import is_working_day
from handlers.digests.model import Period, daily_period, previous_working_day, week_period

__all__ = [
    "SEND_WINDOW",
    "daily_period",
    "due_periods",
    "previous_working_day",
    "weekly_periods_due",
    "weekly_send_day",
]

SEND_WINDOW = timedelta(hours=3)
WEEKS_ROLLED = 3  # a 周报's send day rolls at most this many weeks on (no rest runs that long)


def weekly_send_day(week_monday: date, weekday: int) -> date:
    """The day of the week's 周报: the configured weekday, or the next working day in or after it.

    When the rest of the week is off (春节: 2026-02-16…22 and 23) that day falls in a later week.
    """
    day = week_monday + timedelta(days=weekday)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def due_periods(now: datetime, settings: Settings) -> list[Period]:
    """The digests due at `now`: a 日报, and the 周报 of each week whose send day is today, oldest first.

    Normally one 周报 (the week before this one); after a whole week off, the week before that
    one's 周报 rolled forward to today too, and each goes out under its own period (and key).
    """
    today = local(as_utc(now)).date()
    due: list[Period] = []
    if is_working_day(today) and _in_window(now, today, settings.digest_daily_time):
        due.append(daily_period(today))
    if _in_window(now, today, settings.digest_weekly_time):
        due += weekly_periods_due(today, settings.digest_weekly_day)
    return due


def weekly_periods_due(today: date, weekday: int) -> list[Period]:
    """The 周报 sent on `today`, oldest first: the week before each week whose send day is today."""
    this_week = week_period(today)
    due: list[Period] = []
    for back in range(WEEKS_ROLLED, -1, -1):
        week = week_period(this_week.start - timedelta(days=7 * back))
        if weekly_send_day(week.start, weekday) == today:
            due.append(week.previous())
    return due


def _in_window(now: datetime, day: date, at: time) -> bool:
    start = as_utc(datetime.combine(day, at, tzinfo=LOCAL_ZONE))
    return start <= as_utc(now) < start + SEND_WINDOW
