"""Profiles: values appended with source and date, read as of a moment, imported from a spreadsheet."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import FixedClock
from bot.errors import Invalid
from bot.importing import ImportFailed, ImportReport, read_table
from bot.models import AuditEvent, Enterprise, Role
from bot.uscc import make_uscc
from handlers.policies.models import ProfileSource, ProfileValue
from handlers.policies.profile import import_profiles, plain, profile_of, set_value
from tests import builders
from tests.test_importing import write_csv, write_xlsx


@pytest.fixture
def firm(session: Session) -> Enterprise:
    return builders.enterprise(session, "鑫源食品")


def rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ProfileValue)) or 0


def test_values_are_appended_and_read_as_of_a_moment(
    session: Session, clock: FixedClock, firm: Enterprise
) -> None:
    boss = builders.person(session, "zhang_wei", Role.ENTERPRISE, "张伟")
    first = set_value(
        session, firm, "营业收入", "1800万", source=ProfileSource.ENTERPRISE, by=boss, now=clock.now()
    )
    assert (first.attribute, first.value, first.source) == ("revenue_wan", 1800, "enterprise")
    before = clock.now()
    clock.advance(days=30)
    set_value(session, firm, "revenue_wan", "0.25亿", source="official", by=None, now=clock.now())
    assert rows(session) == 2  # never overwritten
    now = profile_of(session, firm.id, clock.now())["revenue_wan"]
    assert (now.value, now.source, now.given_by) == (2500, "干部核实", None)
    then = profile_of(session, firm.id, before)["revenue_wan"]
    assert (then.value, then.source, then.given_by, then.given_at) == (1800, "企业自报", "张伟", before)
    assert then.provenance() == "企业自报，2026-11-24，填报人张伟"
    assert profile_of(session, firm.id, before - timedelta(seconds=1)) == {}


def test_bad_values_are_refused_naming_attribute_and_value(
    session: Session, clock: FixedClock, firm: Enterprise
) -> None:
    with pytest.raises(Invalid, match="从业人数：「-3」不能为负数"):
        set_value(session, firm, "employees", "-3", source="enterprise", by=None, now=clock.now())
    with pytest.raises(Invalid, match="成立日期：「2026-11-25」晚于今天（2026-11-24）"):
        set_value(session, firm, "成立日期", "2026-11-25", source="enterprise", by=None, now=clock.now())
    with pytest.raises(Invalid, match="未知的企业信息项「颜色」"):
        set_value(session, firm, "颜色", "红", source="enterprise", by=None, now=clock.now())
    assert rows(session) == 0


def test_above_scale_derived_and_explained_unless_given(
    session: Session, clock: FixedClock, firm: Enterprise
) -> None:
    for attr, raw in (("industry", "1310"), ("revenue_wan", "2500")):
        set_value(session, firm, attr, raw, source="enterprise", by=None, now=clock.now())
    derived = profile_of(session, firm.id, clock.now())["above_scale"]
    assert (derived.value, derived.source) == (True, "推算")
    assert (
        derived.provenance()
        == "按营业收入2500万元、所属行业C1310，属农副食品加工业推算：工业营业收入2000万元及以上为规上"
    )
    set_value(session, firm, "规上企业", "否", source="official", by=None, now=clock.advance(minutes=1))
    given = profile_of(session, firm.id, clock.now())["above_scale"]
    assert (given.value, given.source) == (False, "干部核实")


def test_the_enterprise_lists_region_counts_when_none_was_given(
    session: Session, clock: FixedClock, firm: Enterprise
) -> None:
    firm.region = "城关镇"
    session.flush()
    assert plain(profile_of(session, firm.id, clock.now())) == {"region": "城关镇"}
    assert profile_of(session, firm.id, clock.now())["region"].source == "企业名录"
    set_value(session, firm, "region", "经济开发区", source="enterprise", by=None, now=clock.now())
    assert plain(profile_of(session, firm.id, clock.now())) == {"region": "经济开发区"}


STRANGER = make_uscc("91371526MA0000001")  # valid, but not an enterprise of the county
HEADER = [
    "统一社会信用代码",
    "企业名称",
    "行业代码",
    "规模",
    "资质",
    "成立日期",
    "从业人数",
    "营业收入(万元)",
    "出口",
]


def test_import_profiles_blank_cells_give_nothing(
    session: Session, clock: FixedClock, firm: Enterprise, tmp_path: Path
) -> None:
    other = builders.enterprise(session, "恒通纺织")
    table = [
        HEADER,
        [firm.uscc, "鑫源食品", "C1310", "小型", "高企、科小", "2015-03-01", "80", "1.2亿", "是"],
        [other.uscc, "", "1711", "", "无", "", "", "", ""],
    ]
    report = import_profiles(session, read_table(write_csv(tmp_path / "p.csv", table)), clock=clock)
    assert report == ImportReport("profiles", created=2, updated=0, unchanged=0)
    assert plain(profile_of(session, firm.id, clock.now())) == {
        "industry": "C1310", "size": "小型", "certifications": ["高新技术企业", "科技型中小企业"],
        "established": "2015-03-01", "employees": 80, "revenue_wan": 12000, "export": True,
        "above_scale": True,
    }  # fmt: skip
    assert plain(profile_of(session, other.id, clock.now())) == {"industry": "C1711", "certifications": []}
    [event, _] = session.scalars(select(AuditEvent).where(AuditEvent.action == "profile.import"))
    assert event.entity_id == str(firm.id) and event.data["revenue_wan"] == {"from": None, "to": 12000}


def test_reimport_appends_only_what_changed(
    session: Session, clock: FixedClock, firm: Enterprise, tmp_path: Path
) -> None:
    first = [[*HEADER[:1], "营业收入", "从业人数"], [firm.uscc, "1800", "80"]]
    import_profiles(session, read_table(write_xlsx(tmp_path / "a.xlsx", first)), clock=clock)  # type: ignore[arg-type]
    second = [[*HEADER[:1], "revenue_wan", "employees"], [firm.uscc, "1800万元", "95"]]
    clock.advance(days=1)
    report = import_profiles(session, read_table(write_csv(tmp_path / "b.csv", second)), clock=clock)
    assert report == ImportReport("profiles", created=0, updated=1, unchanged=0)
    assert rows(session) == 3
    employees = profile_of(session, firm.id, clock.now())["employees"]
    assert (employees.value, employees.source) == (95, "批量导入")
    again = import_profiles(session, read_table(write_csv(tmp_path / "b.csv", second)), clock=clock)
    assert again == ImportReport("profiles", created=0, updated=0, unchanged=1)


def test_import_profiles_all_or_nothing_with_line_numbers(
    session: Session, clock: FixedClock, firm: Enterprise, tmp_path: Path
) -> None:
    table = [
        HEADER,
        [firm.uscc, "鑫源食品", "C13", "小型", "", "", "80", "1200", ""],
        [firm.uscc[:-1] + "0", "", "D13", "小微", "独角兽", "2030-01-01", "-5", "12万万", "也许"],
        [STRANGER, "", "", "", "", "", "", "", ""],
        [firm.uscc, "别的公司", "", "", "", "", "", "", ""],
    ]
    with pytest.raises(ImportFailed) as exc:
        import_profiles(session, read_table(write_csv(tmp_path / "p.csv", table)), clock=clock)
    messages = [str(e) for e in exc.value.errors]
    assert messages[0].startswith("第3行 统一社会信用代码：统一社会信用代码校验位不符")
    assert messages[1:9] == [
        "第3行 所属行业：「D13」：13 农副食品加工业属于C门类，不是D门类",
        "第3行 企业规模：「小微」无法识别，可填：大型、中型、小型、微型",
        "第3行 资质认定：「独角兽」不是可登记的认定，可填：高新技术企业、专精特新中小企业、"
        '专精特新"小巨人"、科技型中小企业、创新型中小企业、省级企业技术中心、国家企业技术中心、瞪羚企业、'
        "技术先进型服务企业、制造业单项冠军（多项用、分隔，没有填「无」）",
        "第3行 成立日期：「2030-01-01」晚于今天（2026-11-24），不能是将来的日期",
        "第3行 从业人数：「-5」不能为负数",
        "第3行 营业收入：「12万万」的单位「万万」写错了："
        "金额按万元计，可写 1200、1200万、1.2亿 或 18000000元",
        "第3行 出口业务：「也许」无法识别，请填「是」或「否」",
        f"第4行 统一社会信用代码：找不到「{STRANGER}」：请先导入企业（ztc import enterprises）",
    ]
    assert messages[9:] == [
        f"第5行 统一社会信用代码：「{firm.uscc}」与第2行重复",
        "第5行 企业名称：「别的公司」与该代码登记的企业「鑫源食品」不符，请核对",
    ]
    assert rows(session) == 0
