"""What people type: one-line filings, 延期 dates, numbered choices (pure, fixed clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import fmt_local
from bot.errors import Invalid
from handlers.complaints.models import CATEGORIES
from handlers.complaints.parsing import Filing, parse_filing, parse_until, pick
from tests.conftest import T0


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("路灯坏了", Filing("其他", "普通", "路灯坏了")),
        ("用地 厂房扩建用地未批", Filing("用地", "普通", "厂房扩建用地未批")),
        ("紧急 用地 厂房 扩建", Filing("用地", "紧急", "厂房 扩建")),
        ("【融资】 贷款难", Filing("融资", "普通", "贷款难")),
        ("紧急", Filing("其他", "紧急", "")),  # no text left: the service asks for it
        ("审批流程太慢 用地也难", Filing("其他", "普通", "审批流程太慢 用地也难")),
    ],
)
def test_a_one_line_filing_takes_a_leading_category_and_urgency(typed, expected):
    assert parse_filing(typed, CATEGORIES) == expected


@pytest.mark.parametrize(
    "typed, local_moment, rest",
    [
        ("2026-11-28 17:00 等待省厅批复", "2026-11-28 17:00", "等待省厅批复"),
        ("2026/11/28 等批复", "2026-11-28 18:00", "等批复"),
        ("11-28 10:30 理由", "2026-11-28 10:30", "理由"),
        ("11月28日 理由", "2026-11-28 18:00", "理由"),
        ("11月28日15点 理由", "2026-11-28 15:00", "理由"),
        ("1月5日 跨年", "2027-01-05 18:00", "跨年"),
        ("3天 等待", "2026-11-27 09:30", "等待"),
        ("48小时 等待", "2026-11-26 09:30", "等待"),
        ("1.5天 等待", "2026-11-25 21:30", "等待"),
        ("11月24日 今天傍晚", "2026-11-24 18:00", "今天傍晚"),  # today, not next year
        ("２０２６－１１－２８ 全角", "2026-11-28 18:00", "全角"),
    ],
)
def test_extension_dates_are_read_in_local_time(typed, local_moment, rest):
    at, remainder = parse_until(typed, T0)
    assert at.utcoffset() == timedelta(0)  # stored as UTC
    assert (fmt_local(at), remainder) == (local_moment, rest)


@pytest.mark.parametrize("typed", ["下周", "", "2026-02-30 理由", "13月1日 理由"])
def test_bad_extension_dates_are_named(typed):
    with pytest.raises(Invalid) as err:
        parse_until(typed, T0)
    assert "延期时间" in err.value.message or "不是有效的日期时间" in err.value.message


def test_a_choice_by_number_or_name():
    assert pick("2", ("普通", "紧急"), "紧急程度") == "紧急"
    assert pick(" 紧急 ", ("普通", "紧急"), "紧急程度") == "紧急"
    with pytest.raises(Invalid) as err:
        pick("3", ("普通", "紧急"), "紧急程度")
    assert "1. 普通\n2. 紧急" in err.value.message
