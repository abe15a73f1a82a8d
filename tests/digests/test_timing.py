"""When digests go out and what the period before a digest's is: working days, rest weeks, 春节."""

from __future__ import annotations

import ast
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from bot.clock import LOCAL_ZONE
from bot.settings import Settings
from handlers.digests import model, timing
from handlers.digests.figures import trend_points
from handlers.digests.model import Period, PeriodKind, daily_period, week_period
from handlers.digests.timing import due_periods, weekly_periods_due, weekly_send_day

SETTINGS = Settings.from_env({})


def due(moment: str) -> list[str]:
    """The labels of the digests due at a local moment."""
    now = datetime.fromisoformat(moment).replace(tzinfo=LOCAL_ZONE)
    return [p.label for p in due_periods(now, SETTINGS)]


# ---------------------------------------------------------------- the 日报 before a 日报


def test_the_daily_digest_before_tuesdays_is_mondays_not_sundays():
    tuesday = daily_period(date(2026, 12, 1))  # Monday 30 November
    assert (
        tuesday.previous()
        == daily_period(date(2026, 11, 30))
        == Period(PeriodKind.DAY, date(2026, 11, 27), date(2026, 11, 30))
    )
    assert tuesday.previous().label == "11月27日—11月29日"
    # Monday's (Fri–Sun) is compared with Thursday's 日报 (Thursday 26日).
    assert daily_period(date(2026, 11, 30)).previous() == Period(
        PeriodKind.DAY, date(2026, 11, 26), date(2026, 11, 27)
    )


def test_the_daily_trend_has_no_weekend_gaps():
    seen: list[Period] = []

    def figures_for(period: Period) -> dict:
        seen.append(period)
        return {}

    points = trend_points(daily_period(date(2026, 12, 2)), figures_for, 4)
    assert [p.label for p in points] == ["11月26日", "11月27日—11月29日", "11月30日", "12月1日"]
    # Back to back: each period ends where the next begins.
    assert all(a.end == b.start for a, b in pairwise(seen))


def test_after_a_holiday_the_daily_digest_before_is_the_last_one_sent():
    after_national_day = daily_period(date(2026, 10, 8))  # 9月30日—10月7日
    assert after_national_day.label == "9月30日—10月7日"
    assert after_national_day.previous().label == "9月29日"


def test_weeks_months_and_quarters_step_back_by_the_calendar():
    assert week_period(date(2026, 11, 25)).previous() == week_period(date(2026, 11, 18))
    assert model.month_period(date(2026, 1, 15)).previous() == model.month_period(date(2025, 12, 1))
    assert model.quarter_period(date(2026, 2, 1)).previous() == model.quarter_period(date(2025, 11, 1))


def test_model_does_not_import_timing_and_timing_reuses_its_daily_period():
    assert timing.daily_period is model.daily_period
    assert timing.previous_working_day is model.previous_working_day
    tree = ast.parse(Path(model.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "handlers.digests.timing" not in imported  # timing imports model: no cycle


# ---------------------------------------------------------------- 周报 after a week off


def test_spring_festival_week_rolls_both_weekly_digests_to_the_first_working_day():
    # 2026: 2月15日–23日 are off (2月14日, a Saturday, is worked). The week of 16日 has no working
    # day, so its 周报 (of the week of 9日) rolls into the next week, to Tuesday 24日 — the same day
    # as the 周报 of the week of 16日.
    assert weekly_send_day(date(2026, 2, 16), 0) == date(2026, 2, 24)
    assert weekly_send_day(date(2026, 2, 23), 0) == date(2026, 2, 24)
    assert weekly_periods_due(date(2026, 2, 24), 0) == [
        week_period(date(2026, 2, 9)),
        week_period(date(2026, 2, 16)),
    ]
    assert due("2026-02-24 08:30") == [
        "2月14日—2月23日",
        "第7周（2月9日—2月15日）",
        "第8周（2月16日—2月22日）",
    ]
    assert due("2026-02-16 08:30") == due("2026-02-23 08:30") == []  # rest days
    assert due("2026-02-25 08:30") == ["2月24日"]  # each goes out once, on its day


@pytest.mark.parametrize(
    ("moment", "labels"),
    [
        ("2026-11-30 08:30", ["11月27日—11月29日", "第48周（11月23日—11月29日）"]),  # a plain Monday
        ("2026-10-08 09:00", ["9月30日—10月7日", "第40周（9月28日—10月4日）"]),  # 国庆: the week of 5日
        ("2026-11-30 11:31", []),  # past the window
    ],
)
def test_an_ordinary_week_sends_one_weekly_digest(moment, labels):
    assert due(moment) == labels


def test_a_weekly_day_other_than_monday_rolls_across_the_weekend():
    # 周报 on Fridays: the week of 9 February 2026 sends on Friday 13日; the week of 16日 (off) on 24日.
    friday = SETTINGS.with_(digest_weekly_day=4)
    now = datetime(2026, 2, 24, 8, 30, tzinfo=LOCAL_ZONE)
    assert [p.label for p in due_periods(now, friday)] == ["2月14日—2月23日", "第7周（2月9日—2月15日）"]
    assert weekly_periods_due(date(2026, 2, 13), 4) == [week_period(date(2026, 2, 2))]
