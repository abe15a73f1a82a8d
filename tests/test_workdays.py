"""Working days: China's calendar where published, an honest estimate (and a warning) beyond it."""

from __future__ import annotations

import logging
from datetime import date

from bot.workdays import is_working_day, next_working_day


def test_the_published_calendar_with_its_make_up_days():
    assert not is_working_day(date(2026, 10, 1))  # 国庆
    assert is_working_day(date(2026, 9, 30))
    assert next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert is_working_day(date(2026, 10, 10))  # a Saturday made a working day (调休)


def test_a_year_not_yet_published_keeps_the_fixed_holidays_and_warns_once(caplog):
    with caplog.at_level(logging.WARNING, logger="bot.workdays"):
        assert not is_working_day(date(2031, 1, 1))  # 元旦, a Wednesday
        assert not is_working_day(date(2031, 10, 2))  # 国庆
        assert is_working_day(date(2031, 1, 2))
        assert not is_working_day(date(2031, 1, 4))  # a Saturday
    assert sum("2031" in r.getMessage() for r in caplog.records) == 1
