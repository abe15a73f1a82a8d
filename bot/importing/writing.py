"""Writing an import: upsert every validated row by its key and audit each change, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.clock import Clock
from bot.importing.columns import _Record
from bot.importing.results import ImportFailed, ImportReport, RowError
from bot.models import Department, Person


def _existing(session: Session, model: type[Any], key: str) -> dict[str, Any]:
    """Every row of the model already stored, by its import key."""
    return {getattr(obj, key): obj for obj in session.scalars(select(model))}


def _shown(attr: str, value: Any) -> Any:
    """A value as the audit trail keeps it: departments by code (a list of them sorted), mobiles masked."""
    if isinstance(value, Department):
        return value.code
    if isinstance(value, tuple | list | set | frozenset) and all(isinstance(v, Department) for v in value):
        return sorted(v.code for v in value)
    if attr == "mobile" and isinstance(value, str) and len(value) == 11:
        return value[:3] + "****" + value[7:]
    return value


def _apply(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Set the values that differ; return them as {attr: {"from": old, "to": new}} for the audit."""
    changes = {}
    for attr, new in values.items():
        old = getattr(obj, attr)
        if old != new:
            setattr(obj, attr, new)
            changes[attr] = {"from": _shown(attr, old), "to": _shown(attr, new)}
    return changes


@dataclass(frozen=True)
class _Target:
    """Where an import writes: the kind's name, its model, audit entity and key attribute."""

    kind: str
    model: type[Any]
    entity: str
    key: str
    stamped: bool = True  # the model has created_at, set when a row is created


Link = Callable[[Any, Any], dict[str, Any] | None]
"""Sets a value kept outside the row (a leader's 分管部门 are Oversight rows) on an object that may
not be flushed yet; returns {"from": old, "to": new} for the audit, or None when nothing changed."""


def _write(
    session: Session,
    target: _Target,
    records: list[_Record],
    existing: dict[str, Any],
    errors: list[RowError],
    *,
    clock: Clock,
    actor: Person | None,
    links: Mapping[str, Link] | None = None,
) -> ImportReport:
    """All or nothing: any error fails the file; else create or update every row, and audit changes.

    `links` set the attributes that are not columns of the model (after the row's own values).
    """
    if errors:
        raise ImportFailed(errors)
    links = links or {}
    now = clock.now()
    events: list[tuple[Any, str, dict[str, Any]]] = []
    for record in records:
        values = {a: v for a, v in record.values.items() if a not in links}
        obj = existing.get(values[target.key])
        if obj is None:
            obj = target.model(**values, **({"created_at": now} if target.stamped else {}))
            session.add(obj)
            action, data = "import.create", {a: _shown(a, v) for a, v in values.items()}
        else:
            action, data = "import.update", _apply(obj, values)
        for attr, link in links.items():
            if attr in record.values and (change := link(obj, record.values[attr])) is not None:
                data[attr] = change["to"] if action == "import.create" else change
        if action == "import.create" or data:
            events.append((obj, action, data))
    session.flush()  # ids for the audit rows; constraint errors surface here, inside the import
    for obj, action, data in events:
        audit.record(
            session,
            at=now,
            actor=actor,
            channel="cli",
            action=action,
            entity=target.entity,
            entity_id=obj.id,
            data=data,
        )
    session.flush()
    created = sum(action == "import.create" for _, action, _ in events)
    return ImportReport(target.kind, created, len(events) - created, len(records) - len(events))
