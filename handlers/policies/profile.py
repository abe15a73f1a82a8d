"""An enterprise's profile: values appended with their source, date and giver; read as of a moment.

Values are never overwritten (ProfileValue is append-only), so an answer given last year can be
explained by the values it used: profile_of(…, as_of) is the newest value of each attribute given
at or before that moment. 规上 is derived from revenue and industry when it was not given (and the
explanation says so); the enterprise list's 所在乡镇 counts for the region when none was given.
Officials import many profiles at once from a spreadsheet (`ztc import profiles FILE`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.clock import LOCAL_ZONE, Clock, local
from bot.errors import Invalid
from bot.importing import Column, ImportFailed, ImportReport, RowError, Table
from bot.importing.columns import _parse_rows
from bot.models import Enterprise, Person
from bot.uscc import validate_uscc
from handlers.policies.attributes import (
    ATTRIBUTES,
    Attribute,
    Fact,
    attribute_named,
    derived_above_scale,
    scale_threshold,
)
from handlers.policies.models import ProfileSource, ProfileValue

DERIVED = "推算"
REGISTRY = "企业名录"  # Enterprise.region, as imported with the list of enterprises

Profile = dict[str, Fact]


def set_value(
    session: Session,
    enterprise: Enterprise,
    attribute: str,
    raw: Any,
    *,
    source: ProfileSource | str,
    by: Person | None,
    now: datetime,
) -> ProfileValue:
    """Append one value (by key or label, as typed); Invalid names the attribute and the value."""
    found = attribute_named(attribute)
    value = found.parse(raw, local(now).date())
    row = ProfileValue(
        enterprise=enterprise,
        attribute=found.key,
        value=value,
        source=ProfileSource(source).value,
        given_by=by,
        given_at=now,
    )
    session.add(row)
    session.flush()
    return row


def profile_of(session: Session, enterprise_id: int, as_of: datetime) -> Profile:
    """The newest value of each attribute given at or before `as_of`, plus the derived 规上."""
    return profiles_of(session, as_of, [enterprise_id]).get(enterprise_id, {})


def profiles_of(
    session: Session, as_of: datetime, enterprise_ids: Iterable[int] | None = None
) -> dict[int, Profile]:
    """Every enterprise's profile (or those named) as of a moment, in one query; derived 规上 included."""
    ids = None if enterprise_ids is None else list(enterprise_ids)
    profiles = stored_values(session, as_of, ids)
    query = select(Enterprise.id, Enterprise.region, Enterprise.created_at)
    if ids is not None:
        query = query.where(Enterprise.id.in_(ids))
    for enterprise_id, region, created_at in session.execute(query):
        profile = profiles.setdefault(enterprise_id, {})
        if "region" not in profile and region and created_at <= as_of:
            profile["region"] = Fact(region, REGISTRY, created_at)
        _derive_scale(profile)
    return profiles


def stored_values(session: Session, as_of: datetime, ids: list[int] | None = None) -> dict[int, Profile]:
    """The newest stored value of each attribute per enterprise, given at or before `as_of`."""
    query = (
        select(ProfileValue, Person.name)
        .outerjoin(Person, ProfileValue.given_by_id == Person.id)
        .where(ProfileValue.given_at <= as_of)
        .order_by(ProfileValue.given_at, ProfileValue.id)
    )
    if ids is not None:
        query = query.where(ProfileValue.enterprise_id.in_(ids))
    profiles: dict[int, Profile] = {}
    for row, name in session.execute(query):
        if row.attribute in ATTRIBUTES:  # an attribute since retired is ignored, not guessed at
            source = ProfileSource(row.source).label
            profiles.setdefault(row.enterprise_id, {})[row.attribute] = Fact(
                row.value, source, row.given_at, name
            )
    return profiles


def _derive_scale(profile: Profile) -> None:
    """Add 规上 derived from revenue and industry, saying how, unless it was given."""
    if "above_scale" in profile:
        return
    values = plain(profile)
    derived = derived_above_scale(values)
    found = scale_threshold(values.get("industry"))
    if derived is None or found is None:
        return
    threshold, sector = found
    revenue, industry = (ATTRIBUTES[k].show(values[k]) for k in ("revenue_wan", "industry"))
    how = f"按营业收入{revenue}、所属行业{industry}推算：{sector}营业收入{threshold}万元及以上为规上"
    profile["above_scale"] = Fact(derived, DERIVED, profile["revenue_wan"].given_at, derived_from=how)


