"""A small policy file, written as an official would, and helpers the policy tests share."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.policies.attributes import ATTRIBUTES, Fact
from handlers.policies.condition_reading import Problem, Where, read_conditions
from handlers.policies.conditions import Condition

DAY = date(2026, 11, 24)  # the conftest clock's day in Beijing

HIGH_TECH = """\
- code: XKJ-GQ-2026
  title: 高新技术企业认定奖励
  issuer: 县科技局
  doc_number: 县科发〔2026〕3号
  level: 县
  valid_from: 2026-01-01
  valid_to: 2026-12-31
  benefit: 首次认定的高新技术企业一次性奖励20万元
  amount_wan: 20
  mode: 免申即享
  how_to: 无需申请，认定后由县科技局直接拨付
  contact: 县科技局高新科 0530-1234567
  link: https://example.gov.cn/xkj/gq-2026
  conditions:
    - {attr: certifications, has: 高新技术企业, clause: "第三条第一款"}
    - {attr: industry, in_section: [C], clause: "第二条"}
    - {attr: revenue_wan, min: 2000万, clause: "第四条"}
    - {manual: "近三年无重大安全生产事故", clause: "第五条"}
  examples:
    - name: 高企制造业大户
      profile: {certifications: 高新技术企业, industry: C3911, revenue_wan: 2500}
      expect: qualified
    - name: 营收未填的高企
      profile: {certifications: 高企, industry: C3911}
      expect: near
    - name: 一无所知的企业
      expect: not
"""

SMALL_FIRMS = """\
- code: XGX-XW-2026
  title: 小微企业稳岗补贴
  issuer: 县人社局
  doc_number: 县人社发〔2026〕8号
  level: 县
  valid_from: 2026-03-01
  benefit: 按参保职工人数每人500元
  amount_wan: 5
  mode: 即申即享
  how_to: 在县政务服务网「稳岗补贴」栏目申请，当场审核
  deadline: 2026-12-31
  contact: 县人社局就业股 0530-7654321
  conditions:
    - {attr: size, in: [小型, 微型], clause: "第二条"}
    - {attr: employees, min: 10, clause: "第三条"}
    - {attr: established, years_at_least: 1, clause: "第三条"}
  examples:
    - name: 两年的小厂
      profile: {size: 小型, employees: 30, established: 2024-05-01}
      expect: qualified
    - name: 大厂
      profile: {size: 大型, employees: 3000, established: 2001-05-01}
      expect: near
"""


def conditions(*specs: dict[str, Any]) -> tuple[Condition, ...]:
    """Specs compiled; the test fails on any problem."""
    problems: list[Problem] = []
    found = read_conditions(list(specs), Where(), problems)
    assert not problems, problems
    return found


def facts(**values: Any) -> dict[str, Fact]:
    """Facts as an enterprise gave them (values already normalised)."""
    return {
        key: Fact(ATTRIBUTES[key].parse(v) if isinstance(v, str) else v, "企业自报")
        for key, v in values.items()
    }
