"""Who gets which digest, and making one: the scope of each person, the figures, the chart on disk."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from bot.directory import people_with_role
from bot.models import Person, Role
from bot.settings import Settings
from handlers.digests import charts
from handlers.digests.figures import compute, county_scope, leader_scope, trend
from handlers.digests.model import Digest, Period, Scope
from handlers.projects.rules import rules_from


def scope_for(session: Session, person: Person, settings: Settings) -> Scope | None:
    """A leader's 分管 (the county for ZTC_DIGEST_COUNTY_LEADERS and admins), an official's department."""
    role = person.role_enum
    if role is Role.ADMIN or (role is Role.LEADER and person.wecom_userid in settings.digest_county_leaders):
        return county_scope()
    if role is Role.LEADER:
        return leader_scope(session, person)
    if role is Role.OFFICIAL and person.department is not None:
        return Scope(person.department.name, department_ids=frozenset({person.department.id}))
    return None  # enterprises get nothing of this


def recipients(session: Session) -> list[Person]:
    """Who is pushed the scheduled digests: every active county leader."""
    return people_with_role(session, Role.LEADER)


def make_digest(session: Session, scope: Scope, period: Period, now: datetime, settings: Settings) -> Digest:
    """The figures of one scope and period, with the trend of the periods before it."""
    digest = compute(session, scope, period, now=now, rules=rules_from(settings))
    return replace(digest, trend=trend(session, scope, period, now=now))


def chart_file(digest: Digest, settings: Settings) -> str | None:
    """Render the digest's chart to a file under ZTC_VAR_DIR/digests (None when no chart can be drawn)."""
    png = charts.render(digest, settings.chart_font)
    if png is None:
        return None
    folder = Path(settings.var_dir) / "digests"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest.period.kind}-{digest.period.start}-{_scope_key(digest.scope)}.png"
    path.write_bytes(png)
    return str(path)


def _scope_key(scope: Scope) -> str:
    """A short stable name for a scope's files."""
    parts = f"{scope.label}|{sorted(scope.department_ids or [])}|{sorted(scope.project_ids or [])}"
    return hashlib.sha1(parts.encode()).hexdigest()[:12]  # noqa: S324 - a file name, not security