def plain(profile: Mapping[str, Fact]) -> dict[str, Any]:
    """The values alone, as the condition tests read them."""
    return {key: fact.value for key, fact in profile.items()}


def end_of_day(day: date) -> datetime:
    """The last moment of a local calendar day (values given that day count for it)."""
    return datetime.combine(day + timedelta(days=1), time(0), LOCAL_ZONE) - timedelta(microseconds=1)


# --- importing many profiles (`ztc import profiles FILE`) ---------------------------------------------

USCC_COLUMN = Column(
    "uscc", "统一社会信用代码", ("统一社会信用代码", "社会信用代码", "信用代码", "uscc"), required=True
)
NAME_COLUMN = Column("name", "企业名称", ("企业名称", "名称", "企业", "name"))
PROFILE_COLUMNS = (
    USCC_COLUMN,
    NAME_COLUMN,
    *(Column(a.key, a.label, (a.label, a.key, *a.aliases)) for a in ATTRIBUTES.values()),
)


def import_profiles(
    session: Session, table: Table, *, clock: Clock, actor: Person | None = None
) -> ImportReport:
    """Append the values of a table (one row per enterprise by 统一社会信用代码); all or nothing.

    A blank cell gives no value; a value equal to the enterprise's newest one is not appended again.
    """
    now = clock.now()
    today = local(now).date()
    parsers: dict[str, Callable[[str], Any]] = {"uscc": validate_uscc, "name": lambda raw: raw or None}
    parsers |= {a.key: _cell(a, today) for a in ATTRIBUTES.values()}
    records, errors = _parse_rows(table, PROFILE_COLUMNS, parsers, unique=("uscc",))
    enterprises = {e.uscc: e for e in session.scalars(select(Enterprise))}
    for record in records:
        errors += _enterprise_errors(record.line, record.values, enterprises)
    if errors:
        raise ImportFailed(errors)
    current = stored_values(session, now)
    counts = {"created": 0, "updated": 0}
    for record in records:
        enterprise = enterprises[record.values["uscc"]]
        had = current.get(enterprise.id, {})
        if _append(session, enterprise, record.values, had, now=now, actor=actor):
            counts["updated" if had else "created"] += 1
    session.flush()
    return ImportReport("profiles", counts["created"], counts["updated"], len(records) - sum(counts.values()))


def _cell(found: Attribute, today: date) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            return found.parse(raw, today) if raw else None
        except Invalid as exc:  # the column already names the attribute
            raise Invalid(exc.message.removeprefix(f"{found.label}：")) from None

    return parse


def _enterprise_errors(
    line: int, values: dict[str, Any], enterprises: dict[str, Enterprise]
) -> list[RowError]:
    uscc, name = values.get("uscc"), values.get("name")
    if uscc is None:
        return []  # its cell was refused already
    enterprise = enterprises.get(uscc)
    if enterprise is None:
        return [
            RowError(line, USCC_COLUMN.label, f"找不到「{uscc}」：请先导入企业（ztc import enterprises）")
        ]
    if name and name != enterprise.name:
        return [
            RowError(
                line, NAME_COLUMN.label, f"「{name}」与该代码登记的企业「{enterprise.name}」不符，请核对"
            )
        ]
    return []


def _append(
    session: Session,
    enterprise: Enterprise,
    values: dict[str, Any],
    had: Profile,
    *,
    now: datetime,
    actor: Person | None,
) -> bool:
    """Append the row's new values and audit them; whether any was new."""
    changes = {}
    for key in ATTRIBUTES:
        value = values.get(key)
        old = had.get(key)
        if value is None or (old is not None and old.value == value):
            continue
        session.add(
            ProfileValue(
                enterprise=enterprise, attribute=key, value=value,
                source=ProfileSource.IMPORT.value, given_by=actor, given_at=now,
            )
        )  # fmt: skip
        changes[key] = {"from": None if old is None else old.value, "to": value}
    if changes:
        audit.record(
            session, at=now, actor=actor, channel="cli", action="profile.import",
            entity="enterprise", entity_id=enterprise.id, data=changes,
        )  # fmt: skip
    return bool(changes)
