"""The catalog: a file checked field by field, examples run, versions kept; matching one and many."""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import FixedClock
from bot.models import AuditEvent
from handlers.policies.attributes import CERTIFICATIONS, SECTION_OF, with_derived
from handlers.policies.catalog import check_specs, publish, stored_specs
from handlers.policies.catalog_reading import CatalogRefused, read_catalog, read_catalog_file
from handlers.policies.conditions import Outcome, evaluate
from handlers.policies.matching import Rules, match, match_many, policies_in_force, rules_of
from handlers.policies.models import Policy, ProfileSource
from handlers.policies.profile import set_value
from tests import builders
from tests.policies.samples import DAY, HIGH_TECH, SMALL_FIRMS, conditions

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo" / "policies.yaml"


def refused(text: str) -> list[str]:
    with pytest.raises(CatalogRefused) as exc:
        read_catalog(text)
    return [str(p) for p in exc.value.problems]


def stored(session: Session) -> list[tuple[str, int, bool]]:
    return [(p.code, p.version, p.current) for p in session.scalars(select(Policy).order_by(Policy.id))]


# --- reading ---------------------------------------------------------------------------------------


def test_a_policy_read_with_its_fields_normalised() -> None:
    [spec] = read_catalog(HIGH_TECH)
    assert spec.code == "XKJ-GQ-2026"
    assert spec.fields["valid_from"] == "2026-01-01" and spec.fields["deadline"] is None
    assert spec.fields["amount_wan"] == 20
    assert spec.fields["conditions"][2] == {"attr": "revenue_wan", "min": 2000, "clause": "第四条"}
    assert spec.fields["examples"][1] == {
        "name": "营收未填的高企",
        "profile": {"certifications": ["高新技术企业"], "industry": "C3911"},
        "date": None,
        "expect": "near",
    }
    assert check_specs([spec]) == []


def test_field_errors_are_all_listed_with_lines() -> None:
    text = HIGH_TECH.replace("level: 县", "level: 乡").replace("valid_to: 2026-12-31", "valid_to: 2025-12-31")
    text = text.replace("mode: 免申即享", "mode: 免申").replace("link: https://", "link: ftp://")
    text = text.replace("  contact: 县科技局高新科 0530-1234567\n", "  contacts: 张三\n")
    text = text.replace("      expect: not\n", "      expect: maybe\n")
    assert refused(text) == [
        "第1行 XKJ-GQ-2026：未知的字段「contacts」（可用：code、title、issuer、doc_number、level、"
        "valid_from、valid_to、benefit、amount_wan、mode、how_to、deadline、contact、link、conditions、examples）",
        "第1行 XKJ-GQ-2026 contact：缺少 contact（必填）",
        "第5行 XKJ-GQ-2026 level：「乡」应为国家、省、市、县之一",
        "第7行 XKJ-GQ-2026 valid_to：2025-12-31早于 valid_from（2026-01-01）",
        "第10行 XKJ-GQ-2026 mode：「免申」应为免申即享、即申即享、申报之一",
        "第13行 XKJ-GQ-2026 link：「ftp://example.gov.cn/xkj/gq-2026」应为以 http:// 或 https:// 开头的网址",
        "第27行 XKJ-GQ-2026 examples第3个 expect：「maybe」应为 qualified、near 或 not",
    ]


def test_examples_must_include_one_that_matches_and_one_that_does_not() -> None:
    text = HIGH_TECH.split("    - name: 营收未填的高企")[0]
    assert refused(text) == [
        "第20行 XKJ-GQ-2026 examples："
        "至少要有一个应符合（expect: qualified）和一个不应符合（near 或 not）的示例企业"
    ]


def test_yaml_mistakes_duplicates_and_repeated_codes() -> None:
    assert refused("- code: [\n") == [
        "第2行 YAML：格式有误，无法读取（expected the node content, but found '<stream end>'）"
    ]
    assert refused(
        HIGH_TECH.replace("  issuer: 县科技局\n", "  issuer: 县科技局\n  title: 又一个标题\n")
    ) == ["第4行 键「title」：重复出现，请只保留一个"]
    assert refused(HIGH_TECH + HIGH_TECH) == ["第28行 XKJ-GQ-2026 code：与第1行的政策编码重复"]
    assert refused("just: text\n") == ["第1行 条件：应为政策的列表：每项以「- code: …」开头"]


