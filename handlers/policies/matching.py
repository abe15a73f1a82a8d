"""Matching: which policies in force an enterprise qualifies for, one with reasons or many at once.

match() answers one enterprise on one day with reasons; match_many() is the pure bulk path (the
免申即享 push, the benchmark): each distinct condition is evaluated once over all profiles into
one byte per enterprise, and a policy's shortfalls are those bytes added up as one big integer.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from handlers.policies.attributes import ATTRIBUTES, Fact, with_derived
from handlers.policies.condition_reading import compile_conditions
from handlers.policies.conditions import Assessment, Condition, Outcome, evaluate
from handlers.policies.explain import explain
from handlers.policies.models import Policy
from handlers.policies.profile import Profile, end_of_day, plain, profile_of


def policies_in_force(session: Session, day: date) -> list[Policy]:
    """The current version of every policy valid on `day`."""
    query = select(Policy).where(
        Policy.current, Policy.valid_from <= day, or_(Policy.valid_to.is_(None), Policy.valid_to >= day)
    )
    return list(session.scalars(query.order_by(Policy.id)))


@dataclass(frozen=True)
class Result:
    """One policy for one enterprise on one day: the outcome, each condition's verdict, the facts used."""

    policy: Policy
    assessment: Assessment
    facts: Profile

    @property
    def outcome(self) -> Outcome:
        return self.assessment.outcome

    @property
    def missing(self) -> tuple[str, ...]:
        """The attributes to ask for (their questions: attributes.questions)."""
        return self.assessment.missing

    def explanation(self) -> list[str]:
        """The full reasoning in plain Chinese: the policy, then each condition, value, source and verdict."""
        p = self.policy
        head = f"【{self.outcome.label}】{p.title}（{p.issuer} {p.doc_number}，第{p.version}版）"
        return [head, *explain(self.assessment, self.facts)]

    def inputs(self) -> dict[str, Any]:
        """The facts the conditions read, for the audit (PolicyAnswer.results, PolicyPush.inputs)."""
        read = {a for item in self.assessment.checks for a in item.condition.attrs}
        return {key: _fact_json(self.facts.get(key)) for key in ATTRIBUTES if key in read}

    def record(self) -> dict[str, Any]:
        """One entry of PolicyAnswer.results."""
        return {"policy_id": self.policy.id, "version": self.policy.version, "outcome": self.outcome.value,
                "inputs": self.inputs()}  # fmt: skip


def _fact_json(fact: Fact | None) -> dict[str, Any] | None:
    if fact is None:
        return None
    given = fact.given_at.isoformat() if fact.given_at else None
    return {"value": fact.value, "source": fact.source, "given_at": given, "given_by": fact.given_by,
            "derived_from": fact.derived_from}  # fmt: skip


def match(
    session: Session,
    enterprise_id: int,
    day: date,
    *,
    as_of: datetime | None = None,
    everything: bool = False,
) -> list[Result]:
    """The policies in force on `day` an enterprise qualifies for (largest amount first), then near ones.

    Values given up to `as_of` count (default: the end of `day`); a policy past its deadline is left
    out; `everything` adds the policies not qualified for, last.
    """
    facts = profile_of(session, enterprise_id, as_of or end_of_day(day))
    values = plain(facts)
    results = [
        Result(p, evaluate(compile_conditions(p.conditions), values, day), facts)
        for p in policies_in_force(session, day)
        if p.deadline is None or p.deadline >= day
    ]
    kept = [r for r in results if everything or r.outcome != Outcome.NOT]
    return sorted(kept, key=_order)


_RANK = {Outcome.QUALIFIED: 0, Outcome.NEAR: 1, Outcome.NOT: 2}


def _order(result: Result) -> tuple[int, float, int]:
    amount = result.policy.amount_wan
    return _RANK[result.outcome], -(amount if amount is not None else -1.0), result.policy.id


@dataclass(frozen=True)
class Rules:
    """A policy's conditions compiled once, for matching many enterprises (key: Policy.id or code)."""

    key: Hashable
    conditions: tuple[Condition, ...]


def rules_of(policy: Policy) -> Rules:
    """A stored policy's compiled conditions, keyed by its id."""
    return Rules(policy.id, compile_conditions(policy.conditions))


@dataclass
class Matches:
    """The enterprises (keys as given) that qualify for one policy, and those one condition short."""

    qualified: list[Hashable] = field(default_factory=list)
    near: list[Hashable] = field(default_factory=list)


_SHORT = bytes([1, 1, 0, 0]) + bytes(252)  # verdict → 1 if NOT_MET or UNKNOWN


def match_many(
    profiles: Mapping[Hashable, Mapping[str, Any]], policies: Sequence[Rules], day: date
) -> dict[Hashable, Matches]:
    """For each policy, the enterprises qualifying and near; pure (plain values in, 规上 derived here).

    Each distinct condition runs once over all profiles into one byte per enterprise (1 = short);
    a policy's bytes are added as big integers (≤ 50 conditions, so a byte never overflows).
    """
    keys = list(profiles)
    rows = [with_derived(profiles[k]) for k in keys]
    shortfalls: dict[str, int] = {}
    found = {}
    for rules in policies:
        total = 0
        for condition in rules.conditions:
            lanes = shortfalls.get(condition.key)
            if lanes is None:
                verdicts = bytes(map(condition.bind(day), rows))
                lanes = shortfalls[condition.key] = int.from_bytes(verdicts.translate(_SHORT), "big")
            total += lanes
        counts = total.to_bytes(len(rows), "big")
        found[rules.key] = Matches(_where(counts, 0, keys), _where(counts, 1, keys))
    return found


def _where(counts: bytes, value: int, keys: list[Hashable]) -> list[Hashable]:
    """The keys whose byte equals `value`."""
    found = []
    index = counts.find(value)
    while index != -1:
        found.append(keys[index])
        index = counts.find(value, index + 1)
    return found
