"""Policy conditions compiled into small tests, and evaluated for one profile on one day.

Each condition is evaluated for a profile and the date of asking to MET, NOT_MET, UNKNOWN — the
value was not given, or is too coarse to tell, and is never assumed — or MANUAL (需人工核实). A
policy is QUALIFIED when no condition is unmet or unknown, NEAR when exactly one is, NOT otherwise.
Conditions are read from YAML in condition_reading and put in plain Chinese in explain.

The tests are closures over plain values (`{"revenue_wan": 1800, …}`) returning an int of the
Verdict lattice (NOT_MET < UNKNOWN < MANUAL < MET): `all` is the least, `any` the greatest.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum, StrEnum
from typing import Any

from handlers.policies.attributes import Attribute, Kind


class Verdict(IntEnum):
    """One condition for one enterprise on one day; the order is the lattice `any`/`all` use."""

    NOT_MET = 0
    UNKNOWN = 1
    MANUAL = 2
    MET = 3

    @property
    def label(self) -> str:
        return ("不符合", "待补充", "需人工核实", "符合")[self.value]


NOT_MET, UNKNOWN, MANUAL, MET = (int(v) for v in Verdict)


class Outcome(StrEnum):
    """A policy for one enterprise: every condition met (manual ones to check), one short, or more."""

    QUALIFIED = "qualified"
    NEAR = "near"
    NOT = "not"

    @property
    def label(self) -> str:
        return {"qualified": "符合", "near": "差一项", "not": "不符合"}[self.value]


Test = Callable[[Mapping[str, Any]], int]
Binder = Callable[[date], Test]  # the test for a day of asking (years since establishment)

BOUNDS = {"min": operator.ge, "max": operator.le, "above": operator.gt, "below": operator.lt}
YEARS = ("years_at_least", "years_at_most")
ORDERED = (*BOUNDS, *YEARS)  # the operators that may be combined in one condition


# --- compiled conditions ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Condition:
    """One requirement, compiled: its normalised spec, its text and clause, what it reads, its test."""

    spec: dict[str, Any]  # JSON, as stored in Policy.conditions; reading it again gives the same
    text: str  # 须为高新技术企业
    clause: str | None
    attrs: tuple[str, ...]  # the attributes it reads (a group: its children's)
    bind: Binder
    children: tuple[Condition, ...] = ()
    key: str = field(default="")  # the spec without its notes: equal keys test the same

    @property
    def requirement(self) -> str:
        """「须为高新技术企业（第三条第一款）」."""
        return f"{self.text}（{self.clause}）" if self.clause else self.text

    @property
    def manual(self) -> bool:
        return "manual" in self.spec

    def on(self, day: date) -> str:
        """The requirement with the date it is counted from, for years since establishment."""
        years = [(op, self.spec[op]) for op in YEARS if op in self.spec]
        if not years:
            return self.requirement
        bounds = "、".join(
            f"{'不晚于' if op == YEARS[0] else '不早于'}{years_before(day, n)}" for op, n in years
        )
        clause = f"{self.clause}；" if self.clause else ""
        return f"{self.text}（{clause}按{day.isoformat()}计，即成立日期{bounds}）"


# --- the tests ----------------------------------------------------------------------------------------


def leaf_test(attribute: Attribute, operands: dict[str, Any]) -> Binder:
    """The test of a leaf: `attribute` compared by its operands (as condition_reading normalised them)."""
    key, kind = attribute.key, attribute.kind
    if any(op in ORDERED for op in operands):
        return _ordered(key, operands)
    op, operand = next(iter(operands.items()))
    if kind == Kind.INDUSTRY:
        return _fixed(_industry_test(key, tuple(operand), inside=op != "not_in"))
    if kind == Kind.SET:
        wanted = operand if op == "has_any" else [operand]
        return _fixed(_holds(key, frozenset(wanted), op))
    if kind == Kind.FLAG:
        return _fixed(_one_of(key, frozenset([operand]), inside=True))
    return _fixed(_one_of(key, frozenset(operand), inside=op != "not_in"))


def manual_test(day: date) -> Test:
    """The test of a check for a person: always MANUAL."""
    return _always_manual


def _always_manual(values: Mapping[str, Any]) -> int:
    return MANUAL


def _fixed(test: Test) -> Binder:
    return lambda day: test


def _one_of(key: str, accepted: frozenset[Any], *, inside: bool) -> Test:
    yes, no = (MET, NOT_MET) if inside else (NOT_MET, MET)

    def test(values: Mapping[str, Any]) -> int:
        value = values.get(key)
        return UNKNOWN if value is None else yes if value in accepted else no

    return test


def _industry_test(key: str, codes: tuple[str, ...], *, inside: bool) -> Test:
    """A code under one of `codes` is in; one that is a coarser prefix of some (C for C39) cannot tell."""
    coarser = frozenset(c[:n] for c in codes for n in range(1, len(c)))
    yes, no = (MET, NOT_MET) if inside else (NOT_MET, MET)

    def test(values: Mapping[str, Any]) -> int:
        value = values.get(key)
        if value is None or value in coarser:
            return UNKNOWN
        return yes if value.startswith(codes) else no

    return test


def _holds(key: str, wanted: frozenset[str], op: str) -> Test:
    lacks = op == "lacks"

    def test(values: Mapping[str, Any]) -> int:
        held = values.get(key)
        if held is None:
            return UNKNOWN
        return MET if wanted.isdisjoint(held) == lacks else NOT_MET

    return test


def _ordered(key: str, operands: dict[str, Any]) -> Binder:
    fixed = [(BOUNDS[op], v) for op, v in operands.items() if op in BOUNDS]
    if not any(op in YEARS for op in operands):
        test = _bounded(key, fixed)
        return lambda day: test

    def bind(day: date) -> Test:
        years = [
            (operator.le if op == YEARS[0] else operator.ge, years_before(day, n))
            for op, n in operands.items()
            if op in YEARS
        ]
        return _bounded(key, fixed + years)

    return bind


def _bounded(key: str, bounds: list[tuple[Callable[[Any, Any], bool], Any]]) -> Test:
    if len(bounds) == 1:
        ((compare, limit),) = bounds

        def one(values: Mapping[str, Any]) -> int:
            value = values.get(key)
            return UNKNOWN if value is None else MET if compare(value, limit) else NOT_MET

        return one

    def every(values: Mapping[str, Any]) -> int:
        value = values.get(key)
        if value is None:
            return UNKNOWN
        return MET if all(compare(value, limit) for compare, limit in bounds) else NOT_MET

    return every


def years_before(day: date, years: int) -> str:
    """The ISO date `years` before `day` (29 February → 28 February; before year 1 → 0001-01-01)."""
    if day.year - years < date.min.year:  # a policy valid from 0100-03-01 (a typo) asking 200 years
        return date.min.isoformat()
    try:
        return day.replace(year=day.year - years).isoformat()
    except ValueError:
        return day.replace(year=day.year - years, day=28).isoformat()


def any_of(children: tuple[Condition, ...]) -> Binder:
    """The test of `{any: [...]}`: the greatest of its children's verdicts."""

    def bind(day: date) -> Test:
        tests = [c.bind(day) for c in children]

        def test(values: Mapping[str, Any]) -> int:
            best = NOT_MET
            for child in tests:
                verdict = child(values)
                if verdict == MET:
                    return MET
                best = max(best, verdict)
            return best

        return test

    return bind