def test_industry_codes_with_a_leading_zero_stay_codes() -> None:
    text = HIGH_TECH.replace(
        '{attr: industry, in_section: [C], clause: "第二条"}', "{attr: industry, in: [0511]}"
    )
    text = text.replace("industry: C3911, revenue_wan: 2500", "industry: A0511, revenue_wan: 2500")
    [spec] = read_catalog(text)
    assert spec.fields["conditions"][1] == {"attr": "industry", "in": ["A0511"]}  # not octal 329


def test_an_example_that_breaks_names_the_example_and_the_condition() -> None:
    [spec] = read_catalog(HIGH_TECH.replace("min: 2000万", "min: 3000万"))
    [problem] = check_specs([spec])
    assert str(problem) == (
        "第20行 XKJ-GQ-2026 examples第1个：示例「高企制造业大户」应为符合（qualified），"
        "实际为差一项（near）：营业收入须不低于3000万元（第四条）——不符合"
        "（贵企业：营业收入 2500万元（示例））"
    )
    [spec] = read_catalog(
        HIGH_TECH.replace("- {attr: certifications, has: 高新技术企业", "- {attr: size, in: [小型]")
    )
    problems = [str(p) for p in check_specs([spec])]
    assert len(problems) == 2  # a size nobody gave: unknown for every example, never assumed
    assert problems[1] == (
        "第23行 XKJ-GQ-2026 examples第2个：示例「营收未填的高企」应为差一项（near），实际为不符合（not）："
        "企业规模须为小型（第三条第一款）——待补充（贵企业：未登记（请补充））；"
        "营业收入须不低于2000万元（第四条）——待补充（贵企业：未登记（请补充））"
    )


def test_years_reaching_back_before_year_one_are_an_example_failure_not_a_crash() -> None:
    text = SMALL_FIRMS.replace("valid_from: 2026-03-01", "valid_from: 0100-03-01")
    text = text.replace("deadline: 2026-12-31", "deadline: 0100-12-31").replace(
        "years_at_least: 1,", "years_at_least: 200,"
    )
    [spec] = read_catalog(text)
    first, _ = (str(p) for p in check_specs([spec]))  # the examples are asked on valid_from, year 100
    assert first.startswith(
        "第18行 XGX-XW-2026 examples第1个：示例「两年的小厂」应为符合（qualified），实际为差一项"
    )
    assert "须成立满200年（第三条）——不符合" in first


def test_the_demo_catalog_reads_and_its_examples_pass() -> None:
    specs = read_catalog_file(DEMO)
    assert len(specs) >= 30
    assert {s.fields["level"] for s in specs} == {"国家", "省", "市", "县"}
    assert check_specs(specs) == []


# --- versions ----------------------------------------------------------------------------------------


def test_publishing_again_changes_nothing_and_a_change_is_a_new_version(
    session: Session, clock: FixedClock
) -> None:
    report = publish(session, read_catalog(HIGH_TECH + SMALL_FIRMS), now=clock.now(), source="a.yaml")
    assert (report.created, report.versioned, report.unchanged) == (2, 0, 0)
    assert report.summary() == "导入政策：新增2条，新版本0条，未变0条"
    again = publish(session, read_catalog(HIGH_TECH + SMALL_FIRMS), now=clock.now(), source="a.yaml")
    assert (again.created, again.versioned, again.unchanged) == (0, 0, 2)
    changed = HIGH_TECH.replace("amount_wan: 20", "amount_wan: 30")
    report = publish(session, read_catalog(changed), now=clock.advance(days=1), source="b.yaml")
    assert (report.created, report.versioned, report.unchanged) == (0, 1, 0)
    assert stored(session) == [("XKJ-GQ-2026", 1, False), ("XGX-XW-2026", 1, True), ("XKJ-GQ-2026", 2, True)]
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "policy.publish")))
    assert [e.data["version"] for e in events] == [1, 1, 2]
    assert events[-1].data == {"code": "XKJ-GQ-2026", "version": 2, "changed": ["amount_wan"]}
    assert [s.fields["amount_wan"] for s in stored_specs(session) if s.code == "XKJ-GQ-2026"] == [30]


