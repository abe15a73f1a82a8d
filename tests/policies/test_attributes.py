"""What people type for each profile attribute: normalised, or refused naming the attribute and the value."""

from __future__ import annotations

from datetime import date

import pytest

from bot.errors import Invalid
from handlers.policies.attributes import (
    ATTRIBUTES,
    DIVISIONS,
    SECTION_OF,
    attribute_named,
    derived_above_scale,
    questions,
    with_derived,
)

REVENUE = ATTRIBUTES["revenue_wan"]
TODAY = date(2026, 11, 24)


def refusal(key: str, raw: object, today: date | None = TODAY) -> str:
    with pytest.raises(Invalid) as exc:
        ATTRIBUTES[key].parse(raw, today)
    return exc.value.message


@pytest.mark.parametrize(
    ("raw", "wan"),
    [
        ("1200", 1200),
        (1200, 1200),
        ("1200万", 1200),
        ("1200万元", 1200),
        ("1,200万元", 1200),
        ("¥1200", 1200),
        ("￥1,200万元", 1200),
        ("１２００万", 1200),  # full-width digits from a Chinese input method
        ("1200w", 1200),
        ("1.2亿", 12000),
        ("1.2亿元", 12000),
        ("1.5千万", 1500),
        ("500000元", 50),
        ("12345元", 1.2345),
        ("0", 0),
        (2000.5, 2000.5),
    ],
)
def test_amounts_in_wan(raw: object, wan: float) -> None:
    assert REVENUE.parse(raw) == wan


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("12万万", "营业收入：「12万万」的单位「万万」写错了"),
        ("1.2亿万", "营业收入：「1.2亿万」的单位「亿万」写错了"),
        ("3万亿元", "的单位「万亿元」写错了"),
        ("-5", "营业收入：「-5」不能为负数"),
        ("负100万", "不能为负数"),
        ("两千万", "营业收入：「两千万」不是数字"),
        ("1.2.3", "不是数字"),
        ("18000000", "「18000000」即1800亿元，过大：不带单位的数字按万元计"),
        (True, "不是数字"),
    ],
)
def test_bad_amounts_are_refused_with_the_reason(raw: object, says: str) -> None:
    assert says in refusal("revenue_wan", raw)


def test_counts_are_whole_and_not_negative() -> None:
    employees = ATTRIBUTES["employees"]
    assert employees.parse("1,200人") == 1200
    assert employees.parse("0") == 0
    assert "从业人数：「-3」不能为负数" in refusal("employees", "-3")
    assert "「12.5」应为整数" in refusal("employees", "12.5")
    assert "单位「万」无法识别" in refusal("employees", "3万")


def test_the_97_divisions_of_gb_t_4754_2017() -> None:
    assert len(DIVISIONS) == 97
    assert (DIVISIONS["01"], DIVISIONS["13"], DIVISIONS["97"]) == ("农业", "农副食品加工业", "国际组织")
    assert DIVISIONS["39"] == "计算机、通信和其他电子设备制造业"
    assert [SECTION_OF[d] for d in ("05", "06", "13", "43", "44", "70", "96")] == list("ABCCDKS")


@pytest.mark.parametrize(
    ("raw", "code"),
    [("C13", "C13"), ("13", "C13"), ("1310", "C1310"), ("C1310", "C1310"), ("c39", "C39"), ("C", "C"),
     (13, "C13"), ("A01", "A01"), ("01", "A01"), ("农副食品加工业", "C13"), ("制造业", "C"),
     ("Ｃ３９", "C39")],
)  # fmt: skip
def test_industry_codes(raw: object, code: str) -> None:
    assert ATTRIBUTES["industry"].parse(raw) == code


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("D13", "「D13」：13 农副食品加工业属于C门类，不是D门类"),
        ("98", "没有98大类"),
        ("1", "以0开头的代码请加门类字母"),
        ("C1301", "第3位不会是0"),
        ("X12", "不是行业代码"),
        ("C123456", "不是行业代码"),
    ],
)
def test_bad_industry_codes(raw: str, says: str) -> None:
    message = refusal("industry", raw)
    assert message.startswith("所属行业：") and says in message


