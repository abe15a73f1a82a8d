"""Conditions in plain Chinese: the requirement a leaf states, and an assessment explained line by line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from handlers.policies.attributes import ATTRIBUTES, Attribute, Fact, Kind, industry_name
from handlers.policies.conditions import ORDERED, Assessment, Check, Verdict

_FLAG_TEXT = {
    "above_scale": ("须为规模以上企业", "须为规模以下企业"),
    "export": ("须有出口业务", "须无出口业务"),
}
_BOUND_WORDS = {"min": "不低于", "max": "不高于", "above": "高于", "below": "低于"}
_DATE_WORDS = {"min": "不早于", "max": "不晚于"}


# --- the requirement --------------------------------------------------------------------------------


def requirement_text(attribute: Attribute, operands: dict[str, Any]) -> str:
    """A leaf's requirement in words, 「营业收入须不低于2000万元」, from its normalised operands."""
    if any(op in ORDERED for op in operands):
        return _ordered_text(attribute, operands)
    op, operand = next(iter(operands.items()))
    if attribute.kind == Kind.INDUSTRY:
        verb = "不得属于" if op == "not_in" else "须属于"
        return f"{attribute.label}{verb}{either([industry_name(c) for c in operand])}"
    if attribute.kind == Kind.SET:
        wanted = operand if op == "has_any" else [operand]
        words = {"has": "须为", "has_any": "须为", "lacks": "须尚未认定为"}[op]
        return f"{words}{either(wanted)}"
    if attribute.kind == Kind.FLAG:
        label = attribute.label
        yes, no = _FLAG_TEXT.get(attribute.key, (f"{label}须为「是」", f"{label}须为「否」"))
        return yes if operand else no
    verb = "不得为" if op == "not_in" else "须为"
    return f"{attribute.label}{verb}{either(operand)}"


def _ordered_text(attribute: Attribute, operands: dict[str, Any]) -> str:
    parts = []
    for op, value in operands.items():
        if op == "years_at_least":
            parts.append(f"须成立满{value}年")
        elif op == "years_at_most":
            parts.append(f"成立须不超过{value}年")
        elif attribute.kind == Kind.DATE:
            parts.append(f"{attribute.label}须{_DATE_WORDS[op]}{value}")
        else:
            parts.append(f"{attribute.label}须{_BOUND_WORDS[op]}{attribute.show(value)}")
    return "，且".join(parts)


def either(items: Sequence[Any]) -> str:
    """「A」, 「A或B」, 「A、B或C」."""
    words = [str(i) for i in items]
    return words[0] if len(words) == 1 else "、".join(words[:-1]) + "或" + words[-1]


# --- explaining an assessment -----------------------------------------------------------------------


def explain(assessment: Assessment, facts: Mapping[str, Fact]) -> list[str]:
    """Each condition in plain Chinese: the requirement, the enterprise's value and source, the verdict."""
    lines = []
    for n, item in enumerate(assessment.checks, start=1):
        lines.extend(_explain(item, facts, assessment.day, f"{n}. ", "   "))
    return lines


def _explain(item: Check, facts: Mapping[str, Fact], day: date, head: str, indent: str) -> list[str]:
    lines = [f"{head}{item.condition.on(day)}——{item.verdict.label}"]
    if item.children:
        for n, child in enumerate(item.children, start=1):
            lines.extend(_explain(child, facts, day, f"{indent}({n}) ", indent + "    "))
    else:
        lines.append(f"{indent}{value_line(item, facts)}")
    return lines


def value_line(item: Check, facts: Mapping[str, Fact]) -> str:
    """「贵企业：营业收入 1800万元（企业自报，2026-11-02）」, 「贵企业：未登记（请补充）」 or a note."""
    if item.condition.manual:
        return "贵企业：此项由工作人员人工核实"
    key = item.condition.attrs[0]
    fact = facts.get(key)
    if fact is None or fact.value is None:
        return "贵企业：未登记（请补充）"
    attribute = ATTRIBUTES[key]
    line = f"贵企业：{attribute.label} {attribute.show(fact.value)}（{fact.provenance()}）"
    if item.verdict == Verdict.UNKNOWN:
        line += "——行业代码不够具体，请补充到大类或更细（如 C39）"
    return line
