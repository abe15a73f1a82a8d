"""An enterprise profile as people see and correct it: the rows 「企业信息」 and the H5 profile page show,
and one change as both make it (read by the attribute's own parser, appended, audited, re-matched).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.clock import local
from bot.errors import Invalid
from bot.models import Enterprise
from bot.routing import Context
from handlers.policies.attributes import ATTRIBUTES, Attribute, Kind
from handlers.policies.models import ProfileSource, ProfileValue
from handlers.policies.profile import profile_of, set_value


@dataclass(frozen=True)
class Row:
    """One attribute of a profile as shown: its value and where it came from, or not given."""

    attribute: Attribute
    shown: str | None  # 「1800万元」; None: 未登记
    provenance: str  # 「企业自报，2026-11-02，填报人张伟」, or how it was derived
    editable: str  # the value as a form field holds it: what the attribute's parser reads back


def profile_rows(session: Session, enterprise: Enterprise, now: datetime) -> list[Row]:
    """Every attribute of the enterprise's profile as of `now`, in registry order."""
    facts = profile_of(session, enterprise.id, now)
    rows = []
    for attribute in ATTRIBUTES.values():
        fact = facts.get(attribute.key)
        if fact is None or fact.value is None:
            rows.append(Row(attribute, None, "", ""))
        else:
            shown = attribute.show(fact.value)
            # 「C13 农副食品加工业」 is not read back (code and name together): the field holds the code.
            editable = str(fact.value) if attribute.kind is Kind.INDUSTRY else shown
            rows.append(Row(attribute, shown, fact.provenance(), editable))
    return rows


def record_value(
    ctx: Context, enterprise: Enterprise, attribute: Attribute, raw: str, source: ProfileSource
) -> ProfileValue:
    """One value as typed, appended by `ctx.person` and audited (profile.set); Invalid if unreadable."""
    value = set_value(
        ctx.session, enterprise, attribute.key, raw, source=source.value, by=ctx.require_person(), now=ctx.now
    )
    ctx.audit("profile.set", "enterprise", enterprise.uscc, attribute=attribute.key, source=source.value)
    return value


class FieldErrors(Invalid):
    """Values that cannot be read, by attribute key: each refusal worded as the chat words it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("；".join(errors.values()))
        self.errors = errors


def correct(ctx: Context, enterprise: Enterprise, typed: Mapping[str, str]) -> list[Attribute]:
    """The profile page's corrections by the enterprise's contact; the attributes changed.

    Every field is read first: one unreadable value refuses them all (FieldErrors) and nothing is
    saved. A blank field or a value equal to the current one (an untouched field) adds nothing.
    """
    today = local(ctx.now).date()
    current = profile_of(ctx.session, enterprise.id, ctx.now)
    errors: dict[str, str] = {}
    changed: list[Attribute] = []
    for attribute in ATTRIBUTES.values():
        raw = typed.get(attribute.key, "").strip()
        if not raw:
            continue
        try:
            value = attribute.parse(raw, today)
        except Invalid as exc:
            errors[attribute.key] = exc.message
            continue
        fact = current.get(attribute.key)
        if fact is None or fact.value != value:
            changed.append(attribute)
    if errors:
        raise FieldErrors(errors)
    for attribute in changed:
        record_value(ctx, enterprise, attribute, typed[attribute.key], ProfileSource.ENTERPRISE)
    if changed:
        rematch_later(ctx, enterprise.id)
    return changed


def rematch_later(ctx: Context, enterprise_id: int) -> None:
    """免申即享: a changed profile may qualify for something new (the job runs after this commits)."""
    job_id = f"policy-rematch-{enterprise_id}-{int(ctx.now.timestamp())}"
    ctx.schedule("jobs.policies.rematch", ctx.now, enterprise_id, job_id=job_id)
