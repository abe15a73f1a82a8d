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
from handlers.digests.model import Period, PeriodKind, week_period

SEND_WINDOW = timedelta(hours=3)


def previous_working_day(day: date) -> date:
    """The last working day before `day`."""
    earlier = day - timedelta(days=1)
    while not is_working_day(earlier):
        earlier -= timedelta(days=1)
    return earlier


def daily_period(today: date) -> Period:
    """The 日报 sent on `today`: the days since the previous working day's (Monday's covers Fri–Sun)."""
    return Period(PeriodKind.DAY, previous_working_day(today), today)


def weekly_send_day(week_monday: date, weekday: int) -> date:
    """The day of the week's 周报: the configured weekday, or the next working day in or after it."""
    day = week_monday + timedelta(days=weekday)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def due_periods(now: datetime, settings: Settings) -> list[Period]:
    """The digests due at `now` (at most a 日报 and a 周报)."""
    today = local(as_utc(now)).date()
    due: list[Period] = []
    if is_working_day(today) and _in_window(now, today, settings.digest_daily_time):
        due.append(daily_period(today))
    this_week = week_period(today)
    if weekly_send_day(this_week.start, settings.digest_weekly_day) == today and _in_window(
        now, today, settings.digest_weekly_time
    ):
        due.append(this_week.previous())
    return due


def _in_window(now: datetime, day: date, at: time) -> bool:
    start = as_utc(datetime.combine(day, at, tzinfo=LOCAL_ZONE))
    return start <= as_utc(now) < start + SEND_WINDOW
