"""parse_day: the day of a planned inspection as officials type it, read against a fixed today."""

from __future__ import annotations

from datetime import date

import pytest

from bot.errors import Invalid
from handlers.inspections.dates import parse_day, weekday_number

TODAY = date(2026, 11, 24)  # a Tuesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-03", date(2026, 12, 3)),
        ("2026/12/3", date(2026, 12, 3)),
        ("2026.12.03", date(2026, 12, 3)),
        ("2026年12月3日", date(2026, 12, 3)),
        ("12-03", date(2026, 12, 3)),
        ("12/3", date(2026, 12, 3)),
        ("12月3日", date(2026, 12, 3)),
        ("12月3号", date(2026, 12, 3)),
        ("12月3", date(2026, 12, 3)),
        ("１２月３日", date(2026, 12, 3)),  # full-width digits
        ("２０２６－１２－０３", date(2026, 12, 3)),
        (" 12月 3日 ", date(2026, 12, 3)),
        ("11月24日", TODAY),
        ("1月5日", date(2027, 1, 5)),  # more than half a year back: next year's
        ("5月20日", date(2027, 5, 20)),
        ("今天", TODAY),
        ("今日", TODAY),
        ("明天", date(2026, 11, 25)),
        ("后天", date(2026, 11, 26)),
        ("大后天", date(2026, 11, 27)),
        ("周二", TODAY),  # today is a Tuesday: 「周二」 is today
        ("周三", date(2026, 11, 25)),
        ("星期三", date(2026, 11, 25)),
        ("礼拜三", date(2026, 11, 25)),
        ("周3", date(2026, 11, 25)),
        ("周日", date(2026, 11, 29)),
        ("星期天", date(2026, 11, 29)),
        ("周一", date(2026, 11, 30)),  # the coming Monday
        ("本周五", date(2026, 11, 27)),
        ("这周日", date(2026, 11, 29)),
        ("下周一", date(2026, 11, 30)),  # weeks start on Monday
        ("下周二", date(2026, 12, 1)),
        ("下星期三", date(2026, 12, 2)),
        ("下礼拜日", date(2026, 12, 6)),
        ("下周日", date(2026, 12, 6)),
        ("2027-11-25", date(2027, 11, 25)),  # 366 days ahead: the last day allowed
    ],
)
def test_days_read(text: str, expected: date) -> None:
    assert parse_day(text, TODAY) == expected


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        (date(2026, 11, 25), "周三", date(2026, 11, 25)),  # on a Wednesday, 「周三」 is today
        (date(2026, 11, 25), "下周三", date(2026, 12, 2)),
        (date(2026, 11, 29), "下周一", date(2026, 11, 30)),  # Sunday: next week begins tomorrow
        (date(2026, 11, 29), "周一", date(2026, 11, 30)),
        (date(2026, 11, 30), "下周日", date(2026, 12, 13)),
        (date(2026, 12, 28), "1月4日", date(2027, 1, 4)),  # typed at the year's end
        (date(2026, 12, 31), "明天", date(2027, 1, 1)),
        (date(2027, 1, 3), "12月30日", date(2027, 12, 30)),
    ],
)
def test_days_relative_to_another_today(today: date, text: str, expected: date) -> None:
    assert parse_day(text, today) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-23", "检查日期不能早于今天（2026-11-24）。"),
        ("11月20日", "检查日期不能早于今天（2026-11-24）。"),  # a few days back is not next year's
        ("本周一", "检查日期不能早于今天（2026-11-24）。"),
        ("6月1日", "检查日期不能早于今天（2026-11-24）。"),  # less than half a year back
        ("2025-12-03", "检查日期不能早于今天（2026-11-24）。"),
        ("2027-11-26", "检查日期（2027-11-26）太远了，最多提前一年报备（最晚2027-11-25）。"),
        ("2028-02-29", "检查日期（2028-02-29）太远了，最多提前一年报备（最晚2027-11-25）。"),
        ("2026-02-30", "「2026-02-30」不是有效的日期。例如：2026-12-03、12月3日、明天、周三、下周一。"),
        ("13月1日", "「13月1日」不是有效的日期。例如：2026-12-03、12月3日、明天、周三、下周一。"),
        ("2月29日", "「2月29日」不是有效的日期（那一年没有2月29日）。"),
        ("下个月", "没有看懂检查日期「下个月」。例如：2026-12-03、12月3日、明天、周三、下周一。"),
        ("周八", "没有看懂检查日期「周八」。例如：2026-12-03、12月3日、明天、周三、下周一。"),
        ("下下周一", "没有看懂检查日期「下下周一」。例如：2026-12-03、12月3日、明天、周三、下周一。"),
        ("12月3日上午", "没有看懂检查日期「12月3日上午」。例如：2026-12-03、12月3日、明天、周三、下周一。"),
        ("", "请写明检查日期，例如：2026-12-03、12月3日、明天、周三、下周一。"),
    ],
)
def test_bad_days_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_day(text, TODAY)
    assert exc.value.message == message


@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), ("周一", 1), ("星期三", 3), ("礼拜五", 5), ("六", 6), ("周日", 7), ("星期天", 7), ("７", 7)],
)
def test_weekday_numbers(text: str, number: int) -> None:
    assert weekday_number(text) == number


@pytest.mark.parametrize("text", ["0", "8", "周八", "周", "Wednesday", "", "周一二"])
def test_not_weekdays(text: str) -> None:
    assert weekday_number(text) is None
