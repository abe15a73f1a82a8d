"""Who gets which digest, and making one: the scope of each person, the figures, the chart on disk.

A chart (and a chat 导出's workbook) is written by the worker that builds the message, but the
outbox may send it from another worker, later: ZTC_VAR_DIR must be one directory for all of them
(a shared volume, NFS across hosts; README "Deployment"). The file's path is absolute, its name
says the period (start and end), the scope and a hash of its content, so a rerun that draws a
different chart never overwrites the one an earlier message names; and it is written to a
temporary file and renamed, so a sender never reads half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
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


CHART_DIR = "digests"  # under ZTC_VAR_DIR


def chart_file(digest: Digest, settings: Settings) -> str | None:
    """Render the digest's chart to a file under ZTC_VAR_DIR/digests (None when no chart can be drawn)."""
    png = charts.render(digest, settings.chart_font)
    if png is None:
        return None
    period = digest.period
    stem = f"{period.kind}-{period.start:%Y%m%d}-{period.end:%Y%m%d}-{_scope_key(digest.scope)}"
    return str(store_file(Path(settings.var_dir) / CHART_DIR, stem, ".png", png))


def store_file(folder: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Write `data` atomically to folder/<stem>-<content hash><suffix>; the absolute path.

    The folder is resolved (the outbox may run from another working directory); the bytes go to a
    temporary file in the same folder, then os.replace gives them their name in one step.
    """
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{content_key(data)}{suffix}"
    write_atomically(path, data)
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename: readers see all of it or nothing.

    The file is the owner's only (mkstemp's 0600): every web and worker process runs as one user.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def content_key(data: bytes) -> str:
    """A short hash of a file's bytes, for its name."""
    return hashlib.sha256(data).hexdigest()[:12]


def _scope_key(scope: Scope) -> str:
    """A short stable name for a scope's files."""
    parts = f"{scope.label}|{sorted(scope.department_ids or [])}|{sorted(scope.project_ids or [])}"
    return hashlib.sha1(parts.encode()).hexdigest()[:12]  # noqa: S324 - a file name, not security
