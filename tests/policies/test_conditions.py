"""Conditions: read with line numbers, evaluated to met / not met / unknown / manual, explained in Chinese."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from handlers.policies.attributes import Fact
from handlers.policies.catalog_reading import CatalogRefused, read_catalog
from handlers.policies.condition_reading import compile_conditions
from handlers.policies.conditions import Outcome, Verdict, evaluate, outcome_of, years_before
from handlers.policies.explain import explain
from tests.policies.samples import DAY, HIGH_TECH, conditions, facts


def verdicts(specs: list[dict[str, object]], day: date = DAY, **values: object) -> list[Verdict]:
    return [c.verdict for c in evaluate(conditions(*specs), values, day).checks]


def refused(text: str) -> list[str]:
    with pytest.raises(CatalogRefused) as exc:
        read_catalog(text)
    return [str(p) for p in exc.value.problems]


# --- reading ---------------------------------------------------------------------------------------


def with_conditions(*lines: str) -> str:
    """The sample policy with its conditions replaced (they start on line 15)."""
    head, _, rest = HIGH_TECH.partition("  conditions:\n")
    _, _, examples = rest.partition("  examples:\n")
    return (
        head + "  conditions:\n" + "".join(f"    - {line}\n" for line in lines) + "  examples:\n" + examples
    )


def test_condition_errors_name_the_line_and_the_field() -> None:
    assert HIGH_TECH.splitlines()[14].startswith("    - {attr: certifications")
    problems = refused(
        with_conditions(
            "{attr: revenu, min: 2000}",
            "{attr: employees, has: 高新技术企业}",
            "{attr: revenue_wan, min: 两千}",
            "{attr: industry, in: [C39, D13]}",
            "{attr: size}",
            "{clause: 第二条}",
            "{any: []}",
            "{attr: size, in: [小型], is: true}",
            "{attr: established, years_at_least: 一年}",
            "{attr: certifications, has: [高企, 瞪羚]}",
            "{attr: size, in: [小型], colour: red}",
        )
    )
    code = "XKJ-GQ-2026 conditions"
    assert problems == [
        f"第15行 {code}第1条 attr：未知的企业信息项「revenu」，是不是「revenue_wan」？"
        "（可用：industry（所属行业）、size（企业规模）、above_scale（规上企业）、certifications（资质认定）、region（所在区域）、established（成立日期）、"
        "employees（从业人数）、revenue_wan（营业收入）、tax_wan（纳税额）、rnd_wan（研发投入）、export（出口业务）、"
        "investment_wan（项目投资额））",
        f"第16行 {code}第2条：employees（从业人数）不能用「has」比较（可用：min、max、above、below）",
        f"第17行 {code}第3条 min：营业收入：「两千」不是数字，"
        "请用阿拉伯数字填写，如 1200、1200万、1.2亿（按万元计）",
        f"第18行 {code}第4条 in：所属行业：「D13」：13 农副食品加工业属于C门类，不是D门类",
        f"第19行 {code}第5条：缺少比较方式（size 可用：in、not_in）",
        f"第20行 {code}第6条：缺少 attr（企业信息项）、manual（需人工核实的条件）或 any（满足其一）",
        f"第21行 {code}第7条 any：应为条件的列表（至少一条），如 - {{attr: size, in: [小型, 微型]}}",
        f"第22行 {code}第8条：size（企业规模）不能用「is」比较（可用：in、not_in）",
        f"第23行 {code}第9条 years_at_least：「一年」应为整数年数，如 1、3",
        f"第24行 {code}第10条 has：应为一个值，如 高新技术企业",
        f"第25行 {code}第11条：未知的键「colour」（这里可用：attr、in、not_in、clause、text）",
    ]


def test_years_since_establishment_must_be_between_0_and_200() -> None:
    problems = refused(
        with_conditions(
            "{attr: established, years_at_least: 20260}",
            "{attr: established, years_at_most: '201'}",
            f"{{attr: established, years_at_least: '{'9' * 5000}'}}",  # more digits than int() reads
            "{attr: established, years_at_least: 0, years_at_most: 200}",  # the bounds themselves are fine
        )
    )
    code = "XKJ-GQ-2026 conditions"
    assert problems == [
        f"第15行 {code}第1条 years_at_least：「20260」超出范围：年数应在0到200之间",
        f"第16行 {code}第2条 years_at_most：「201」超出范围：年数应在0到200之间",
        f"第17行 {code}第3条 years_at_least：「9999999999999999999…」超出范围：年数应在0到200之间",
    ]
    assert years_before(date(2026, 11, 24), 200) == "1826-11-24"
    assert years_before(date(100, 3, 1), 200) == "0001-01-01"  # before year 1: the earliest day, no crash


def test_thresholds_are_read_in_the_attributes_units() -> None:
    a, b, c = conditions(
        {"attr": "revenue_wan", "min": "0.2亿"},
        {"attr": "revenue_wan", "min": 2000},
        {"attr": "industry", "in": ["39", "C40", "计算机、通信和其他电子设备制造业"]},
    )
    assert a.key == b.key == '{"attr": "revenue_wan", "min": 2000}'
    assert c.spec == {"attr": "industry", "in": ["C39", "C40"]}


def test_stored_specs_compile_to_the_same_conditions() -> None:
    first = conditions(
        {"any": [{"attr": "size", "in": ["小型"]}, {"manual": "信用良好"}], "clause": "第二条"}
    )
    again = compile_conditions([c.spec for c in first])
    assert [c.spec for c in again] == [c.spec for c in first]
    assert again[0].requirement == "须满足以下条件之一（第二条）"


# --- evaluating ------------------------------------------------------------------------------------


def test_a_missing_value_is_unknown_never_assumed() -> None:
    specs: list[dict[str, object]] = [
        {"attr": "certifications", "has": "高新技术企业"},
        {"attr": "certifications", "lacks": "高新技术企业"},
        {"attr": "revenue_wan", "max": 2000},
        {"attr": "export", "is": False},
        {"attr": "size", "not_in": ["大型"]},
        {"attr": "industry", "not_in": ["K"]},
        {"attr": "established", "years_at_most": 3},
    ]
    assert verdicts(specs) == [Verdict.UNKNOWN] * 7  # not "no certificate", not "revenue 0", not "no export"
    known = verdicts(specs, certifications=[], revenue_wan=0, export=False, size="小型", industry="C13",
                     established="2025-01-01")  # fmt: skip
    assert known == [
        Verdict.NOT_MET,
        Verdict.MET,
        Verdict.MET,
        Verdict.MET,
        Verdict.MET,
        Verdict.MET,
        Verdict.MET,
    ]


def test_numbers_bounds_inclusive_and_strict() -> None:
    specs: list[dict[str, object]] = [
        {"attr": "employees", "min": 10},
        {"attr": "employees", "above": 10},
        {"attr": "employees", "max": 10},
        {"attr": "employees", "below": 10},
        {"attr": "employees", "min": 5, "below": 10},
    ]
    assert verdicts(specs, employees=10) == [Verdict.MET, Verdict.NOT_MET, Verdict.MET, Verdict.NOT_MET,
                                             Verdict.NOT_MET]  # fmt: skip
    assert verdicts(specs, employees=7)[-1] == Verdict.MET


def test_years_since_establishment_count_from_the_day_of_asking() -> None:
    specs: list[dict[str, object]] = [{"attr": "established", "years_at_least": 1}]
    assert verdicts(specs, date(2026, 11, 24), established="2025-11-24") == [Verdict.MET]
    assert verdicts(specs, date(2026, 11, 23), established="2025-11-24") == [Verdict.NOT_MET]
    leap: list[dict[str, object]] = [{"attr": "established", "years_at_least": 1}]
    assert verdicts(leap, date(2028, 2, 29), established="2027-02-28") == [Verdict.MET]
    dates: list[dict[str, object]] = [{"attr": "established", "min": "2020-01-01", "max": "2020-12-31"}]
    assert verdicts(dates, established="2020-06-01") == [Verdict.MET]
    assert verdicts(dates, established="2021-01-01") == [Verdict.NOT_MET]


def test_industry_codes_match_by_prefix_and_a_coarser_code_cannot_tell() -> None:
    specs: list[dict[str, object]] = [
        {"attr": "industry", "in": ["C39", "C40"]},
        {"attr": "industry", "in_section": ["C"]},
        {"attr": "industry", "not_in": ["C3911"]},
    ]
    assert verdicts(specs, industry="C3911") == [Verdict.MET, Verdict.MET, Verdict.NOT_MET]
    assert verdicts(specs, industry="C13") == [Verdict.NOT_MET, Verdict.MET, Verdict.MET]
    assert verdicts(specs, industry="C") == [Verdict.UNKNOWN, Verdict.MET, Verdict.UNKNOWN]
    assert verdicts(specs, industry="C39") == [Verdict.MET, Verdict.MET, Verdict.UNKNOWN]
    assert verdicts(specs, industry="F51") == [Verdict.NOT_MET, Verdict.NOT_MET, Verdict.MET]


def test_certifications_manual_and_groups() -> None:
    group = {"any": [{"attr": "above_scale", "is": True}, {"attr": "export", "is": True}]}
    both = {"all": [{"attr": "above_scale", "is": True}, {"manual": "信用良好"}]}
    specs: list[dict[str, object]] = [
        {"attr": "certifications", "has_any": ["高新技术企业", "科技型中小企业"]},
        {"manual": "近三年无重大安全生产事故"},
        group,
        both,
    ]
    assert verdicts(specs, certifications=["科技型中小企业"], export=True) == [
        Verdict.MET, Verdict.MANUAL, Verdict.MET, Verdict.UNKNOWN,
    ]  # fmt: skip
    assert verdicts(specs, certifications=["瞪羚企业"], above_scale=False, export=False) == [
        Verdict.NOT_MET, Verdict.MANUAL, Verdict.NOT_MET, Verdict.NOT_MET,
    ]  # fmt: skip
    assert verdicts(specs, above_scale=True)[2:] == [Verdict.MET, Verdict.MANUAL]
    assert verdicts([group], export=False) == [Verdict.UNKNOWN]  # above_scale may still meet it
    anyone = {"any": [{"attr": "export", "is": True}, {"manual": "有境外订单"}]}
    assert verdicts([anyone], export=False) == [Verdict.MANUAL]  # a person may still find it met


def test_outcomes() -> None:
    met, no, unknown, manual = Verdict.MET, Verdict.NOT_MET, Verdict.UNKNOWN, Verdict.MANUAL
    assert outcome_of([met, met, manual]) == Outcome.QUALIFIED
    assert outcome_of([manual]) == Outcome.QUALIFIED
    assert outcome_of([met, no, manual]) == Outcome.NEAR
    assert outcome_of([met, unknown]) == Outcome.NEAR
    assert outcome_of([no, unknown]) == Outcome.NOT
    assert outcome_of([unknown, unknown, met]) == Outcome.NOT


def test_the_missing_attributes_to_ask() -> None:
    specs = conditions(
        {"attr": "certifications", "has": "高新技术企业"},
        {"attr": "revenue_wan", "min": 2000},
        {"any": [{"attr": "above_scale", "is": True}, {"attr": "export", "is": True}]},
        {"attr": "industry", "in": ["C39"]},
    )
    assessment = evaluate(specs, {"certifications": [], "industry": "C"}, DAY)
    assert assessment.outcome == Outcome.NOT
    assert assessment.missing == ("revenue_wan", "above_scale", "export", "industry")
    assert next(c.condition.text for c in assessment.failing) == "须为高新技术企业"


# --- explaining ------------------------------------------------------------------------------------


def test_each_condition_explained_with_value_source_and_date() -> None:
    specs = conditions(
        {"attr": "certifications", "has": "高新技术企业", "clause": "第三条第一款"},
        {"attr": "revenue_wan", "min": 2000, "clause": "第四条"},
        {"attr": "employees", "min": 10},
        {"attr": "established", "years_at_least": 1, "clause": "第三条"},
        {"manual": "近三年无重大安全生产事故", "clause": "第五条"},
        {"any": [{"attr": "above_scale", "is": True}, {"attr": "export", "is": True}], "clause": "第六条"},
        {"attr": "size", "in": ["小型", "微型"], "text": "须为小微企业"},
    )
    given = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    known = facts(certifications=["高新技术企业"], established="2025-12-01", export=True, size="中型")
    known["revenue_wan"] = Fact(1800, "企业自报", given, "张伟")
    assessment = evaluate(specs, {k: f.value for k, f in known.items()}, DAY)
    assert assessment.outcome == Outcome.NOT
    assert explain(assessment, known) == [
        "1. 须为高新技术企业（第三条第一款）——符合",
        "   贵企业：资质认定 高新技术企业（企业自报）",
        "2. 营业收入须不低于2000万元（第四条）——不符合",
        "   贵企业：营业收入 1800万元（企业自报，2026-11-02，填报人张伟）",
        "3. 从业人数须不低于10人——待补充",
        "   贵企业：未登记（请补充）",
        "4. 须成立满1年（第三条；按2026-11-24计，即成立日期不晚于2025-11-24）——不符合",
        "   贵企业：成立日期 2025-12-01（企业自报）",
        "5. 近三年无重大安全生产事故（第五条）——需人工核实",
        "   贵企业：此项由工作人员人工核实",
        "6. 须满足以下条件之一（第六条）——符合",
        "   (1) 须为规模以上企业——待补充",
        "       贵企业：未登记（请补充）",
        "   (2) 须有出口业务——符合",
        "       贵企业：出口业务 是（企业自报）",
        "7. 须为小微企业——不符合",
        "   贵企业：企业规模 中型（企业自报）",
    ]


def test_a_coarse_industry_code_says_what_to_add() -> None:
    specs = conditions({"attr": "industry", "in": ["C39"], "clause": "第二条"})
    assessment = evaluate(specs, {"industry": "C"}, DAY)
    assert explain(assessment, facts(industry="C")) == [
        "1. 所属行业须属于C39 计算机、通信和其他电子设备制造业（第二条）——待补充",
        "   贵企业：所属行业 C 制造业（企业自报）——行业代码不够具体，请补充到大类或更细（如 C39）",
    ]
