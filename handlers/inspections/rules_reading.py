"""Reading a quiet-day rules mapping (a YAML file, a stored version): each key's value and every problem.

The functions here take and return plain values (and anything shaped like QuietRules), so this module
does not import handlers.inspections.rules: QuietRules.from_dict calls them and builds the rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from handlers.inspections.dates import weekday_number

MAX_RANGE_DAYS = 366
MAX_NAME = 16  # Inspection.category's length
MAX_CODE = 32  # Department.code's length
QUIET_KEYS = ("month_days", "weekdays", "ranges", "holidays")  # left out means: no such quiet days

_SEPARATORS = re.compile(r"[,，、;；\s]+")
_AROUND_DASH = re.compile(r"\s*([-~至到])\s*")
_SPAN = re.compile(r"[-~至到]")
_RANGE = re.compile(r"\s*(?:至|到|~|\.\.)\s*")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


class _Bad(Exception):
    """One key's problem (the key is added by the caller)."""


class QuietDays(Protocol):
    """What the checks between keys look at (QuietRules has it)."""

    @property
    def month_days(self) -> frozenset[int]: ...
    @property
    def weekdays(self) -> frozenset[int]: ...
    @property
    def ranges(self) -> tuple[tuple[date, date], ...]: ...
    @property
    def holidays(self) -> bool: ...
    @property
    def categories(self) -> tuple[str, ...]: ...
    @property
    def exempt_categories(self) -> tuple[str, ...]: ...


