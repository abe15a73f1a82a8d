"""企业宁静日 as data: the county's quiet-day rules, one version per QuietPolicy row, and the decision.

The decision is a pure function of (rules, day, category, department, inspections so far); the
service stores it with the id of the version that made it, so a later version never rewrites a
past decision. A day is quiet when any rule says so: days of the month, weekdays, explicit date
ranges, or China's statutory holidays (chinesecalendar; the 调休 weekend working days are not
holidays, ordinary weekends are not statutory holidays, and for a year the library does not know
no day counts as a holiday).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit import record
from bot.errors import Invalid
from bot.models import Department, Person
from handlers.inspections.dates import WEEKDAY_LABELS, weekday_number
from handlers.inspections.models import Inspection, Outcome, QuietPolicy

SEARCH_DAYS = 400  # next_allowed_day looks this far ahead
MAX_RANGE_DAYS = 366
MAX_NAME = 16  # Inspection.category's length
MAX_CODE = 32  # Department.code's length
ALLOWED_TEXT = "非宁静日"

_SEPARATORS = re.compile(r"[,，、;；\s]+")
_AROUND_DASH = re.compile(r"\s*([-~至到])\s*")
_SPAN = re.compile(r"[-~至到]")
_RANGE = re.compile(r"\s*(?:至|到|~|\.\.)\s*")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


class _Bad(Exception):
    """One key's problem (the key is added by the caller)."""


