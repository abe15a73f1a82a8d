"""Reading what people type: a one-line filing, a 延期 date, a choice from a numbered list."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.clock import LOCAL_ZONE, as_utc, local
from bot.errors import Invalid
from handlers.complaints.models import URGENCIES

DEFAULT_CATEGORY = "其他"
END_OF_DAY = time(18, 0)  # a date without a time means the end of that working day
# A typed year outside these is a typo; far ones (0001, 9999) cannot even be converted to UTC.
FIRST_YEAR, LAST_YEAR = 2000, 2099

_SPACES = re.compile(r"\s+")
_ISO = re.compile(r"^(?:(\d{4})[-/.])?(\d{1,2})[-/.](\d{1,2})(?:[ T]?(\d{1,2})[:：](\d{2}))?")
_CHINESE = re.compile(
    r"^(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号](?:(\d{1,2})(?:[:：](\d{2})|[点时](?:(\d{1,2})分?)?))?"
)
_SPAN = re.compile(r"^(\d{1,3}(?:\.\d)?)\s*(天|日|小时|个小时|h)")


@dataclass(frozen=True)
class Filing:
    """A one-line 诉求: its category (the default if not named), urgency and text."""

    category: str
    urgency: str
    text: str


def parse_filing(args: str, categories: tuple[str, ...]) -> Filing:
    """「用地 紧急 厂房扩建…」: a leading category and/or 紧急 are taken, the rest is the request."""
    words = args.strip().split(" ")
    category, urgency = DEFAULT_CATEGORY if DEFAULT_CATEGORY in categories else categories[-1], "普通"
    while words:
        head = unicodedata.normalize("NFKC", words[0]).strip("：:，,【】[]")
        if head in categories:
            category = head
        elif head in URGENCIES:
            urgency = head
        else:
            break
        words = words[1:]
    return Filing(category, urgency, " ".join(words).strip())


def parse_until(text: str, now: datetime) -> tuple[datetime, str]:
    """「2026-11-28 18:00 等待批复」「11月28日 …」「3天 …」「48小时 …」 → (aware UTC moment, the rest)."""
    raw = unicodedata.normalize("NFKC", text).strip()
    today = local(as_utc(now))
    if match := _SPAN.match(raw):
        amount, unit = float(match.group(1)), match.group(2)
        delta = timedelta(days=amount) if unit in ("天", "日") else timedelta(hours=amount)
        return as_utc(now) + delta, raw[match.end() :].strip()
    match = _ISO.match(raw) or _CHINESE.match(raw)
    if match is None:
        raise Invalid(
            f"没有看懂延期时间「{raw.split(' ')[0] if raw else '（空）'}」。"
            "例如：2026-11-28 18:00、11月28日、3天、48小时。"
        )
    year, month, day, hour, minute, *more = match.groups()
    minute = minute or (more[0] if more else None)
    typed = match.group(0)
    if year and not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise Invalid(f"「{typed}」的年份不对，请写{FIRST_YEAR}至{LAST_YEAR}年之间的日期。")
    hour_minute = (int(hour) if hour else END_OF_DAY.hour, int(minute) if minute else 0)
    if year:
        at = _moment(int(year), int(month), int(day), hour_minute, typed)
    else:
        at = _yearless_moment(int(month), int(day), hour_minute, today, typed)
    return as_utc(at), raw[match.end() :].strip()


def _moment(year: int, month: int, day: int, hour_minute: tuple[int, int], typed: str) -> datetime:
    """The local moment, or Invalid naming what was typed (「2月30日」, 「25:00」)."""
    try:
        return datetime(year, month, day, *hour_minute, tzinfo=LOCAL_ZONE)
    except ValueError as exc:
        raise Invalid(f"「{typed}」不是有效的日期时间。") from exc


def _yearless_moment(
    month: int, day: int, hour_minute: tuple[int, int], today: datetime, typed: str
) -> datetime:
    """This year's, or next year's when this year's has passed (「1月5日」 typed in December) or does
    not exist (「2月29日」 typed in 2027 means 2028's)."""
    try:
        at = datetime(today.year, month, day, *hour_minute, tzinfo=LOCAL_ZONE)
    except ValueError:
        at = None
    if at is not None and at.date() >= today.date():
        return at
    try:
        return datetime(today.year + 1, month, day, *hour_minute, tzinfo=LOCAL_ZONE)
    except ValueError as exc:
        if at is not None:  # 2月29日 of a leap year, passed, with no leap day next year
            raise Invalid(f"「{typed}」在明年不存在，请写明年份。") from exc
        raise Invalid(f"「{typed}」不是有效的日期时间。") from exc


def pick(text: str, choices: tuple[str, ...], what: str) -> str:
    """A choice typed as its number (1-based) or as itself; otherwise an answer listing them."""
    value = unicodedata.normalize("NFKC", text).strip()
    # isdecimal, not isdigit: 「፩」 is a digit that int() refuses.
    if value.isdecimal() and 1 <= int(value) <= len(choices):
        return choices[int(value) - 1]
    if value in choices:
        return value
    raise Invalid(f"请回复{what}的序号或名称：\n{numbered(choices)}")


def numbered(choices: tuple[str, ...]) -> str:
    """「1. 审批  2. 用地 …」, one per line."""
    return "\n".join(f"{i}. {c}" for i, c in enumerate(choices, 1))


def split_first(text: str) -> tuple[str, str]:
    """The first word and the rest."""
    head, _, rest = _SPACES.sub(" ", text.strip()).partition(" ")
    return head, rest.strip()
