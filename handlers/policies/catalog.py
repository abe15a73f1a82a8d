"""The policy catalog: a file's examples run, then its policies published as versions in the database.

Every example is run, and a file whose examples do not come out as expected is refused naming the
example and the condition. Importing the same content again changes nothing; changed content
makes a new version of the same code. Reading a file: catalog_reading; matching: matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.models import Person
from handlers.policies.attributes import Fact, read_day, with_derived
from handlers.policies.catalog_reading import CONTENT, CatalogRefused, Example, PolicySpec, read_catalog_file
from handlers.policies.condition_reading import Problem, Where, compile_conditions
from handlers.policies.conditions import Assessment, Outcome, evaluate
from handlers.policies.explain import value_line
from handlers.policies.models import Policy

# --- examples -------------------------------------------------------------------------------------------


def example_problems(spec: PolicySpec) -> list[Problem]:
    """Every example whose outcome is not the one expected, naming the conditions that decided it."""
    found = []
    for n, example in enumerate(spec.examples, start=1):
        day = example.day or date.fromisoformat(spec.fields["valid_from"])
        assessment = evaluate(spec.conditions, with_derived(example.profile), day)
        if assessment.outcome != example.expect:
            found.append(
                Problem(example.line, f"{spec.code} examples第{n}个", _example_failure(example, assessment))
            )
    return found


def _example_failure(example: Example, assessment: Assessment) -> str:
    facts = {key: Fact(value, "示例") for key, value in with_derived(example.profile).items()}
    why = [
        f"{c.condition.requirement}——{c.verdict.label}（{value_line(c, facts)}）" if not c.children
        else f"{c.condition.requirement}——{c.verdict.label}"
        for c in assessment.failing
    ]  # fmt: skip
    reason = "；".join(why) if why else "各项条件均满足（条件是否过宽？）"
    wanted, got = example.expect, assessment.outcome
    expected = f"应为{wanted.label}（{wanted.value}）"
    return f"示例「{example.name}」{expected}，实际为{got.label}（{got.value}）：{reason}"


def check_specs(specs: Sequence[PolicySpec]) -> list[Problem]:
    """The example failures of every policy."""
    return [p for spec in specs for p in example_problems(spec)]


def spec_of(policy: Policy) -> PolicySpec:
    """A stored version read back as a spec (to run its examples again)."""
    examples = tuple(
        Example(e["name"], e["profile"], read_day(e["date"]) if e.get("date") else None, Outcome(e["expect"]))
        for e in policy.examples
    )
    fields = {key: _stored(getattr(policy, key)) for key in ("code", *CONTENT)}
    return PolicySpec(fields, compile_conditions(policy.conditions), examples, Where(path=policy.code))


def stored_specs(session: Session) -> list[PolicySpec]:
    """The current catalog in the database, read back as specs (check_specs runs their examples)."""
    return [spec_of(p) for p in session.scalars(select(Policy).where(Policy.current).order_by(Policy.code))]


def _stored(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


# --- versions in the database ------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogReport:
    """What an import did: policies new, new versions of known codes, and unchanged ones."""

    created: int
    versioned: int
    unchanged: int

    def summary(self) -> str:
        return f"导入政策：新增{self.created}条，新版本{self.versioned}条，未变{self.unchanged}条"


def import_policies_file(
    session: Session, path: Path, *, now: datetime, actor: Person | None = None, channel: str = "cli"
) -> CatalogReport:
    """Read, check the examples of, and publish a policy file (all or nothing)."""
    return publish(session, read_catalog_file(path), now=now, actor=actor, source=path.name, channel=channel)


def publish(
    session: Session,
    specs: Sequence[PolicySpec],
    *,
    now: datetime,
    actor: Person | None = None,
    source: str,
    channel: str = "cli",
) -> CatalogReport:
    """Store each spec: unchanged → nothing; new code → version 1; changed → a new current version."""
    failures = check_specs(specs)
    if failures:
        raise CatalogRefused(failures, "示例企业的结果与预期不符")
    current = {p.code: p for p in session.scalars(select(Policy).where(Policy.current))}
    created = versioned = 0
    for spec in specs:
        old = current.get(spec.code)
        if old is not None and _content(old) == _normal(spec.content()):
            continue
        policy = _store(session, spec, old, now=now, source=source)
        changed = sorted(
            k for k, v in _normal(spec.content()).items() if old is None or _content(old)[k] != v
        )
        audit.record(
            session, at=now, actor=actor, channel=channel, action="policy.publish", entity="policy",
            entity_id=policy.id, data={"code": policy.code, "version": policy.version, "changed": changed},
        )  # fmt: skip
        created, versioned = (created + 1, versioned) if old is None else (created, versioned + 1)
    session.flush()
    return CatalogReport(created, versioned, len(specs) - created - versioned)


def _store(session: Session, spec: PolicySpec, old: Policy | None, *, now: datetime, source: str) -> Policy:
    if old is not None:
        old.current = False
        session.flush()
    values = {k: date.fromisoformat(v) if k in _DATES and v else v for k, v in spec.content().items()}
    policy = Policy(
        code=spec.code, version=old.version + 1 if old else 1, current=True, published_at=now,
        source=source[-200:], **values,
    )  # fmt: skip
    session.add(policy)
    session.flush()
    return policy


_DATES = ("valid_from", "valid_to", "deadline")


def _content(policy: Policy) -> dict[str, Any]:
    return _normal({key: _stored(getattr(policy, key)) for key in CONTENT})


def _normal(content: dict[str, Any]) -> dict[str, Any]:
    """Amounts as floats, so 50 and 50.0 compare equal after a round trip through the database."""
    amount = content.get("amount_wan")
    return {**content, "amount_wan": None if amount is None else float(amount)}


def export_catalog(session: Session) -> str:
    """The current catalog as a YAML file `ztc import policies` reads back unchanged."""
    policies = session.scalars(select(Policy).where(Policy.current).order_by(Policy.code))
    return yaml.safe_dump([_exported(p) for p in policies], allow_unicode=True, sort_keys=False, width=100)


def _exported(policy: Policy) -> dict[str, Any]:
    fields = {"code": policy.code, **{key: getattr(policy, key) for key in CONTENT}}
    fields["examples"] = [{k: v for k, v in e.items() if v is not None} for e in policy.examples]
    return {key: value for key, value in fields.items() if value is not None}