def test_a_catalog_whose_examples_break_is_refused_whole(session: Session, clock: FixedClock) -> None:
    broken = HIGH_TECH.replace("min: 2000万", "min: 3000万")
    with pytest.raises(CatalogRefused) as exc:
        publish(session, read_catalog(SMALL_FIRMS + broken), now=clock.now(), source="c.yaml")
    assert exc.value.message.startswith("示例企业的结果与预期不符，未导入任何政策（共1处）：\n1. 第")
    assert stored(session) == []


def test_policies_in_force(session: Session, clock: FixedClock) -> None:
    publish(session, read_catalog(HIGH_TECH + SMALL_FIRMS), now=clock.now(), source="a.yaml")
    assert [p.code for p in policies_in_force(session, date(2026, 2, 1))] == ["XKJ-GQ-2026"]
    assert [p.code for p in policies_in_force(session, DAY)] == ["XKJ-GQ-2026", "XGX-XW-2026"]
    assert [p.code for p in policies_in_force(session, date(2027, 1, 1))] == ["XGX-XW-2026"]


# --- matching ----------------------------------------------------------------------------------------


def test_match_qualified_by_amount_then_near_with_reasons(session: Session, clock: FixedClock) -> None:
    publish(session, read_catalog(HIGH_TECH + SMALL_FIRMS), now=clock.now(), source="a.yaml")
    firm = builders.enterprise(session, "鑫源电子")
    for attr, raw in [("资质认定", "高企"), ("industry", "C3911"), ("营业收入", "2500万"), ("size", "小型"),
                      ("employees", "30"), ("established", "2020-03-01")]:  # fmt: skip
        set_value(session, firm, attr, raw, source=ProfileSource.ENTERPRISE, by=None, now=clock.now())
    results = match(session, firm.id, DAY)
    assert [(r.policy.code, r.outcome) for r in results] == [
        ("XKJ-GQ-2026", Outcome.QUALIFIED),  # 20万 before 5万
        ("XGX-XW-2026", Outcome.QUALIFIED),
    ]
    assert [c.condition.text for c in results[0].assessment.manual] == ["近三年无重大安全生产事故"]
    assert results[0].explanation()[0] == "【符合】高新技术企业认定奖励（县科技局 县科发〔2026〕3号，第1版）"
    assert results[0].inputs()["revenue_wan"]["value"] == 2500
    assert results[0].record()["outcome"] == "qualified"

    set_value(
        session, firm, "size", "中型", source=ProfileSource.OFFICIAL, by=None, now=clock.advance(hours=1)
    )
    later = match(session, firm.id, DAY)
    assert [(r.policy.code, r.outcome) for r in later] == [
        ("XKJ-GQ-2026", Outcome.QUALIFIED),
        ("XGX-XW-2026", Outcome.NEAR),
    ]
    assert later[1].assessment.failing[0].condition.requirement == "企业规模须为小型或微型（第二条）"
    assert later[1].missing == ()
    earlier = match(session, firm.id, DAY, as_of=clock.now() - timedelta(minutes=30))
    assert [r.outcome for r in earlier] == [Outcome.QUALIFIED, Outcome.QUALIFIED]  # the answer as it was then


def test_match_leaves_out_not_qualified_and_past_deadlines(session: Session, clock: FixedClock) -> None:
    publish(session, read_catalog(HIGH_TECH + SMALL_FIRMS), now=clock.now(), source="a.yaml")
    firm = builders.enterprise(session, "空白企业")
    near = match(session, firm.id, DAY)
    assert near == []  # nothing known: each policy has two or more unknowns
    everything = match(session, firm.id, DAY, everything=True)
    assert [(r.policy.code, r.outcome) for r in everything] == [
        ("XKJ-GQ-2026", Outcome.NOT),
        ("XGX-XW-2026", Outcome.NOT),
    ]
    assert everything[0].missing == ("certifications", "industry", "revenue_wan")
    assert [r.policy.code for r in match(session, firm.id, date(2026, 12, 31), everything=True)] == [
        "XKJ-GQ-2026",
        "XGX-XW-2026",
    ]