@dataclass(frozen=True)
class QuietRules:
    """One version of a county's quiet-day rules, exemptions, caps and departments."""

    month_days: frozenset[int]  # 1–31
    weekdays: frozenset[int]  # 1 = 周一 … 7 = 周日
    ranges: tuple[tuple[date, date], ...]  # inclusive, sorted
    holidays: bool  # statutory holidays are quiet
    categories: tuple[str, ...]
    exempt_categories: tuple[str, ...]  # a subset of categories
    annual_cap: int  # inspections per enterprise per department per calendar year
    department_caps: dict[str, int]  # by department code, instead of annual_cap
    joint_window_days: int  # two departments this close → 综合查一次
    enforcement_departments: tuple[str, ...]  # codes whose officials register inspections
    supervising_department: str  # code of the office receiving 举报检查 work orders

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuietRules:
        """Validated rules from a mapping (a YAML file, a stored version); Invalid lists every problem."""
        problems: list[str] = []
        rules = _parse(data, problems)
        if rules is None or problems:
            raise Invalid(_listing(problems))
        return rules

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in QuietPolicy.rules (from_dict reads it back unchanged)."""
        return {
            "month_days": _spans_text(self.month_days, "-", ","),
            "weekdays": sorted(self.weekdays),
            "ranges": [_range_text(start, end) for start, end in self.ranges],
            "holidays": self.holidays,
            "categories": list(self.categories),
            "exempt_categories": list(self.exempt_categories),
            "annual_cap": self.annual_cap,
            "department_caps": dict(sorted(self.department_caps.items())),
            "joint_window_days": self.joint_window_days,
            "enforcement_departments": list(self.enforcement_departments),
            "supervising_department": self.supervising_department,
        }

    def cap_for(self, department_code: str) -> int:
        """The annual cap for this department (its own, or the county's)."""
        return self.department_caps.get(department_code, self.annual_cap)


DEFAULT_RULES = QuietRules(
    month_days=frozenset(range(1, 21)),
    weekdays=frozenset(),
    ranges=(),
    holidays=False,
    categories=(
        "安全生产",
        "生态环境",
        "突发事件",
        "市场监管",
        "消防",
        "税务",
        "劳动保障",
        "卫生健康",
        "其他",
    ),
    exempt_categories=("安全生产", "生态环境", "突发事件"),
    annual_cap=2,
    department_caps={},
    joint_window_days=7,
    enforcement_departments=("SCJGJ", "STHJ", "YJJ", "SWUJ", "RSJ", "ZJJ", "ZRZYJ"),
    supervising_department="DCS",
)
QUIET_KEYS = ("month_days", "weekdays", "ranges", "holidays")  # left out means: no such quiet days


# --- The decision --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the rules say about one inspection: the outcome, why, and (blocked) when it may be."""

    outcome: Outcome
    rule_text: str
    next_allowed: date | None


def quiet_reason(rules: QuietRules, day: date) -> str | None:
    """The first rule (month days, weekdays, ranges, holidays) making `day` quiet, in Chinese; or None."""
    if day.day in rules.month_days:
        return f"每月{_spans_text(rules.month_days, '日至', '日、')}日为企业宁静日"
    if day.isoweekday() in rules.weekdays:
        return f"每{'、'.join(WEEKDAY_LABELS[n - 1] for n in sorted(rules.weekdays))}为企业宁静日"
    for start, end in rules.ranges:
        if start <= day <= end:
            return f"{_range_text(start, end)}为企业宁静日"
    if rules.holidays and (name := statutory_holiday(day)):
        return f"法定节假日（{name}）为企业宁静日"
    return None


def is_quiet(rules: QuietRules, day: date) -> bool:
    """Some rule makes `day` a quiet day."""
    return quiet_reason(rules, day) is not None


def statutory_holiday(day: date) -> str | None:
    """The Chinese name of the statutory holiday `day` belongs to (国庆节, 春节 …), or None."""
    try:
        resting, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # a year chinesecalendar does not know yet
        return None
    if not resting or name is None:  # an ordinary weekend, or a 调休 working day
        return None
    try:
        return str(chinese_calendar.Holiday(name).chinese)
    except ValueError:
        return str(name)


def next_allowed_day(rules: QuietRules, day: date) -> date | None:
    """The first day on or after `day` that is not quiet (None if none within 400 days)."""
    for offset in range(SEARCH_DAYS):
        candidate = day + timedelta(days=offset)
        if not is_quiet(rules, candidate):
            return candidate
    return None


def quiet_period_begins(rules: QuietRules, day: date) -> bool:
    """`day` is quiet and the day before is not (the reminder goes out the day before)."""
    return is_quiet(rules, day) and not is_quiet(rules, day - timedelta(days=1))


def decide(rules: QuietRules, day: date, category: str, department_code: str, prior_count: int) -> Decision:
    """Allowed, exempt (a quiet day or the cap waived for an exempt category) or blocked, and why."""
    if category not in rules.categories:
        raise Invalid(f"「{category}」不是检查类别，请从以下类别中选择：{'、'.join(rules.categories)}。")
    quiet = quiet_reason(rules, day)
    cap = rules.cap_for(department_code)
    capped = f"已达年度检查上限（{cap}次），今年已报备{prior_count}次" if prior_count >= cap else None
    if quiet is None and capped is None:
        return Decision(Outcome.ALLOWED, ALLOWED_TEXT, None)
    if category in rules.exempt_categories:
        return Decision(Outcome.EXEMPT, _exempt_text(category, quiet, capped), None)
    return Decision(Outcome.BLOCKED, _blocked_text(category, quiet, capped), _after(rules, day, capped))


def _exempt_text(category: str, quiet: str | None, capped: str | None) -> str:
    waived = "、".join(w for w, r in (("企业宁静日", quiet), ("年度检查上限", capped)) if r)
    why = "；".join(r for r in (quiet, capped) if r)
    return f"{why}。「{category}」属豁免类别，不受{waived}限制，豁免已记录"


def _blocked_text(category: str, quiet: str | None, capped: str | None) -> str:
    parts = [f"{quiet}，「{category}」不属豁免类别"] if quiet else []
    return "；".join([*parts, *([capped] if capped else [])])


def _after(rules: QuietRules, day: date, capped: str | None) -> date | None:
    """The next allowed day: past the quiet days, or (cap reached) in the next calendar year."""
    return next_allowed_day(rules, date(day.year + 1, 1, 1) if capped else day)


# --- Versions in the database ---------------------------------------------------------------------


def policy_on(session: Session, day: date) -> QuietPolicy | None:
    """The version in force on `day`: the one with the latest effective_from on or before it."""
    query = select(QuietPolicy).where(QuietPolicy.effective_from <= day)
    return session.scalar(query.order_by(QuietPolicy.effective_from.desc()).limit(1))


def rules_on(session: Session, day: date) -> tuple[QuietRules, QuietPolicy | None]:
    """The rules in force on `day` and their version (DEFAULT_RULES and None before any is loaded)."""
    policy = policy_on(session, day)
    return (DEFAULT_RULES, None) if policy is None else (QuietRules.from_dict(policy.rules), policy)


def load_policy(
    session: Session,
    data: Mapping[str, Any],
    *,
    source: str,
    now: datetime,
    actor: Person | None,
    channel: str = "cli",
) -> QuietPolicy:
    """Validate and store one version by its effective_from (the same rules again change nothing)."""
    effective, rules = _read_version(session, data)
    policy = session.scalar(select(QuietPolicy).where(QuietPolicy.effective_from == effective))
    if policy is not None and policy.rules == rules.to_dict():
        return policy
    replaced = policy is not None
    if policy is None:
        policy = QuietPolicy(effective_from=effective)
        session.add(policy)
    else:
        _require_unused(session, policy)
    policy.rules, policy.source = rules.to_dict(), source[-200:]
    policy.created_at, policy.created_by_id = now, actor.id if actor else None
    session.flush()
    record(
        session, at=now, actor=actor, channel=channel, action="quiet_policy.load",
        entity="quiet_policy", entity_id=policy.id,
        data={"effective_from": effective.isoformat(), "source": policy.source, "replaced": replaced},
    )  # fmt: skip
    return policy


def _read_version(session: Session, data: Mapping[str, Any]) -> tuple[date, QuietRules]:
    """The effective date and the rules of a version; Invalid lists every problem, unknown departments too."""
    problems: list[str] = []
    effective = _effective_from(data, problems) if isinstance(data, Mapping) else None
    rules = _parse(data, problems, extra=("effective_from",))
    if rules is not None:
        problems.extend(_unknown_departments(session, rules))
    if rules is None or effective is None or problems:
        raise Invalid(_listing(problems))
    return effective, rules


def load_policy_file(
    session: Session, path: Path, *, now: datetime, actor: Person | None = None, channel: str = "cli"
) -> QuietPolicy:
    """Read a YAML rules file (Invalid names the line of a syntax error) and load it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"无法读取规则文件 {path.name}：{exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Invalid(f"规则文件 {path.name}{_yaml_where(exc)}格式有误：{_yaml_problem(exc)}") from exc
    if not isinstance(data, Mapping):
        raise Invalid(f"规则文件 {path.name} 应为「设置项: 值」的列表（例如 month_days: 1-20）。")
    return load_policy(session, data, source=path.name, now=now, actor=actor, channel=channel)


def _yaml_where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" 第{mark.line + 1}行" if mark is not None else " "


def _yaml_problem(exc: yaml.YAMLError) -> str:
    return str(getattr(exc, "problem", None) or exc)


def _effective_from(data: Mapping[str, Any], problems: list[str]) -> date | None:
    value = data.get("effective_from")
    day = _date(value) if value is not None else None
    if day is None:
        problems.append(f"effective_from：{_shown(value)}应为生效日期，如 2026-01-01")
    return day


def _unknown_departments(session: Session, rules: QuietRules) -> list[str]:
    """The department codes the rules name that do not exist (a typo would silently drop one)."""
    named = {
        "enforcement_departments": rules.enforcement_departments,
        "supervising_department": (rules.supervising_department,),
        "department_caps": tuple(rules.department_caps),
    }
    known = set(session.scalars(select(Department.code)))
    return [
        f"{key}：部门编码{_quoted(c for c in codes if c not in known)}不存在"
        for key, codes in named.items()
        if any(c not in known for c in codes)
    ]


def _require_unused(session: Session, policy: QuietPolicy) -> None:
    used = session.scalar(select(func.count(Inspection.id)).where(Inspection.policy_id == policy.id)) or 0
    if used:
        raise Invalid(
            f"{policy.effective_from:%Y-%m-%d}起生效的企业宁静日规则不能修改："
            f"该版本规则已用于{used}次检查决定，请以新的生效日期发布新版本。"
        )


# --- Reading the mapping ----------------------------------------------------------------------------


def _parse(data: Mapping[str, Any], problems: list[str], extra: tuple[str, ...] = ()) -> QuietRules | None:
    """The rules, with every problem appended to `problems` (None when some key could not be read)."""
    if not isinstance(data, Mapping):
        problems.append("规则应为「设置项: 值」的映射（例如 month_days: 1-20）")
        return None
    names = [f.name for f in fields(QuietRules)]
    unknown = [str(k) for k in data if k not in names and k not in extra]
    if unknown:
        problems.append(f"未知的设置项{''.join(f'「{k}」' for k in unknown)}（可用：{'、'.join(names)}）")
    values: dict[str, Any] = {}
    for name in names:
        try:
            values[name] = _READERS[name](data[name]) if name in data else _default(name)
        except _Bad as exc:
            problems.append(f"{name}：{exc}")
    if len(values) < len(names):
        return None
    rules = QuietRules(**values)
    problems.extend(_inconsistencies(rules))
    return rules


def _default(name: str) -> Any:
    """A key left out: no quiet days of that kind; the county defaults for everything else."""
    if name in QUIET_KEYS:
        return {"month_days": frozenset(), "weekdays": frozenset(), "ranges": (), "holidays": False}[name]
    value = getattr(DEFAULT_RULES, name)
    return dict(value) if isinstance(value, dict) else value


def _inconsistencies(rules: QuietRules) -> list[str]:
    """Problems between keys: exemptions outside the categories, no quiet day, or no other day."""
    found = []
    stray = [c for c in rules.exempt_categories if c not in rules.categories]
    if stray:
        found.append(
            f"exempt_categories：{_quoted(stray)}不在 categories 中（{'、'.join(rules.categories)}）"
        )
    if not (rules.month_days or rules.weekdays or rules.ranges or rules.holidays):
        found.append(f"没有设定任何宁静日：{'、'.join(QUIET_KEYS)} 至少设定一项")
    if len(rules.month_days) == 31:
        found.append("month_days：1-31 使每天都是宁静日，企业将无法接受任何检查")
    if len(rules.weekdays) == 7:
        found.append("weekdays：周一至周日使每天都是宁静日，企业将无法接受任何检查")
    elif len(rules.month_days) < 31:
        found.extend(_endless(rules))
    return found


def _endless(rules: QuietRules) -> list[str]:
    return [
        f"ranges：自{start:%Y-%m-%d}起连续{SEARCH_DAYS}天都是宁静日，企业将无法接受任何检查"
        for start, _ in rules.ranges
        if next_allowed_day(rules, start) is None
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
        raise _Bad(f"{_quoted(bad)}不是{what}")
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
            f"{_quoted(bad)}不是有效的日期范围（如 2026-12-20至2026-12-31，结束不早于开始，"
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
    days = [_date(end) for end in ends]
    if not 1 <= len(days) <= 2 or None in days:
        return None
    start, end = days[0], days[-1]
    assert start is not None and end is not None
    return (start, end) if start <= end <= start + timedelta(days=MAX_RANGE_DAYS - 1) else None


def _date(value: Any) -> date | None:
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
    raise _Bad(f"{_shown(value)}应为 true（是）或 false（否）")


def _names(limit: int, *, required: bool) -> Callable[[Any], tuple[str, ...]]:
    def read(value: Any) -> tuple[str, ...]:
        items = _items(value)
        names = tuple(unicodedata.normalize("NFKC", str(i)).strip() for i in items)
        bad = [
            i for i, n in zip(items, names, strict=True) if not isinstance(i, str) or not n or len(n) > limit
        ]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if bad:
            raise _Bad(f"{_quoted(bad)}不是有效的名称或编码（文字，最长{limit}字）")
        if doubled:
            raise _Bad(f"{_quoted(doubled)}重复了")
        if required and not names:
            raise _Bad("不能为空")
        return names

    return read


def _code(value: Any) -> str:
    code = unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else ""
    if not code or len(code) > MAX_CODE or _SEPARATORS.search(code):
        raise _Bad(f"{_shown(value)}应为一个部门编码，如 DCS")
    return code


def _count(low: int, high: int) -> Callable[[Any], int]:
    def read(value: Any) -> int:
        text = "" if isinstance(value, bool) else unicodedata.normalize("NFKC", str(value)).strip()
        if not text.isdecimal() or not low <= int(text) <= high:
            raise _Bad(f"{_shown(value)}应为{low}至{high}之间的整数")
        return int(text)

    return read


def _caps(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Bad(f"{_shown(value)}应为「部门编码: 次数」的列表，如 SWUJ: 1")
    caps, bad = {}, []
    for code, count in value.items():
        try:
            caps[_code(code)] = _count(1, 100)(count)
        except _Bad:
            bad.append(f"{code}: {count}")
    if bad:
        raise _Bad(f"{_quoted(bad)}应为「部门编码: 1至100之间的次数」")
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


# --- Writing ----------------------------------------------------------------------------------------


def _spans_text(numbers: Iterable[int], dash: str, comma: str) -> str:
    """{1…5, 25…31} → 「1-5,25-31」 (dash "-", comma ","), or 「1日至5日、25日至31」."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return comma.join(f"{r[0]}{dash}{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)


def _range_text(start: date, end: date) -> str:
    return f"{start:%Y-%m-%d}" if start == end else f"{start:%Y-%m-%d}至{end:%Y-%m-%d}"


def _quoted(values: Iterable[Any]) -> str:
    return "".join(f"「{v}」" for v in values)


def _shown(value: Any) -> str:
    return "（空）" if value is None or value == "" else f"「{value}」"


def _listing(problems: list[str]) -> str:
    """The reply for a refused rule set: every problem, numbered."""
    lines = "\n".join(f"{i}. {p}" for i, p in enumerate(problems, 1))
    return f"企业宁静日规则有误，未作任何修改（共{len(problems)}处）：\n{lines}"
