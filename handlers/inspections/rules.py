"""企业宁静日 as data: the county's quiet-day rules, one version per QuietPolicy row, and the decision.

The decision is a pure function of (rules, day, category, department, inspections so far); the
service stores it with the id of the version that made it, so a later version never rewrites a
past decision. A day is quiet when any rule says so: days of the month, weekdays, explicit date
ranges, or China's statutory holidays (chinesecalendar; the 调休 weekend working days are not
holidays, ordinary weekends are not statutory holidays, and for a year the library does not know
no day counts as a holiday).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit import record
from bot.errors import Invalid
from bot.models import Department, Person
from handlers.inspections.dates import WEEKDAY_LABELS
from handlers.inspections.models import Inspection, Outcome, QuietPolicy
from handlers.inspections.rules_reading import inconsistencies, quoted, read_date, read_values, shown

SEARCH_DAYS = 400  # next_allowed_day looks this far ahead
ALLOWED_TEXT = "非宁静日"


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
    day = read_date(value) if value is not None else None
    if day is None:
        problems.append(f"effective_from：{shown(value)}应为生效日期，如 2026-01-01")
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
        f"{key}：部门编码{quoted(c for c in codes if c not in known)}不存在"
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


# --- Reading the mapping (the keys are read in handlers.inspections.rules_reading) ----------------


_DEFAULTS = {f.name: getattr(DEFAULT_RULES, f.name) for f in fields(QuietRules)}  # every key, in order


def _parse(data: Mapping[str, Any], problems: list[str], extra: tuple[str, ...] = ()) -> QuietRules | None:
    """The rules, with every problem appended to `problems` (None when some key could not be read)."""
    values = read_values(data, problems, _DEFAULTS, extra)
    if values is None:
        return None
    if "exempt_categories" not in data:  # the default exemptions, as far as the county's categories have them
        values["exempt_categories"] = tuple(
            c for c in values["exempt_categories"] if c in values["categories"]
        )
    rules = QuietRules(**values)
    problems.extend(inconsistencies(rules, partial(next_allowed_day, rules), horizon=SEARCH_DAYS))
    return rules


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


def _listing(problems: list[str]) -> str:
    """The reply for a refused rule set: every problem, numbered."""
    lines = "\n".join(f"{i}. {p}" for i, p in enumerate(problems, 1))
    return f"企业宁静日规则有误，未作任何修改（共{len(problems)}处）：\n{lines}"
