"""企业宁静日 rules: the decision over all of 2026 (调休 included), the texts, versions, the YAML and the CLI.

The 2026 calendar below is written out by hand from chinesecalendar 1.11 (国务院办公厅 2026 notice),
so the tables check the rules against an independent statement of which days are which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.clock import FixedClock
from bot.demo import DEMO_DIR, seed
from bot.errors import Invalid
from bot.importing import import_file
from bot.models import AuditEvent, Department, Person, Role
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.inspections.models import Inspection, InspectionStatus, Outcome, QuietPolicy
from handlers.inspections.rules import (
    DEFAULT_RULES,
    Decision,
    QuietRules,
    decide,
    is_quiet,
    load_policy,
    load_policy_file,
    next_allowed_day,
    policy_on,
    quiet_period_begins,
    quiet_reason,
    rules_on,
    statutory_holiday,
)
from tests import builders


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


HOLIDAYS_2026 = {
    "元旦": days("2026-01-01", "2026-01-03"),
    "春节": days("2026-02-15", "2026-02-23"),
    "清明": days("2026-04-04", "2026-04-06"),
    "劳动节": days("2026-05-01", "2026-05-05"),
    "端午": days("2026-06-19", "2026-06-21"),
    "中秋": days("2026-09-25", "2026-09-27"),
    "国庆节": days("2026-10-01", "2026-10-07"),
}
HOLIDAY_OF = {day: name for name, spans in HOLIDAYS_2026.items() for day in spans}
WORKING_WEEKENDS_2026 = [date(2026, m, d) for m, d in ((1, 4), (2, 14), (2, 28), (5, 9), (9, 20), (10, 10))]
YEAR_2026 = days("2026-01-01", "2026-12-31")
TODAY = date(2026, 11, 24)  # a Tuesday


def rules(**data: Any) -> QuietRules:
    return QuietRules.from_dict(data)


# Each rule set and, independently, which days it makes quiet.
RULE_SETS: dict[str, tuple[dict[str, Any], Callable[[date], bool]]] = {
    "1-20日": ({"month_days": "1-20"}, lambda d: d.day <= 20),
    "1-5日,25-31日": ({"month_days": "1-5,25-31"}, lambda d: d.day <= 5 or d.day >= 25),
    "周三": ({"weekdays": ["周三"]}, lambda d: d.isoweekday() == 3),
    "周一至周五中的周一、周五": ({"weekdays": "星期一、5"}, lambda d: d.isoweekday() in (1, 5)),
    "年末": ({"ranges": ["2026-12-20至2026-12-31"]}, lambda d: date(2026, 12, 20) <= d <= date(2026, 12, 31)),
    "节假日": ({"holidays": True}, lambda d: d in HOLIDAY_OF),
    "1-20日+节假日": ({"month_days": "1-20", "holidays": True}, lambda d: d.day <= 20 or d in HOLIDAY_OF),
    "组合": (
        {"month_days": "1-5", "weekdays": "周三", "ranges": ["2026-07-10至2026-07-12"], "holidays": True},
        lambda d: (
            d.day <= 5
            or d.isoweekday() == 3
            or date(2026, 7, 10) <= d <= date(2026, 7, 12)
            or d in HOLIDAY_OF
        ),
    ),
}
QUIET_COUNTS = {  # days of 2026 each set makes quiet, counted by hand
    "1-20日": 240,
    "1-5日,25-31日": 12 * 5 + 7 * 7 + 4 * 6 + 4,  # 31-, 30- and 28-day months
    "周三": 52,
    "周一至周五中的周一、周五": 104,
    "年末": 12,
    "节假日": 33,
}


def expected_next(quiet: Callable[[date], bool], day: date) -> date:
    while quiet(day):
        day += timedelta(days=1)
    return day


# --- The 2026 calendar the tables rely on --------------------------------------------------------


def test_the_2026_calendar_is_as_written_here() -> None:
    assert {d: statutory_holiday(d) for d in YEAR_2026 if statutory_holiday(d)} == HOLIDAY_OF
    assert [d for d in WORKING_WEEKENDS_2026 if d.isoweekday() >= 6] == WORKING_WEEKENDS_2026
    assert all(statutory_holiday(d) is None for d in WORKING_WEEKENDS_2026)  # 调休: working days
    assert statutory_holiday(date(2026, 11, 28)) is None  # an ordinary Saturday is no holiday
    assert statutory_holiday(date(2030, 10, 1)) is None  # a year chinesecalendar does not know


# --- The decision over the whole year --------------------------------------------------------------


@pytest.mark.parametrize("name", RULE_SETS)
def test_every_day_of_2026(name: str) -> None:
    data, quiet = RULE_SETS[name]
    county = rules(**data)
    for day in YEAR_2026:
        blocked = decide(county, day, "市场监管", "SCJGJ", 0)
        exempt = decide(county, day, "安全生产", "SCJGJ", 0)
        assert is_quiet(county, day) is quiet(day), day
        if quiet(day):
            assert blocked.outcome is Outcome.BLOCKED, day
            assert blocked.next_allowed == expected_next(quiet, day), day
            assert blocked.rule_text == f"{quiet_reason(county, day)}，「市场监管」不属豁免类别"
            assert exempt == Decision(
                Outcome.EXEMPT,
                f"{quiet_reason(county, day)}。「安全生产」属豁免类别，不受企业宁静日限制，豁免已记录",
                None,
            )
        else:
            assert blocked == exempt == Decision(Outcome.ALLOWED, "非宁静日", None), day
    if name in QUIET_COUNTS:
        assert sum(map(quiet, YEAR_2026)) == QUIET_COUNTS[name]


@pytest.mark.parametrize("name", RULE_SETS)
def test_every_category_on_every_quiet_day_of_2026(name: str) -> None:
    county = rules(**RULE_SETS[name][0])
    quiet_days = [d for d in YEAR_2026 if is_quiet(county, d)]
    for category in county.categories:
        outcomes = {decide(county, d, category, "STHJ", 1).outcome for d in quiet_days}
        exempt = category in ("安全生产", "生态环境", "突发事件")
        assert outcomes == {Outcome.EXEMPT if exempt else Outcome.BLOCKED}, category


HOLIDAY_RULES = {"holidays": True}
MONTH_AND_HOLIDAYS = {"month_days": "1-20", "holidays": True}
SPLIT = {"month_days": "1-5,25-31"}
YEAR_END = {"ranges": ["2026-12-20至2026-12-31"]}


@pytest.mark.parametrize(
    ("data", "day", "category", "outcome", "next_allowed"),
    [
        # 调休: the working Saturdays around 国庆 and 春节 are not holidays
        (HOLIDAY_RULES, "2026-10-10", "市场监管", Outcome.ALLOWED, None),
        (HOLIDAY_RULES, "2026-09-20", "市场监管", Outcome.ALLOWED, None),
        (HOLIDAY_RULES, "2026-02-14", "税务", Outcome.ALLOWED, None),
        (HOLIDAY_RULES, "2026-02-28", "税务", Outcome.ALLOWED, None),
        (HOLIDAY_RULES, "2026-01-04", "消防", Outcome.ALLOWED, None),
        (HOLIDAY_RULES, "2026-05-09", "消防", Outcome.ALLOWED, None),
        (HOLIDAY_RULES, "2026-11-28", "消防", Outcome.ALLOWED, None),  # an ordinary Saturday
        # the holidays themselves, weekends inside them included
        (HOLIDAY_RULES, "2026-10-01", "市场监管", Outcome.BLOCKED, "2026-10-08"),
        (HOLIDAY_RULES, "2026-10-03", "市场监管", Outcome.BLOCKED, "2026-10-08"),
        (HOLIDAY_RULES, "2026-10-07", "市场监管", Outcome.BLOCKED, "2026-10-08"),
        (HOLIDAY_RULES, "2026-02-15", "税务", Outcome.BLOCKED, "2026-02-24"),
        (HOLIDAY_RULES, "2026-02-23", "税务", Outcome.BLOCKED, "2026-02-24"),
        (HOLIDAY_RULES, "2026-01-01", "劳动保障", Outcome.BLOCKED, "2026-01-04"),
        (HOLIDAY_RULES, "2026-05-05", "卫生健康", Outcome.BLOCKED, "2026-05-06"),
        (HOLIDAY_RULES, "2026-10-02", "生态环境", Outcome.EXEMPT, None),
        (HOLIDAY_RULES, "2026-02-17", "突发事件", Outcome.EXEMPT, None),
        # the month's quiet days running into a holiday, and past the month's end
        (MONTH_AND_HOLIDAYS, "2026-02-10", "市场监管", Outcome.BLOCKED, "2026-02-24"),
        (MONTH_AND_HOLIDAYS, "2026-09-21", "市场监管", Outcome.ALLOWED, None),
        (MONTH_AND_HOLIDAYS, "2026-09-25", "市场监管", Outcome.BLOCKED, "2026-09-28"),
        (MONTH_AND_HOLIDAYS, "2026-10-10", "市场监管", Outcome.BLOCKED, "2026-10-21"),  # 调休, but the 10th
        (MONTH_AND_HOLIDAYS, "2026-12-31", "市场监管", Outcome.ALLOWED, None),
        (SPLIT, "2026-11-25", "其他", Outcome.BLOCKED, "2026-12-06"),
        (SPLIT, "2026-12-28", "其他", Outcome.BLOCKED, "2027-01-06"),  # across the year's end
        (SPLIT, "2026-02-25", "其他", Outcome.BLOCKED, "2026-03-06"),  # a 28-day February
        (YEAR_END, "2026-12-20", "税务", Outcome.BLOCKED, "2027-01-01"),
        (YEAR_END, "2026-12-19", "税务", Outcome.ALLOWED, None),
    ],
)
def test_decisions(
    data: dict[str, Any], day: str, category: str, outcome: Outcome, next_allowed: str | None
) -> None:
    decision = decide(rules(**data), date.fromisoformat(day), category, "SCJGJ", 0)
    assert decision.outcome is outcome
    assert decision.next_allowed == (date.fromisoformat(next_allowed) if next_allowed else None)


# --- Annual caps ---------------------------------------------------------------------------------


CAPPED = rules(month_days="1-20", holidays=True, department_caps={"SWUJ": 1, "SCJGJ": 4})


@pytest.mark.parametrize(
    ("day", "category", "department", "prior", "expected"),
    [
        ("2026-11-24", "市场监管", "YJJ", 1, Decision(Outcome.ALLOWED, "非宁静日", None)),
        (
            "2026-11-24",
            "市场监管",
            "YJJ",
            2,
            Decision(Outcome.BLOCKED, "已达年度检查上限（2次），今年已报备2次", date(2027, 1, 21)),
        ),
        ("2026-11-24", "税务", "SWUJ", 0, Decision(Outcome.ALLOWED, "非宁静日", None)),
        (
            "2026-11-24",
            "税务",
            "SWUJ",
            1,
            Decision(Outcome.BLOCKED, "已达年度检查上限（1次），今年已报备1次", date(2027, 1, 21)),
        ),
        ("2026-11-24", "市场监管", "SCJGJ", 3, Decision(Outcome.ALLOWED, "非宁静日", None)),
        (
            "2026-11-24",
            "市场监管",
            "SCJGJ",
            5,
            Decision(Outcome.BLOCKED, "已达年度检查上限（4次），今年已报备5次", date(2027, 1, 21)),
        ),
        (
            "2026-11-24",
            "安全生产",
            "YJJ",
            2,
            Decision(
                Outcome.EXEMPT,
                "已达年度检查上限（2次），今年已报备2次。「安全生产」属豁免类别，不受年度检查上限限制，豁免已记录",
                None,
            ),
        ),
        (
            "2026-11-03",
            "突发事件",
            "YJJ",
            3,
            Decision(
                Outcome.EXEMPT,
                "每月1日至20日为企业宁静日；已达年度检查上限（2次），今年已报备3次。"
                "「突发事件」属豁免类别，不受企业宁静日、年度检查上限限制，豁免已记录",
                None,
            ),
        ),
        (
            "2026-11-03",
            "消防",
            "YJJ",
            2,
            Decision(
                Outcome.BLOCKED,
                "每月1日至20日为企业宁静日，「消防」不属豁免类别；已达年度检查上限（2次），今年已报备2次",
                date(2027, 1, 21),  # the cap, not the quiet days, sets the next allowed day
            ),
        ),
    ],
)
def test_caps(day: str, category: str, department: str, prior: int, expected: Decision) -> None:
    assert decide(CAPPED, date.fromisoformat(day), category, department, prior) == expected


def test_cap_reached_next_allowed_is_the_first_ordinary_day_of_next_year() -> None:
    assert decide(rules(**SPLIT), TODAY, "税务", "SWUJ", 2).next_allowed == date(2027, 1, 6)
    assert decide(rules(**YEAR_END), TODAY, "税务", "SWUJ", 2).next_allowed == date(2027, 1, 1)
    weekly = rules(weekdays="周五")  # 2027-01-01 is a Friday
    assert decide(weekly, TODAY, "税务", "SWUJ", 2).next_allowed == date(2027, 1, 2)


def test_counties_may_add_exempt_categories() -> None:
    categories = [*DEFAULT_RULES.categories, "上级部署", "群众举报"]
    county = rules(
        month_days="1-20", categories=categories, exempt_categories="安全生产、生态环境、突发事件、上级部署"
    )
    assert decide(county, date(2026, 12, 3), "上级部署", "SCJGJ", 0).outcome is Outcome.EXEMPT
    assert decide(county, date(2026, 12, 3), "群众举报", "SCJGJ", 0).outcome is Outcome.BLOCKED


def test_a_category_not_in_the_rules_is_refused_with_the_list() -> None:
    with pytest.raises(Invalid) as exc:
        decide(DEFAULT_RULES, TODAY, "上级部署", "SCJGJ", 0)
    assert exc.value.message == (
        "「上级部署」不是检查类别，请从以下类别中选择："
        "安全生产、生态环境、突发事件、市场监管、消防、税务、劳动保障、卫生健康、其他。"
    )


# --- Texts, next allowed day, the start of a quiet period --------------------------------------------


@pytest.mark.parametrize(
    ("data", "day", "text"),
    [
        ({"month_days": "1-20"}, "2026-12-03", "每月1日至20日为企业宁静日"),
        ({"month_days": "1-5,25-31"}, "2026-12-28", "每月1日至5日、25日至31日为企业宁静日"),
        ({"month_days": [15, "25-27"]}, "2026-12-15", "每月15日、25日至27日为企业宁静日"),
        ({"weekdays": "周三"}, "2026-11-25", "每周三为企业宁静日"),
        ({"weekdays": ["星期五", 3]}, "2026-11-27", "每周三、周五为企业宁静日"),
        ({"ranges": ["2026-12-20至2026-12-31"]}, "2026-12-24", "2026-12-20至2026-12-31为企业宁静日"),
        ({"ranges": ["2026-12-24", "2026-12-30至2026-12-31"]}, "2026-12-24", "2026-12-24为企业宁静日"),
        ({"holidays": True}, "2026-10-03", "法定节假日（国庆节）为企业宁静日"),
        ({"holidays": True}, "2026-02-20", "法定节假日（春节）为企业宁静日"),
        ({"holidays": True}, "2026-06-19", "法定节假日（端午）为企业宁静日"),
        (
            {"month_days": "1-20", "holidays": True},
            "2026-10-03",
            "每月1日至20日为企业宁静日",
        ),  # the first rule
        ({"month_days": "1-20", "holidays": True}, "2026-02-21", "法定节假日（春节）为企业宁静日"),
        ({"month_days": "1-20"}, "2026-11-24", None),
        ({"holidays": True}, "2026-10-10", None),  # 调休
    ],
)
def test_quiet_reason(data: dict[str, Any], day: str, text: str | None) -> None:
    assert quiet_reason(rules(**data), date.fromisoformat(day)) == text


@pytest.mark.parametrize(
    ("data", "day", "expected"),
    [
        ({"month_days": "1-20"}, "2026-11-24", "2026-11-24"),  # already an ordinary day
        ({"month_days": "1-20"}, "2026-12-01", "2026-12-21"),
        ({"month_days": "25-31"}, "2026-01-30", "2026-02-01"),  # across a month's end
        ({"month_days": "25-31"}, "2026-02-26", "2026-03-01"),
        ({"month_days": "29-31,1-3"}, "2026-01-29", "2026-02-04"),
        ({"month_days": "29-31,1-3"}, "2026-02-28", "2026-02-28"),  # February has no 29th in 2026
        ({"month_days": "1-20", "holidays": True}, "2026-02-01", "2026-02-24"),  # 春节 follows the 20th
        ({"month_days": "1-20", "holidays": True}, "2026-09-25", "2026-09-28"),
        ({"weekdays": "周六、周日", "holidays": True}, "2026-10-01", "2026-10-08"),
        ({"weekdays": "周一至周四", "holidays": True}, "2026-10-01", "2026-10-09"),
        ({"ranges": ["2026-12-20至2026-12-31"]}, "2026-12-25", "2027-01-01"),
    ],
)
def test_next_allowed_day(data: dict[str, Any], day: str, expected: str) -> None:
    assert next_allowed_day(rules(**data), date.fromisoformat(day)) == date.fromisoformat(expected)


def test_no_allowed_day_within_the_search() -> None:
    always = replace(DEFAULT_RULES, weekdays=frozenset(range(1, 8)))  # from_dict would refuse it
    assert next_allowed_day(always, TODAY) is None
    assert decide(always, TODAY, "消防", "YJJ", 0).next_allowed is None


@pytest.mark.parametrize(
    ("data", "starts"),
    [
        ({"month_days": "1-20"}, [date(2026, m, 1) for m in range(1, 13)]),
        ({"month_days": "1-5,25-31"}, [date(2026, m, 25) for m in range(1, 13)]),  # the 1st continues it
        ({"holidays": True}, [spans[0] for spans in HOLIDAYS_2026.values()]),
        (
            {"month_days": "1-20", "holidays": True},
            sorted([date(2026, m, 1) for m in range(1, 13)] + [date(2026, 9, 25)]),
        ),
        ({"weekdays": "周三"}, [d for d in YEAR_2026 if d.isoweekday() == 3]),
        (
            {"ranges": ["2026-12-20至2026-12-31"], "month_days": "25-31"},
            [date(2026, m, 25) for m in range(1, 12)] + [date(2026, 12, 20)],
        ),
    ],
)
def test_quiet_period_begins(data: dict[str, Any], starts: list[date]) -> None:
    assert [d for d in YEAR_2026 if quiet_period_begins(rules(**data), d)] == starts


# --- Reading the rules ---------------------------------------------------------------------------------


def test_defaults() -> None:
    assert DEFAULT_RULES.month_days == frozenset(range(1, 21))
    assert DEFAULT_RULES.exempt_categories == ("安全生产", "生态环境", "突发事件")
    assert (DEFAULT_RULES.annual_cap, DEFAULT_RULES.joint_window_days) == (2, 7)
    assert DEFAULT_RULES.enforcement_departments == ("SCJGJ", "STHJ", "YJJ", "SWUJ", "RSJ", "ZJJ", "ZRZYJ")
    assert DEFAULT_RULES.supervising_department == "DCS"
    assert QuietRules.from_dict(DEFAULT_RULES.to_dict()) == DEFAULT_RULES


def test_keys_left_out_mean_no_such_quiet_days_and_the_county_defaults() -> None:
    county = rules(weekdays="周三")
    assert (county.month_days, county.weekdays, county.ranges, county.holidays) == (
        frozenset(),
        frozenset({3}),
        (),
        False,
    )
    assert (
        replace(county, weekdays=DEFAULT_RULES.weekdays, month_days=DEFAULT_RULES.month_days) == DEFAULT_RULES
    )


@pytest.mark.parametrize(
    ("key", "forms", "value"),
    [
        (
            "month_days",
            ["1-5,25-31", "1-5，25-31", "1 - 5、25至31", [1, 2, 3, 4, 5, "25-31"], ["1日至5日", "25-31"]],
            frozenset([1, 2, 3, 4, 5, 25, 26, 27, 28, 29, 30, 31]),
        ),
        ("month_days", [15, "15", "15日", [15], "１５"], frozenset([15])),
        ("weekdays", ["周三", "星期三", "礼拜三", 3, "3", ["周三"], [3]], frozenset([3])),
        ("weekdays", ["周一至周五", "1-5", ["周一", "周二", "周三", "周四", "周五"]], frozenset(range(1, 6))),
        (
            "ranges",
            [
                "2026-12-20至2026-12-31",
                "2026/12/20 ~ 2026/12/31",
                [[date(2026, 12, 20), date(2026, 12, 31)]],
                [{"from": date(2026, 12, 20), "to": "2026-12-31"}],
                ["2026-12-20到2026-12-31"],
            ],
            ((date(2026, 12, 20), date(2026, 12, 31)),),
        ),
        (
            "ranges",
            [date(2026, 12, 24), "2026-12-24", ["2026-12-24"]],
            ((date(2026, 12, 24), date(2026, 12, 24)),),
        ),
        ("holidays", [True, "是", "true"], True),
        ("categories", ["安全生产、消防,其他", ["安全生产", "消防", "其他"]], ("安全生产", "消防", "其他")),
        ("enforcement_departments", ["SCJGJ, YJJ", ["SCJGJ", "YJJ"]], ("SCJGJ", "YJJ")),
    ],
)
def test_the_forms_a_county_may_write(key: str, forms: list[Any], value: object) -> None:
    extra: dict[str, Any] = {"month_days": "1-20"} if key != "month_days" else {}
    if key == "categories":
        extra["exempt_categories"] = ["安全生产"]
    for form in forms:
        assert getattr(QuietRules.from_dict({**extra, key: form}), key) == value, form


def test_to_dict_reads_back() -> None:
    county = rules(
        month_days="1-5,25-31",
        weekdays="周三、周五",
        ranges=["2026-12-24", "2026-07-10至2026-07-12"],
        holidays=True,
        department_caps={"SWUJ": 1},
        joint_window_days=3,
        supervising_department="YSHJ",
    )
    assert county.to_dict() == {
        "month_days": "1-5,25-31",
        "weekdays": [3, 5],
        "ranges": ["2026-07-10至2026-07-12", "2026-12-24"],
        "holidays": True,
        "categories": list(DEFAULT_RULES.categories),
        "exempt_categories": ["安全生产", "生态环境", "突发事件"],
        "annual_cap": 2,
        "department_caps": {"SWUJ": 1},
        "joint_window_days": 3,
        "enforcement_departments": list(DEFAULT_RULES.enforcement_departments),
        "supervising_department": "YSHJ",
    }
    assert QuietRules.from_dict(county.to_dict()) == county


def refusal(data: Any) -> list[str]:
    with pytest.raises(Invalid) as exc:
        QuietRules.from_dict(data)
    head, *lines = exc.value.message.splitlines()
    assert head == f"企业宁静日规则有误，未作任何修改（共{len(lines)}处）："
    return [line.split(". ", 1)[1] for line in lines]


def test_every_problem_is_listed_with_its_key_and_value() -> None:
    problems = refusal(
        {
            "month_days": "0-40,3",
            "weekdays": "周八、1-5",
            "ranges": ["2026-12-31至2026-12-01", "明年", "2026-01-01至2027-06-30"],
            "holidays": "也许",
            "categories": ["安全生产", "安全生产", "消防"],
            "exempt_categories": ["上级部署"],
            "annual_cap": 0,
            "department_caps": {"SWUJ": "很多"},
            "joint_window_days": -1,
            "enforcement_departments": [],
            "supervising_department": "D C S",
            "quiet": True,
        }
    )
    assert problems == [
        "未知的设置项「quiet」（可用：month_days、weekdays、ranges、holidays、categories、exempt_categories、"
        "annual_cap、department_caps、joint_window_days、enforcement_departments、supervising_department）",
        "month_days：「0-40」不是1至31之间的日期或日期范围（如 1-20、1-5,25-31）",
        "weekdays：「周八」不是星期几（如 周三、星期三、3，或 周一至周五）",
        "ranges：「2026-12-31至2026-12-01」「明年」「2026-01-01至2027-06-30」不是有效的日期范围"
        "（如 2026-12-20至2026-12-31，结束不早于开始，最长366天）",
        "holidays：「也许」应为 true（是）或 false（否）",
        "categories：「安全生产」重复了",
        "annual_cap：「0」应为1至100之间的整数",
        "department_caps：「SWUJ: 很多」应为「部门编码: 1至100之间的次数」",
        "joint_window_days：「-1」应为0至90之间的整数",
        "enforcement_departments：不能为空",
        "supervising_department：「D C S」应为一个部门编码，如 DCS",
    ]


def test_problems_between_keys_are_listed_too() -> None:
    assert refusal({"month_days": "", "exempt_categories": "安全生产、上级部署"}) == [
        "exempt_categories：「上级部署」不在 categories 中"
        "（安全生产、生态环境、突发事件、市场监管、消防、税务、劳动保障、卫生健康、其他）",
        "没有设定任何宁静日：month_days、weekdays、ranges、holidays 至少设定一项",
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"month_days": "1-31"}, "month_days：1-31 使每天都是宁静日，企业将无法接受任何检查"),
        ({"weekdays": "周一至周日"}, "weekdays：周一至周日使每天都是宁静日，企业将无法接受任何检查"),
        (
            {"ranges": ["2026-01-01至2026-12-31", "2027-01-01至2027-06-30"]},
            "ranges：自2026-01-01起连续400天都是宁静日，企业将无法接受任何检查",
        ),
        ({"holidays": True, "annual_cap": True}, "annual_cap：「True」应为1至100之间的整数"),
        (
            {"month_days": "1-20", "categories": [1, 2]},
            "categories：「1」「2」不是有效的名称或编码（文字，最长16字）",
        ),
    ],
)
def test_rules_that_leave_no_day_or_are_mistyped_are_refused(data: dict[str, Any], problem: str) -> None:
    assert refusal(data) == [problem]


def test_a_rule_set_that_is_not_a_mapping_is_refused() -> None:
    assert refusal(["month_days", "1-20"]) == ["规则应为「设置项: 值」的映射（例如 month_days: 1-20）"]


# --- Versions in the database ----------------------------------------------------------------------------


CODES = ("SCJGJ", "STHJ", "YJJ", "SWUJ", "RSJ", "ZJJ", "ZRZYJ", "DCS")


@pytest.fixture
def county(session: Session) -> None:
    for code in CODES:
        builders.department(session, f"县{code}", code)


def version(effective_from: str, **data: Any) -> dict[str, Any]:
    return {"effective_from": date.fromisoformat(effective_from), "month_days": "1-20", **data}


def loads(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "quiet_policy.load")))


def test_no_policy_means_the_default_rules(session: Session) -> None:
    assert policy_on(session, TODAY) is None
    assert rules_on(session, TODAY) == (DEFAULT_RULES, None)


def test_versions_apply_from_their_date(session: Session, clock: FixedClock, county: None) -> None:
    now = clock.now()
    first = load_policy(session, version("2026-01-01"), source="a.yaml", now=now, actor=None)
    assert (first.effective_from, first.source, first.rules["month_days"]) == (
        date(2026, 1, 1),
        "a.yaml",
        "1-20",
    )
    assert policy_on(session, date(2026, 12, 15)) is first
    later = load_policy(
        session, version("2026-12-10", month_days="1-10"), source="b.yaml", now=now, actor=None
    )
    assert policy_on(session, date(2025, 12, 31)) is None
    assert policy_on(session, date(2026, 1, 1)) is first
    assert policy_on(session, date(2026, 12, 9)) is first  # the later version does not reach back
    assert policy_on(session, date(2026, 12, 10)) is later
    county_rules, policy = rules_on(session, date(2026, 12, 15))
    assert (policy, is_quiet(county_rules, date(2026, 12, 15))) == (later, False)
    county_rules, policy = rules_on(session, date(2026, 11, 15))
    assert (policy, is_quiet(county_rules, date(2026, 11, 15))) == (first, True)
    events = loads(session)
    assert [(e.entity, e.entity_id, e.channel, e.at) for e in events] == [
        ("quiet_policy", str(first.id), "cli", now),
        ("quiet_policy", str(later.id), "cli", now),
    ]
    assert events[1].data == {"effective_from": "2026-12-10", "source": "b.yaml", "replaced": False}


def test_the_same_version_again_changes_nothing(session: Session, clock: FixedClock, county: None) -> None:
    first = load_policy(session, version("2026-01-01"), source="a.yaml", now=clock.now(), actor=None)
    clock.advance(days=1)
    again = load_policy(session, version("2026-01-01"), source="again.yaml", now=clock.now(), actor=None)
    assert (again, again.source, len(loads(session))) == (first, "a.yaml", 1)


def test_an_unused_version_is_replaced_a_used_one_is_not(
    session: Session, clock: FixedClock, county: None
) -> None:
    official = builders.person(session, "scjg_wang", Role.OFFICIAL, "王科员")
    policy = load_policy(session, version("2026-01-01"), source="a.yaml", now=clock.now(), actor=official)
    replaced = load_policy(
        session, version("2026-01-01", weekdays="周三"), source="b.yaml", now=clock.now(), actor=None
    )
    assert (replaced.id, replaced.source, replaced.rules["weekdays"]) == (policy.id, "b.yaml", [3])
    assert loads(session)[-1].data["replaced"] is True
    assert loads(session)[0].actor_userid == "scjg_wang"

    inspect_under(session, policy, official)
    with pytest.raises(Invalid) as exc:
        load_policy(
            session, version("2026-01-01", month_days="1-15"), source="c.yaml", now=clock.now(), actor=None
        )
    assert exc.value.message == (
        "2026-01-01起生效的企业宁静日规则不能修改：该版本规则已用于1次检查决定，请以新的生效日期发布新版本。"
    )
    session.refresh(policy)
    assert policy.rules["month_days"] == "1-20"
    assert (
        load_policy(
            session, version("2026-01-01", weekdays="周三"), source="d.yaml", now=clock.now(), actor=None
        )
        == policy
    )


def inspect_under(session: Session, policy: QuietPolicy, official: Person) -> Inspection:
    department = session.scalars(select(Department).where(Department.code == "SCJGJ")).one()
    firm = builders.enterprise(session, "示范县鑫源食品有限公司", department)
    inspection = Inspection(
        number="J2611-0001", enterprise=firm, department=department, registered_by=official,
        planned_on=date(2026, 11, 25), category="市场监管", reason="抽检", outcome=Outcome.ALLOWED.value,
        rule_text="非宁静日", policy_id=policy.id, status=InspectionStatus.PENDING.value,
        created_at=policy.created_at, lenient_codes=[],
    )  # fmt: skip
    session.add(inspection)
    session.flush()
    return inspection


def test_a_version_needs_its_date_and_known_departments(
    session: Session, clock: FixedClock, county: None
) -> None:
    with pytest.raises(Invalid) as exc:
        load_policy(session, {"month_days": "1-40"}, source="x", now=clock.now(), actor=None)
    assert exc.value.message.splitlines()[1:] == [
        "1. effective_from：（空）应为生效日期，如 2026-01-01",
        "2. month_days：「1-40」不是1至31之间的日期或日期范围（如 1-20、1-5,25-31）",
    ]
    data = version("2026-01-01", enforcement_departments=["SCJGJ", "XXJ"], department_caps={"YYJ": 1})
    with pytest.raises(Invalid) as exc:
        load_policy(session, data, source="x", now=clock.now(), actor=None)
    assert exc.value.message.splitlines()[1:] == [
        "1. enforcement_departments：部门编码「XXJ」不存在",
        "2. department_caps：部门编码「YYJ」不存在",
    ]
    data = version("2026-01-01", exempt_categories=["安全生产", "上级部署"], supervising_department="XXX")
    with pytest.raises(Invalid) as exc:
        load_policy(session, data, source="x", now=clock.now(), actor=None)
    assert [line.split("（")[0] for line in exc.value.message.splitlines()[1:]] == [
        "1. exempt_categories：「上级部署」不在 categories 中",
        "2. supervising_department：部门编码「XXX」不存在",
    ]
    with pytest.raises(Invalid, match="effective_from：「2026-01-01 08:00:00」应为生效日期"):
        load_policy(session, {**version("2026-01-01"), "effective_from": "2026-01-01 08:00:00"}, source="x",
                    now=clock.now(), actor=None)  # fmt: skip
    assert session.scalars(select(QuietPolicy)).all() == []


# --- The YAML file, the demo, the CLI ----------------------------------------------------------------------


def test_the_demo_file(session: Session, clock: FixedClock, county: None) -> None:
    policy = load_policy_file(session, DEMO_DIR / "quiet_days.yaml", now=clock.now())
    assert (policy.effective_from, policy.source) == (date(2026, 1, 1), "quiet_days.yaml")
    assert QuietRules.from_dict(policy.rules) == replace(DEFAULT_RULES, holidays=True)
    demo = yaml.safe_load((DEMO_DIR / "quiet_days.yaml").read_text(encoding="utf-8"))
    codes = {
        row.split(",")[0] for row in (DEMO_DIR / "departments.csv").read_text(encoding="utf-8").splitlines()
    }
    assert set(demo["enforcement_departments"]) | {demo["supervising_department"]} <= codes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "effective_from: 2026-01-01\nmonth_days: [1, 2\nholidays: true\n",
            "规则文件 r.yaml 第3行格式有误：",
        ),
        ("effective_from: 2026-01-01\n  month_days: 1-20\n", "规则文件 r.yaml 第2行格式有误："),
        ("- 1-20\n", "规则文件 r.yaml 应为「设置项: 值」的列表（例如 month_days: 1-20）。"),
        ("", "规则文件 r.yaml 应为「设置项: 值」的列表（例如 month_days: 1-20）。"),
        (
            "effective_from: 2026-01-01\nmonth_days: 1-40\n",
            "企业宁静日规则有误，未作任何修改（共1处）：\n1. month_days：",
        ),
    ],
)
def test_bad_files(session: Session, clock: FixedClock, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Invalid) as exc:
        load_policy_file(session, path, now=clock.now())
    assert exc.value.message.startswith(message), exc.value.message


def test_an_unreadable_file(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes("month_days: 1-20".encode("gbk") + b"\xff\xfe # \xc4\xfe")
    with pytest.raises(Invalid, match=r"无法读取规则文件 r\.yaml"):
        load_policy_file(session, path, now=clock.now())


def test_cli_imports_quiet_rules(
    session: Session, tmp_path: Path, settings: Settings, clock: FixedClock
) -> None:
    import_file(session, "departments", DEMO_DIR / "departments.csv", clock=clock)
    session.commit()  # the command opens its own connection
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "ZTC_VAR_DIR": str(tmp_path),
    }
    result = CliRunner().invoke(main, ["import", "quiet-rules", str(DEMO_DIR / "quiet_days.yaml")], env=env)
    assert result.exit_code == 0, result.output
    policy = session.scalars(select(QuietPolicy)).one()
    assert result.stdout == f"已载入企业宁静日规则：2026-01-01起生效（版本{policy.id}，quiet_days.yaml）\n"

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "effective_from: 2026-12-01\nweekdays: 周八\nsupervising_department: XXX\n", encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["import", "quiet-rules", str(bad)], env=env)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "企业宁静日规则有误，未作任何修改（共1处）：",
        "1. weekdays：「周八」不是星期几（如 周三、星期三、3，或 周一至周五）",
    ]
    session.expire_all()
    assert len(session.scalars(select(QuietPolicy)).all()) == 1


def test_seed_demo_loads_the_demo_rules_once(runtime: Runtime) -> None:
    seed(runtime)
    seed(runtime)
    with runtime.session_factory() as session:
        [policy] = session.scalars(select(QuietPolicy)).all()
        assert policy.effective_from == date(2026, 1, 1)
        assert len(loads(session)) == 1
        assert rules_on(session, TODAY)[0].holidays is True


def test_a_county_with_its_own_categories_keeps_the_default_exemptions_it_has() -> None:
    assert QuietRules.from_dict(
        {"categories": "消防、税务、安全生产", "month_days": "1-20"}
    ).exempt_categories == ("安全生产",)
    assert QuietRules.from_dict({"categories": "消防、税务", "month_days": "1-20"}).exempt_categories == ()
