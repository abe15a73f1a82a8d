"""Policy conditions as data an official writes and reads (YAML), read with every problem and its line.

A condition names a profile attribute and how it is compared (`{attr: revenue_wan, min: 2000,
clause: 第四条}`), or is a check for a person (`{manual: 近三年无重大安全生产事故}`), or a group
(`{any: [...]}` at least one of, `{all: [...]}` every one of). Each is checked against its
attribute's kind, its operands normalised, then compiled (conditions) with its text (explain).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from bot.errors import Invalid
from handlers.policies.attributes import (
    ATTRIBUTES,
    SECTIONS,
    Attribute,
    Kind,
    find_attribute,
    names_text,
    quoted,
)
from handlers.policies.conditions import (
    BOUNDS,
    ORDERED,
    YEARS,
    Binder,
    Condition,
    all_of,
    any_of,
    leaf_test,
    manual_test,
)
from handlers.policies.explain import requirement_text

OPERATORS: dict[Kind, tuple[str, ...]] = {
    Kind.INDUSTRY: ("in", "not_in", "in_section"),
    Kind.CHOICE: ("in", "not_in"),
    Kind.TEXT: ("in", "not_in"),
    Kind.FLAG: ("is",),
    Kind.SET: ("has", "has_any", "lacks"),
    Kind.DATE: ("min", "max", *YEARS),
    Kind.COUNT: tuple(BOUNDS),
    Kind.AMOUNT: tuple(BOUNDS),
}
ALL_OPERATORS = tuple(dict.fromkeys(op for ops in OPERATORS.values() for op in ops))
GROUPS = {"any": "须满足以下条件之一", "all": "须同时满足以下条件"}
NOTES = ("clause", "text")
MAX_CONDITIONS = 50  # per list; the fast matcher counts failures in one byte
MAX_YEARS = 200  # years since establishment: more is a typo (20260), and no calendar reaches back so far


# --- where a problem is -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One problem in a file: the line (when known), where in the policy, and what is wrong."""

    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        return f"{f'第{self.line}行 ' if self.line else ''}{self.field}：{self.message}"


@dataclass(frozen=True)
class Where:
    """A place in the data being read: its YAML node (for the line, if read from a file) and a path."""

    node: yaml.Node | None = None
    path: str = ""

    @property
    def line(self) -> int | None:
        return self.node.start_mark.line + 1 if self.node is not None else None

    def key(self, name: str) -> Where:
        """The value under `name` (the mapping itself when absent, for the line)."""
        child = self.node
        if isinstance(self.node, yaml.MappingNode):
            child = next((v for k, v in self.node.value if getattr(k, "value", None) == name), self.node)
        return Where(child, f"{self.path} {name}".strip())

    def item(self, index: int, label: str) -> Where:
        """The index-th item of a list, named `label` in messages."""
        child = self.node
        if isinstance(self.node, yaml.SequenceNode) and index < len(self.node.value):
            child = self.node.value[index]
        return Where(child, f"{self.path}{label}")

    def problem(self, message: str) -> Problem:
        return Problem(self.line, self.path or "条件", message)


class _Bad(Exception):
    """One operand's problem; the caller knows where."""


def _condition(
    spec: dict[str, Any], text: str, attrs: tuple[str, ...], bind: Binder, *children: Condition
) -> Condition:
    notes = {k: spec[k] for k in NOTES if k in spec}
    core = {k: v for k, v in spec.items() if k not in NOTES}
    key = json.dumps(core, ensure_ascii=False, sort_keys=True)
    return Condition(
        {**core, **notes}, notes.get("text", text), notes.get("clause"), attrs, bind, children, key
    )


# --- reading ----------------------------------------------------------------------------------------


def read_conditions(data: Any, where: Where, problems: list[Problem]) -> tuple[Condition, ...]:
    """Every condition of a list, with every problem appended; () when some could not be read."""
    if not isinstance(data, list) or not data:
        problems.append(where.problem("应为条件的列表（至少一条），如 - {attr: size, in: [小型, 微型]}"))
        return ()
    if len(data) > MAX_CONDITIONS:
        problems.append(where.problem(f"条件不能超过{MAX_CONDITIONS}条"))
        return ()
    found = [read_condition(item, where.item(i, f"第{i + 1}条"), problems) for i, item in enumerate(data)]
    return tuple(c for c in found if c is not None) if None not in found else ()