def _random_profile(rng: random.Random) -> dict[str, object]:
    division = f"{rng.randint(1, 97):02d}"
    values = {
        "industry": rng.choice(
            [SECTION_OF[division], SECTION_OF[division] + division, f"C39{rng.randint(1, 9)}"]
        ),
        "size": rng.choice(["大型", "中型", "小型", "微型"]),
        "certifications": rng.sample(list(CERTIFICATIONS), rng.randint(0, 2)),
        "established": f"{rng.randint(2015, 2026)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "employees": rng.randint(0, 50),
        "revenue_wan": rng.choice([100, 1999.5, 2000, 2500]),
        "export": rng.random() < 0.5,
    }
    return {k: v for k, v in values.items() if rng.random() < 0.8}


POLICIES = [
    [{"attr": "certifications", "has": "高新技术企业"}, {"attr": "industry", "in": ["C39", "C40"]}],
    [{"attr": "size", "in": ["小型", "微型"]}, {"attr": "employees", "min": 10}, {"manual": "信用良好"}],
    [{"attr": "above_scale", "is": True}, {"attr": "established", "years_at_least": 3}],
    [{"any": [{"attr": "export", "is": True}, {"attr": "industry", "in_section": ["C"]}]}],
    [{"attr": "revenue_wan", "min": 2000}, {"attr": "certifications", "lacks": "瞪羚企业"},
     {"attr": "employees", "below": 40}],
]  # fmt: skip


def test_match_many_agrees_with_the_one_by_one_evaluation() -> None:
    rng = random.Random(4754)
    profiles = {n: _random_profile(rng) for n in range(500)}
    rules = [Rules(f"P{i}", conditions(*specs)) for i, specs in enumerate(POLICIES)]
    found = match_many(profiles, rules, DAY)
    for rule in rules:
        expected = {n: evaluate(rule.conditions, with_derived(p), DAY).outcome for n, p in profiles.items()}
        assert found[rule.key].qualified == [n for n, o in expected.items() if o == Outcome.QUALIFIED]
        assert found[rule.key].near == [n for n, o in expected.items() if o == Outcome.NEAR]
    assert all(found[r.key].qualified for r in rules)  # the cases are not vacuous


def test_match_many_on_stored_policies(session: Session, clock: FixedClock) -> None:
    publish(session, read_catalog(HIGH_TECH + SMALL_FIRMS), now=clock.now(), source="a.yaml")
    rules = [rules_of(p) for p in policies_in_force(session, DAY)]
    found = match_many({"a": {"size": "小型", "employees": 12, "established": "2020-01-01"}}, rules, DAY)
    assert [(m.qualified, m.near) for m in found.values()] == [([], []), (["a"], [])]


def test_rough_timing_of_10000_enterprises_by_500_policies() -> None:
    """Printed, not asserted (the benchmark proper lives in bench/)."""
    rng = random.Random(2017)
    profiles = {n: _random_profile(rng) for n in range(10_000)}
    rules = []
    for i in range(500):
        specs = [dict(s) for s in rng.choice(POLICIES)]
        specs.append({"attr": "revenue_wan", "min": rng.randint(1, 5000)})  # ~450 distinct conditions
        rules.append(Rules(i, conditions(*specs)))
    start = time.perf_counter()
    match_many(profiles, rules, DAY)
    print(f"\nmatch_many 10,000 enterprises × 500 policies: {time.perf_counter() - start:.2f} s")


def test_an_exported_catalog_imports_back_unchanged(session: Session, clock: FixedClock) -> None:
    from handlers.policies.catalog import export_catalog, publish
    from handlers.policies.catalog_reading import read_catalog

    demo = (Path(__file__).parents[2] / "bot" / "demo" / "policies.yaml").read_text(encoding="utf-8")
    first = publish(session, read_catalog(demo), now=clock.now(), actor=None, source="demo")
    again = publish(
        session, read_catalog(export_catalog(session)), now=clock.now(), actor=None, source="export"
    )
    assert (first.created, again.created, again.versioned, again.unchanged) == (34, 0, 0, 34)