def all_of(children: tuple[Condition, ...]) -> Binder:
    """The test of `{all: [...]}`: the least of its children's verdicts."""

    def bind(day: date) -> Test:
        tests = [c.bind(day) for c in children]
        return lambda values: min(child(values) for child in tests)

    return bind


# --- evaluating -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One condition evaluated: its verdict, and its children's for a group."""

    condition: Condition
    verdict: Verdict
    children: tuple[Check, ...] = ()

    @property
    def missing(self) -> tuple[str, ...]:
        """The attributes to ask for: those of the unknown leaves under an unknown check."""
        if self.verdict != Verdict.UNKNOWN:
            return ()
        if not self.children:
            return self.condition.attrs
        return tuple(dict.fromkeys(a for c in self.children for a in c.missing))


@dataclass(frozen=True)
class Assessment:
    """A list of conditions evaluated for one profile on one day, and the outcome."""

    outcome: Outcome
    checks: tuple[Check, ...]
    day: date

    @property
    def failing(self) -> tuple[Check, ...]:
        """The checks not met or unknown (one for NEAR)."""
        return tuple(c for c in self.checks if c.verdict in (Verdict.NOT_MET, Verdict.UNKNOWN))

    @property
    def manual(self) -> tuple[Check, ...]:
        """The checks a person must make (需人工核实)."""
        return tuple(c for c in self.checks if c.verdict == Verdict.MANUAL)

    @property
    def missing(self) -> tuple[str, ...]:
        """The attributes whose values would settle the unknown checks, each once."""
        return tuple(dict.fromkeys(a for c in self.checks for a in c.missing))


def evaluate(conditions: Sequence[Condition], values: Mapping[str, Any], day: date) -> Assessment:
    """Each condition's verdict for these plain values on `day`, and the policy's outcome."""
    checks = tuple(check(c, values, day) for c in conditions)
    return Assessment(outcome_of(c.verdict for c in checks), checks, day)


def check(condition: Condition, values: Mapping[str, Any], day: date) -> Check:
    """One condition evaluated (a group's children too, for the explanation)."""
    children = tuple(check(c, values, day) for c in condition.children)
    return Check(condition, Verdict(condition.bind(day)(values)), children)


def outcome_of(verdicts: Iterable[int]) -> Outcome:
    """QUALIFIED with no unmet or unknown condition, NEAR with exactly one, NOT otherwise."""
    short = sum(1 for v in verdicts if v <= UNKNOWN)
    return (Outcome.QUALIFIED, Outcome.NEAR)[short] if short < 2 else Outcome.NOT