def compile_conditions(specs: Sequence[Mapping[str, Any]]) -> tuple[Condition, ...]:
    """Stored (already validated) specs compiled again; Invalid if they no longer read."""
    problems: list[Problem] = []
    conditions = read_conditions(list(specs), Where(path="conditions"), problems)
    if problems:
        raise Invalid("；".join(str(p) for p in problems))
    return conditions


def read_condition(item: Any, where: Where, problems: list[Problem]) -> Condition | None:
    """One condition (leaf, manual or group), or None with the problems appended."""
    if not isinstance(item, Mapping):
        problems.append(where.problem("应为「键: 值」的映射，如 {attr: certifications, has: 高新技术企业}"))
        return None
    before = len(problems)
    notes = _notes(item, where, problems)
    if "manual" in item:
        found = _manual(item, where, problems)
    elif any(g in item for g in GROUPS):
        found = _group(item, where, problems)
    elif "attr" in item:
        found = _leaf(item, where, problems)
    else:
        problems.append(
            where.problem("缺少 attr（企业信息项）、manual（需人工核实的条件）或 any（满足其一）")
        )
        return None
    if found is None or len(problems) > before:
        return None
    spec, text, attrs, bind, children = found
    return _condition({**spec, **notes}, text, attrs, bind, *children)


Parsed = tuple[dict[str, Any], str, tuple[str, ...], Binder, tuple[Condition, ...]]


def _notes(item: Mapping[str, Any], where: Where, problems: list[Problem]) -> dict[str, str]:
    notes = {}
    for key in NOTES:
        value = item.get(key)
        if value is not None and (
            not isinstance(value, str | int) or isinstance(value, bool) or not str(value)
        ):
            problems.append(where.key(key).problem(f"应为文字，如 第三条第一款，现为「{value}」"))
        elif value is not None:
            notes[key] = str(value).strip()
    return notes


def _unknown_keys(
    item: Mapping[str, Any], allowed: Iterable[str], where: Where, problems: list[Problem]
) -> None:
    allowed = (*allowed, *NOTES)
    unknown = [str(k) for k in item if k not in allowed]
    if unknown:
        problems.append(where.problem(f"未知的键{quoted(unknown)}（这里可用：{'、'.join(allowed)}）"))


def _manual(item: Mapping[str, Any], where: Where, problems: list[Problem]) -> Parsed | None:
    _unknown_keys(item, ("manual",), where, problems)
    text = item["manual"]
    if not isinstance(text, str) or not text.strip():
        problems.append(where.key("manual").problem("应写明需人工核实的内容，如 近三年无重大安全生产事故"))
        return None
    return {"manual": text.strip()}, text.strip(), (), manual_test, ()


def _group(item: Mapping[str, Any], where: Where, problems: list[Problem]) -> Parsed | None:
    kinds = [g for g in GROUPS if g in item]
    _unknown_keys(item, kinds[:1], where, problems)
    kind = kinds[0]
    children = read_conditions(item[kind], where.key(kind), problems)
    if not children:
        return None
    attrs = tuple(dict.fromkeys(a for c in children for a in c.attrs))
    bind = any_of if kind == "any" else all_of
    return {kind: [c.spec for c in children]}, GROUPS[kind], attrs, bind(children), children


