"""The 双24小时 clocks: natural hours, working hours over weekends, holidays and 调休, the ladder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import LOCAL_ZONE
from handlers.complaints.clocks import (
    is_late,
    is_working_day,
    pickup_deadline,
    solve_deadline,
)
from handlers.complaints.models import ClockMode

W = ClockMode.WORKING


def bj(text: str) -> datetime:
    """A Beijing wall-clock time, e.g. bj("2026-10-08 20:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_ZONE)


def test_natural_mode_is_24_clock_hours_through_nights_weekends_and_holidays():
    start = bj("2026-09-30 20:00")
    assert pickup_deadline(start) == bj("2026-10-01 20:00")
    assert solve_deadline(start, "natural") == bj("2026-10-01 20:00")
    assert pickup_deadline(start).tzinfo == UTC


@pytest.mark.parametrize(
    ("start", "due"),
    [
        ("2026-11-24 09:30", "2026-11-25 09:30"),  # Tuesday → Wednesday: a working day lends all 24 h
        ("2026-11-27 10:00", "2026-11-30 10:00"),  # Friday → Monday: the weekend stops the clock
        ("2026-11-28 15:00", "2026-12-01 00:00"),  # filed on Saturday: counting starts Monday 00:00
        ("2026-11-26 00:00", "2026-11-27 00:00"),  # ends exactly at midnight
        ("2026-09-30 20:00", "2026-10-08 20:00"),  # 4 h before 国庆, 20 h after it (10-01..10-07 off)
        ("2026-10-03 15:00", "2026-10-09 00:00"),  # filed during 国庆: the whole 10-08 counts
        ("2026-10-09 12:00", "2026-10-10 12:00"),  # Saturday 10-10 is a 调休 working day
        ("2026-02-13 18:00", "2026-02-14 18:00"),  # Saturday 02-14 is a 调休 day before 春节
        ("2026-02-14 18:00", "2026-02-24 18:00"),  # 春节 02-15..02-23 off
        ("2027-01-08 10:00", "2027-01-11 10:00"),  # beyond chinesecalendar's data: Mon–Fri
    ],
)
def test_working_mode_counts_only_hours_on_china_working_days(start, due):
    assert pickup_deadline(bj(start), W) == bj(due)
    assert solve_deadline(bj(start), W) == bj(due)


def test_the_calendar_knows_2026_holidays_and_adjusted_working_days():
    assert not is_working_day(bj("2026-10-01 00:00").date())
    assert is_working_day(bj("2026-10-10 00:00").date())  # 调休 Saturday
    assert is_working_day(bj("2026-09-20 00:00").date())  # 调休 Sunday
    assert not is_working_day(bj("2027-01-09 00:00").date())  # fallback: Saturday


def test_lateness():
    due = bj("2026-11-25 09:30")
    assert not is_late(due, due)
    assert is_late(due, due + timedelta(seconds=1))
    assert not is_late(None, due)
