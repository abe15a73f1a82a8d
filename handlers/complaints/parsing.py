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
    try:
        at = datetime(
            int(year) if year else today.year,
            int(month),
            int(day),
            int(hour) if hour else END_OF_DAY.hour,
            int(minute) if minute else 0,
            tzinfo=LOCAL_ZONE,
        )
    except ValueError as exc:
        raise Invalid(f"「{match.group(0)}」不是有效的日期时间。") from exc
    if not year and at.date() < today.date():
        at = _next_year(at, match.group(0))  # 「1月5日」 typed in December means next year
    return as_utc(at), raw[match.end() :].strip()


def _next_year(at: datetime, typed: str) -> datetime:
    try:
        return at.replace(year=at.year + 1)
    except ValueError as exc:  # 2月29日 with no leap day next year
        raise Invalid(f"「{typed}」在明年不存在，请写明年份。") from exc


def pick(text: str, choices: tuple[str, ...], what: str) -> str:
    """A choice typed as its number (1-based) or as itself; otherwise an answer listing them."""
    value = unicodedata.normalize("NFKC", text).strip()
    if value.isdigit() and 1 <= int(value) <= len(choices):
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