def _leaf(item: Mapping[str, Any], where: Where, problems: list[Problem]) -> Parsed | None:
    attribute = find_attribute(item["attr"])
    if attribute is None:
        problems.append(where.key("attr").problem(_unknown_attribute(item["attr"])))
        return None
    ops = [k for k in item if k in ALL_OPERATORS]
    allowed = "、".join(OPERATORS[attribute.kind])
    unknown = [str(k) for k in item if k not in ("attr", *ALL_OPERATORS, *NOTES)]
    if unknown:
        problems.append(
            where.problem(f"未知的键{quoted(unknown)}（这里可用：attr、{allowed}、clause、text）")
        )
    if not ops:
        problems.append(where.problem(f"缺少比较方式（{attribute.key} 可用：{allowed}）"))
        return None
    wrong = [op for op in ops if op not in OPERATORS[attribute.kind]]
    if wrong:
        label = f"{attribute.key}（{attribute.label}）"
        problems.append(where.problem(f"{label}不能用{quoted(wrong)}比较（可用：{allowed}）"))
        return None
    if len([op for op in ops if op not in ORDERED]) > 1:
        problems.append(where.problem(f"一个条件只能有一种比较方式，现有{quoted(ops)}：请分成几个条件"))
        return None
    operands = _operands(attribute, item, ops, where, problems)
    if operands is None:
        return None
    spec = {"attr": attribute.key, **operands}
    return spec, requirement_text(attribute, operands), (attribute.key,), leaf_test(attribute, operands), ()


def _unknown_attribute(name: Any) -> str:
    close = difflib.get_close_matches(str(name), [*ATTRIBUTES, *(a.label for a in ATTRIBUTES.values())], n=1)
    hint = f"，是不是「{close[0]}」？" if close else ""
    return f"未知的企业信息项「{name}」{hint}（可用：{names_text()}）"


def _operands(
    attribute: Attribute, item: Mapping[str, Any], ops: list[str], where: Where, problems: list[Problem]
) -> dict[str, Any] | None:
    operands = {}
    for op in ops:
        try:
            operands[op] = _operand(attribute, op, item[op])
        except (_Bad, Invalid) as exc:
            message = exc.message if isinstance(exc, Invalid) else str(exc)
            problems.append(where.key(op).problem(message))
    return operands if len(operands) == len(ops) else None


def _operand(attribute: Attribute, op: str, value: Any) -> Any:
    """An operand normalised by the attribute's own reader (so 2000万 and 0.2亿 are the same)."""
    if op in YEARS:
        if isinstance(value, bool) or not str(value).isdecimal():
            raise _Bad(f"「{value}」应为整数年数，如 1、3")
        try:
            years = int(value)
        except ValueError:  # more digits than int() reads
            years = MAX_YEARS + 1
        if not 0 <= years <= MAX_YEARS:
            raise _Bad(f"「{_shown(value)}」超出范围：年数应在0到{MAX_YEARS}之间")
        return years
    if op in ("in", "not_in", "in_section", "has_any"):
        items = value if isinstance(value, list) else [value]
        if not items or any(isinstance(v, list | dict) or v is None for v in items):
            raise _Bad(f"应为一个或几个值，如 [{_example(attribute)}]")
        if op == "in_section":
            return _sections(items)
        return list(dict.fromkeys(_one(attribute, v) for v in items))
    if isinstance(value, list | dict) or value is None:
        raise _Bad(f"应为一个值，如 {_example(attribute)}")
    return _one(attribute, value)


def _one(attribute: Attribute, value: Any) -> Any:
    parsed = attribute.parse(value)
    if attribute.kind == Kind.SET:
        if len(parsed) != 1:
            raise _Bad(f"「{value}」应为一项认定")
        return parsed[0]
    return parsed


def _sections(items: list[Any]) -> list[str]:
    letters = [str(v).strip().upper() for v in items]
    bad = [v for v, letter in zip(items, letters, strict=True) if letter not in SECTIONS]
    if bad:
        raise _Bad(f"{quoted(bad)}不是行业门类（A–T，如 C 制造业）")
    return list(dict.fromkeys(letters))


def _shown(value: Any, limit: int = 20) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _example(attribute: Attribute) -> str:
    return {
        Kind.INDUSTRY: "C39", Kind.CHOICE: "小型", Kind.TEXT: "经济开发区", Kind.FLAG: "true",
        Kind.SET: "高新技术企业", Kind.DATE: "2020-01-01", Kind.COUNT: "10", Kind.AMOUNT: "2000",
    }[attribute.kind]  # fmt: skip
