"""Reading the day of a planned inspection as officials type it: 2026-12-03, 12月3日, 明天, 下周一.

Choices, so that the same words always mean the same day:
- 「周三」「星期三」「礼拜三」 is the nearest Wednesday on or after today — today itself when today
  is a Wednesday (an official registering in the morning for the afternoon says 「周三」); the
  weekday of next week is 「下周三」. 「本周三」/「这周三」 is the Wednesday of this calendar week.
- Weeks start on Monday: on Tuesday 2026-11-24, 「下周一」 is 2026-11-30 and 「下周日」 2026-12-06.
- A date without a year is this year's; when that lies more than half a year back it is taken as
  next year's (「1月5日」 typed in November), otherwise a past date is refused, not moved.
- A day before today, or more than 366 days ahead, is refused.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

from bot.errors import Invalid

MAX_AHEAD = timedelta(days=366)
ROLL_OVER = timedelta(days=183)  # a year-less date this far back means next year's
EXAMPLES = "例如：2026-12-03、12月3日、明天、周三、下周一。"

WEEKDAY_NAMES = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7, "七": 7}
WEEKDAY_LABELS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_PREFIXES = ("星期", "礼拜", "周")
_RELATIVE = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "後天": 2, "大后天": 3}
_SPACES = re.compile(r"\s+")
_FULL = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?$")
_SHORT = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})[日号]?$")
_WEEK = re.compile(r"^(下|本|这)?(?:星期|礼拜|周)(.)$")


def parse_day(text: str, today: date) -> date:
    """The day `text` names, on or after `today` and at most 366 days ahead; otherwise Invalid."""
    raw = _SPACES.sub("", unicodedata.normalize("NFKC", text))
    day = _read(raw, today)
    if day is None:
        raise Invalid(f"没有看懂检查日期「{raw}」。{EXAMPLES}" if raw else f"请写明检查日期，{EXAMPLES}")
    return _in_window(day, today)


def weekday_number(text: str) -> int | None:
    """1 (周一) … 7 (周日) for 「3」「周三」「星期三」「礼拜三」「三」; None when it is not a weekday."""
    token = unicodedata.normalize("NFKC", text).strip()
    for prefix in _PREFIXES:
        if token.startswith(prefix):
            token = token[len(prefix) :]
            break
    if token.isdecimal() and len(token) == 1:
        return int(token) if 1 <= int(token) <= 7 else None
    return WEEKDAY_NAMES.get(token)


def _read(raw: str, today: date) -> date | None:
    """The day named by the normalised text, not yet checked against today; None if not a day."""
    if raw in _RELATIVE:
        return today + timedelta(days=_RELATIVE[raw])
    if match := _WEEK.match(raw):
        return _weekday(match.group(1), match.group(2), today)
    if match := _FULL.match(raw):
        return _calendar(raw, int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if match := _SHORT.match(raw):
        return _yearless(raw, int(match.group(1)), int(match.group(2)), today)
    return None


def _weekday(which: str | None, name: str, today: date) -> date | None:
    number = weekday_number(name)
    if number is None:
        return None
    monday = today - timedelta(days=today.weekday())
    if which == "下":
        return monday + timedelta(days=7 + number - 1)
    if which in ("本", "这"):
        return monday + timedelta(days=number - 1)
    return today + timedelta(days=(number - 1 - today.weekday()) % 7)  # today when it is that day


def _calendar(raw: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise Invalid(f"「{raw}」不是有效的日期。{EXAMPLES}") from exc


def _yearless(raw: str, month: int, day: int, today: date) -> date:
    leap = _calendar(raw, 2000, month, day)  # 2000 is a leap year: 2月29日 reads, then checks
    # This year's, or next year's when this year's lies far back — or does not exist: 「2月29日」
    # typed in December 2027 is the 29th of February 2028.
    for year in (today.year, today.year + 1):
        try:
            candidate = leap.replace(year=year)
        except ValueError:
            continue
        if year > today.year or today - candidate <= ROLL_OVER:
            return candidate
    raise Invalid(f"「{raw}」不是有效的日期（那一年没有2月29日）。")


def _in_window(day: date, today: date) -> date:
    if day < today:
        raise Invalid(f"检查日期不能早于今天（{today:%Y-%m-%d}）。")
    if day - today > MAX_AHEAD:
        raise Invalid(
            f"检查日期（{day:%Y-%m-%d}）太远了，最多提前一年报备（最晚{today + MAX_AHEAD:%Y-%m-%d}）。"
        )
    return day