def test_dates_not_in_the_future() -> None:
    established = ATTRIBUTES["established"]
    for raw in ("2019-05-01", "2019/5/1", "2019.5.1", "2019年5月1日", "20190501", date(2019, 5, 1)):
        assert established.parse(raw, TODAY) == "2019-05-01"
    assert established.parse("2026-11-24", TODAY) == "2026-11-24"
    assert "「2026-11-25」晚于今天（2026-11-24）" in refusal("established", "2026-11-25")
    assert "不是完整的日期" in refusal("established", "2019-05")
    assert "不是完整的日期" in refusal("established", "2019-02-30")
    assert "早于1900年" in refusal("established", "1800-01-01")
    assert established.parse("2030-01-01") == "2030-01-01"  # no day given: a threshold, not a profile value


def test_certifications_sizes_flags_and_regions() -> None:
    certs = ATTRIBUTES["certifications"]
    assert certs.parse("高企、小巨人，科小") == ["高新技术企业", '专精特新"小巨人"', "科技型中小企业"]
    assert certs.parse("专精特新“小巨人”") == ['专精特新"小巨人"']
    assert certs.parse(["瞪羚", "高新技术企业", "高企"]) == ["高新技术企业", "瞪羚企业"]
    assert certs.parse("无") == []  # known to hold none: not the same as not given
    assert "「独角兽」不是可登记的认定" in refusal("certifications", "高企、独角兽")
    assert ATTRIBUTES["size"].parse("小型企业") == "小型"
    assert ATTRIBUTES["size"].parse("微") == "微型"
    assert "「小微」无法识别，可填：大型、中型、小型、微型" in refusal("size", "小微")
    assert ATTRIBUTES["export"].parse("是") is True
    assert ATTRIBUTES["above_scale"].parse("否") is False
    assert "请填「是」或「否」" in refusal("export", "也许")
    assert ATTRIBUTES["region"].parse("  经济开发区 ") == "经济开发区"
    assert "企业规模：没有填写" in refusal("size", " ")


def test_showing_values() -> None:
    assert REVENUE.show(1800) == "1800万元"
    assert REVENUE.show(1.2345) == "1.2345万元"
    assert ATTRIBUTES["employees"].show(120) == "120人"
    assert ATTRIBUTES["industry"].show("C13") == "C13 农副食品加工业"
    assert ATTRIBUTES["industry"].show("C1310") == "C1310，属农副食品加工业"
    assert ATTRIBUTES["certifications"].show([]) == "无"
    assert ATTRIBUTES["export"].show(True) == "是"


def test_attributes_by_key_or_label_and_their_questions() -> None:
    assert attribute_named("营业收入") is REVENUE
    assert attribute_named("revenue_wan") is REVENUE
    with pytest.raises(Invalid, match="未知的企业信息项「营收额」"):
        attribute_named("营收额")
    assert questions(["revenue_wan", "industry", "revenue_wan"]) == [
        ATTRIBUTES["industry"].question,
        REVENUE.question,
    ]


def test_above_scale_is_derived_only_where_revenue_decides() -> None:
    assert derived_above_scale({"industry": "C13", "revenue_wan": 2000}) is True
    assert derived_above_scale({"industry": "C13", "revenue_wan": 1999.99}) is False
    assert derived_above_scale({"industry": "F52", "revenue_wan": 600}) is True  # 零售业: 500万
    assert derived_above_scale({"industry": "F", "revenue_wan": 600}) is None  # 批发 or 零售? unknown
    assert derived_above_scale({"industry": "I65", "revenue_wan": 9000}) is None  # services: other tests
    assert derived_above_scale({"revenue_wan": 9000}) is None  # no industry: never guessed
    assert derived_above_scale({"industry": "C13"}) is None
    assert (
        with_derived({"industry": "C13", "revenue_wan": 2500, "above_scale": False})["above_scale"] is False
    )