def read_values(
    data: Mapping[str, Any], problems: list[str], defaults: Mapping[str, Any], extra: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """Every key `defaults` names, read or defaulted, with problems appended; None if one is unreadable."""
    if not isinstance(data, Mapping):
        problems.append("规则应为「设置项: 值」的映射（例如 month_days: 1-20）")
        return None
    names = list(defaults)
    unknown = [str(k) for k in data if k not in names and k not in extra]
    if unknown:
        problems.append(f"未知的设置项{''.join(f'「{k}」' for k in unknown)}（可用：{'、'.join(names)}）")
    values: dict[str, Any] = {}
    for name in names:
        try:
            values[name] = _READERS[name](data[name]) if name in data else _default(name, defaults)
        except _Bad as exc:
            problems.append(f"{name}：{exc}")
    if len(values) < len(names):
        return None
    return values


def _default(name: str, defaults: Mapping[str, Any]) -> Any:
    """A key left out: no quiet days of that kind; the county defaults for everything else."""
    if name in QUIET_KEYS:
        return {"month_days": frozenset(), "weekdays": frozenset(), "ranges": (), "holidays": False}[name]
    value = defaults[name]
    return dict(value) if isinstance(value, dict) else value


def inconsistencies(
    rules: QuietDays, next_allowed: Callable[[date], date | None], *, horizon: int
) -> list[str]:
    """Problems between keys: exemptions outside the categories, no quiet day, or no other day."""
    found = []
    stray = [c for c in rules.exempt_categories if c not in rules.categories]
    if stray:
        found.append(f"exempt_categories：{quoted(stray)}不在 categories 中（{'、'.join(rules.categories)}）")
    if not (rules.month_days or rules.weekdays or rules.ranges or rules.holidays):
        found.append(f"没有设定任何宁静日：{'、'.join(QUIET_KEYS)} 至少设定一项")
    if len(rules.month_days) == 31:
        found.append("month_days：1-31 使每天都是宁静日，企业将无法接受任何检查")
    if len(rules.weekdays) == 7:
        found.append("weekdays：周一至周日使每天都是宁静日，企业将无法接受任何检查")
    elif len(rules.month_days) < 31:
        found.extend(_endless(rules, next_allowed, horizon))
    return found


def _endless(rules: QuietDays, next_allowed: Callable[[date], date | None], horizon: int) -> list[str]:
    return [
        f"ranges：自{start:%Y-%m-%d}起连续{horizon}天都是宁静日，企业将无法接受任何检查"
        for start, _ in rules.ranges
        if next_allowed(start) is None
    ]


def _month_days(value: Any) -> frozenset[int]:
    return _numbers(value, _month_day, "1至31之间的日期或日期范围（如 1-20、1-5,25-31）")


def _weekdays(value: Any) -> frozenset[int]:
    return _numbers(value, weekday_number, "星期几（如 周三、星期三、3，或 周一至周五）")


def _month_day(token: str) -> int | None:
    token = token.rstrip("日号")
    return int(token) if token.isdecimal() and 1 <= int(token) <= 31 else None


def _numbers(value: Any, read: Callable[[str], int | None], what: str) -> frozenset[int]:
    found: set[int] = set()
    bad = []
    for item in _items(value):
        span = None if isinstance(item, bool) else _span(str(item), read)
        if span is None:
            bad.append(item)
        else:
            found.update(span)
    if bad:
        raise _Bad(f"{quoted(bad)}不是{what}")
    return frozenset(found)


def _span(text: str, read: Callable[[str], int | None]) -> range | None:
    """「3」 or 「1-20」「周一至周五」: the numbers it covers; None if unreadable or backwards."""
    parts = _SPAN.split(text)
    ends = [read(part) for part in parts]
    if len(ends) > 2 or None in ends:
        return None
    first, last = int(ends[0] or 0), int(ends[-1] or 0)
    return range(first, last + 1) if first <= last else None


def _ranges(value: Any) -> tuple[tuple[date, date], ...]:
    items = list(value) if isinstance(value, list | tuple) else [] if value is None else [value]
    found, bad = [], []
    for item in items:
        pair = _date_range(item)
        if pair is None:
            bad.append(item)
        else:
            found.append(pair)
    if bad:
        raise _Bad(
            f"{quoted(bad)}不是有效的日期范围（如 2026-12-20至2026-12-31，结束不早于开始，"
            f"最长{MAX_RANGE_DAYS}天）"
        )
    return tuple(sorted(set(found)))


def _date_range(item: Any) -> tuple[date, date] | None:
    if isinstance(item, Mapping):
        ends: list[Any] = [item.get("from", item.get("开始")), item.get("to", item.get("结束"))]
    elif isinstance(item, list | tuple):
        ends = list(item)
    elif isinstance(item, str):
        ends = _RANGE.split(unicodedata.normalize("NFKC", item).strip())
    else:
        ends = [item]
    days = [read_date(end) for end in ends]
    if not 1 <= len(days) <= 2 or None in days:
        return None
    start, end = days[0], days[-1]
    assert start is not None and end is not None
    return (start, end) if start <= end <= start + timedelta(days=MAX_RANGE_DAYS - 1) else None


def read_date(value: Any) -> date | None:
    """A calendar day: a date, or text like 2026-01-01 (not a datetime); None otherwise."""
    if isinstance(value, datetime):
        return None  # a moment, not a day
    if isinstance(value, date):
        return value
    match = _DATE.match(unicodedata.normalize("NFKC", str(value)).strip())
    try:
        return date(*(int(g) for g in match.groups())) if match else None
    except ValueError:
        return None


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if text in ("是", "true", "yes"):
        return True
    if text in ("否", "false", "no"):
        return False
    raise _Bad(f"{shown(value)}应为 true（是）或 false（否）")


def _names(limit: int, *, required: bool) -> Callable[[Any], tuple[str, ...]]:
    def read(value: Any) -> tuple[str, ...]:
        items = _items(value)
        names = tuple(unicodedata.normalize("NFKC", str(i)).strip() for i in items)
        bad = [
            i for i, n in zip(items, names, strict=True) if not isinstance(i, str) or not n or len(n) > limit
        ]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if bad:
            raise _Bad(f"{quoted(bad)}不是有效的名称或编码（文字，最长{limit}字）")
        if doubled:
            raise _Bad(f"{quoted(doubled)}重复了")
        if required and not names:
            raise _Bad("不能为空")
        return names

    return read


def _code(value: Any) -> str:
    code = unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else ""
    if not code or len(code) > MAX_CODE or _SEPARATORS.search(code):
        raise _Bad(f"{shown(value)}应为一个部门编码，如 DCS")
    return code


def _count(low: int, high: int) -> Callable[[Any], int]:
    def read(value: Any) -> int:
        text = "" if isinstance(value, bool) else unicodedata.normalize("NFKC", str(value)).strip()
        if not text.isdecimal() or not low <= int(text) <= high:
            raise _Bad(f"{shown(value)}应为{low}至{high}之间的整数")
        return int(text)

    return read


def _caps(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Bad(f"{shown(value)}应为「部门编码: 次数」的列表，如 SWUJ: 1")
    caps, bad = {}, []
    for code, count in value.items():
        try:
            caps[_code(code)] = _count(1, 100)(count)
        except _Bad:
            bad.append(f"{code}: {count}")
    if bad:
        raise _Bad(f"{quoted(bad)}应为「部门编码: 1至100之间的次数」")
    return caps


_READERS: dict[str, Callable[[Any], Any]] = {
    "month_days": _month_days,
    "weekdays": _weekdays,
    "ranges": _ranges,
    "holidays": _flag,
    "categories": _names(MAX_NAME, required=True),
    "exempt_categories": _names(MAX_NAME, required=False),
    "annual_cap": _count(1, 100),
    "department_caps": _caps,
    "joint_window_days": _count(0, 90),
    "enforcement_departments": _names(MAX_CODE, required=True),
    "supervising_department": _code,
}


def _items(value: Any) -> list[Any]:
    """A list as given, or the parts of 「1-5,25-31」「安全生产、消防」; nothing for an empty value."""
    if value is None:
        return []
    if isinstance(value, str):
        text = _AROUND_DASH.sub(r"\1", unicodedata.normalize("NFKC", value).strip())
        return [part for part in _SEPARATORS.split(text) if part]
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


def quoted(values: Iterable[Any]) -> str:
    """「a」「b」: each value in corner brackets."""
    return "".join(f"「{v}」" for v in values)


def shown(value: Any) -> str:
    """「value」, or （空） for nothing."""
    return "（空）" if value is None or value == "" else f"「{value}」"
