"""Bulk import of departments, people and enterprises (`ztc import departments|people|enterprises FILE`).

County staff keep these lists in Excel, so a file is CSV (UTF-8, UTF-8 with BOM, or GBK as Excel
saves it on Chinese Windows) or XLSX (first sheet). Its first non-blank row is the header, in
Chinese or English (部门编码 or code, …). The rules:

- Every row is validated before anything is written; if any row is bad, nothing is written and
  ImportFailed lists every problem with its spreadsheet line number ("第3行 统一社会信用代码：…").
- Rows are upserted by key (部门编码, 账号, 统一社会信用代码) in the caller's transaction; the caller
  commits. Import in order: departments, then people and enterprises (which name departments
  that must already be in the database, by code or by name).
- A column present in the file is applied as given (an empty optional cell clears the value);
  a column absent from the file leaves stored values unchanged.
- Each created or changed row writes one audit event (channel "cli"); mobiles are masked there.
- People: a 县领导's 分管部门 (codes or names, separated by 、 or commas) replace his oversight
  rows when the column is present; only leaders may have them, and a leader who is imported with
  another role oversees nothing afterwards.

Routing rules (`ztc import routing`) live with the work orders: handlers.complaints.importing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import Invalid
from bot.importing.columns import (
    DEPARTMENT_COLUMNS,
    ENTERPRISE_COLUMNS,
    PERSON_COLUMNS,
    Column,
    Parsers,
    _Departments,
    _parse_bool,
    _parse_kind,
    _parse_mobile,
    _parse_role,
    _parse_rows,
    _parse_userid,
    _parse_webhook_key,
    _Record,
    _text,
)
from bot.importing.reading import Row, Table, read_rows, read_table
from bot.importing.results import HEADER, KIND_LABELS, MAX_ERRORS_SHOWN, ImportFailed, ImportReport, RowError
from bot.importing.writing import _existing, _shown, _Target, _write
from bot.models import Department, Enterprise, Oversight, Person, Role
from bot.uscc import validate_uscc

__all__ = [
    "DEPARTMENT_COLUMNS",
    "ENTERPRISE_COLUMNS",
    "HEADER",
    "IMPORTERS",
    "KIND_LABELS",
    "MAX_ERRORS_SHOWN",
    "PERSON_COLUMNS",
    "Column",
    "ImportFailed",
    "ImportReport",
    "Row",
    "RowError",
    "Table",
    "import_departments",
    "import_enterprises",
    "import_file",
    "import_people",
    "read_rows",
    "read_table",
]

DEPARTMENTS = _Target("departments", Department, "department", "code")
PEOPLE = _Target("people", Person, "person", "wecom_userid")
ENTERPRISES = _Target("enterprises", Enterprise, "enterprise", "uscc")


def import_departments(
    session: Session, table: Table, *, clock: Clock, actor: Person | None = None
) -> ImportReport:
    """Upsert departments by 部门编码; a name may not belong to another department."""
    parsers = {
        "code": _text(32),
        "name": _text(100),
        "kind": _parse_kind,
        "group_webhook_key": _parse_webhook_key,
    }
    records, errors = _parse_rows(table, DEPARTMENT_COLUMNS, parsers, unique=("code", "name"))
    existing = _existing(session, Department, "code")
    errors += _name_clashes(records, existing)
    return _write(session, DEPARTMENTS, records, existing, errors, clock=clock, actor=actor)


def _name_clashes(records: list[_Record], existing: dict[str, Department]) -> list[RowError]:
    """Rows giving a department a name that another stored department already has."""
    by_name = {d.name: d for d in existing.values()}
    errors = []
    for record in records:
        name = record.values.get("name")
        other = by_name.get(name) if name else None
        if other is not None and other.code != record.values.get("code"):
            errors.append(RowError(record.line, "部门名称", f"「{other.name}」已是部门 {other.code} 的名称"))
    return errors


def import_people(
    session: Session, table: Table, *, clock: Clock, actor: Person | None = None
) -> ImportReport:
    """Upsert people by 账号 (WeCom userid); departments are found by code or name."""
    departments = _Departments(session)
    parsers: Parsers = {
        "wecom_userid": _parse_userid,
        "name": _text(50),
        "role": _parse_role,
        "department": departments.find,
        "title": _text(50),
        "is_head": _parse_bool,
        "mobile": _parse_mobile,
        "oversees": departments.find_many,
    }
    records, errors = _parse_rows(table, PERSON_COLUMNS, parsers, unique=("wecom_userid",))
    existing = _existing(session, Person, "wecom_userid")
    oversight = _Oversight(session, departments)
    for record in records:
        if record.ok:
            current = existing.get(record.values["wecom_userid"])
            errors += _person_rules(record, current)
            oversight.end_unless_leader(record, current)
            if current is None and not record.values.get("oversees"):
                record.values.pop("oversees", None)  # nothing to replace: the row can go in in bulk
    links = {"oversees": oversight.replace}
    return _write(session, PEOPLE, records, existing, errors, clock=clock, actor=actor, links=links)


def _person_rules(record: _Record, current: Person | None) -> list[RowError]:
    """Rules across columns, on the values the person will have after the import."""
    if current is not None and current.erased:
        return [RowError(record.line, "账号", "该账号的个人信息已按要求抹除，不能通过导入恢复")]

    def after(attr: str, default: Any) -> Any:
        return record.values.get(attr, getattr(current, attr) if current is not None else default)

    role, department, is_head = after("role", None), after("department", None), after("is_head", False)
    errors = []
    if role == Role.OFFICIAL and department is None:
        errors.append(RowError(record.line, "部门", "干部必须填写所属部门"))
    if role == Role.ENTERPRISE and department is not None:
        errors.append(RowError(record.line, "部门", "企业联系人不属于任何部门，请留空"))
    if is_head and department is None:
        errors.append(RowError(record.line, "负责人", "部门负责人必须填写所属部门"))
    if record.values.get("oversees") and role != Role.LEADER:
        errors.append(RowError(record.line, "分管部门", "只有县领导可以填写分管部门"))
    return errors


class _Oversight:
    """The stored 分管 rows by leader id, and replacing one leader's set with the file's."""

    def __init__(self, session: Session, departments: _Departments) -> None:
        self.session = session
        self.departments = departments
        self.rows: dict[int, list[Oversight]] = {}
        for row in session.scalars(select(Oversight)):
            self.rows.setdefault(row.leader_id, []).append(row)

    def end_unless_leader(self, record: _Record, current: Person | None) -> None:
        """A leader imported with another role (and no 分管部门 column) oversees nothing any more."""
        stored = current is not None and bool(self.rows.get(current.id))
        role = record.values.get("role", current.role if current is not None else None)
        if stored and role != Role.LEADER and "oversees" not in record.values:
            record.values["oversees"] = ()

    def replace(self, leader: Person, wanted: tuple[Department, ...]) -> dict[str, Any] | None:
        """Delete the rows not wanted, add the missing ones; the change for the audit, or None."""
        current = self.rows.get(leader.id, []) if leader.id is not None else []
        old_ids, new_ids = {row.department_id for row in current}, {d.id for d in wanted}
        if old_ids == new_ids:
            return None
        for row in current:
            if row.department_id not in new_ids:
                self.session.delete(row)
        for department in wanted:
            if department.id not in old_ids:
                self.session.add(Oversight(leader=leader, department=department))
        old = [self.departments.by_id[i] for i in old_ids]
        return {"from": _shown("oversees", old), "to": _shown("oversees", wanted)}


def import_enterprises(
    session: Session, table: Table, *, clock: Clock, actor: Person | None = None
) -> ImportReport:
    """Upsert enterprises by 统一社会信用代码 (validated, normalised); 包联部门 by code or name."""
    departments = _Departments(session)
    parsers = {
        "uscc": validate_uscc,
        "name": _text(200),
        "contact_department": departments.find_contact,
        "region": _text(50),
    }
    records, errors = _parse_rows(table, ENTERPRISE_COLUMNS, parsers, unique=("uscc",))
    existing = _existing(session, Enterprise, "uscc")
    return _write(session, ENTERPRISES, records, existing, errors, clock=clock, actor=actor)


IMPORTERS: dict[str, Callable[..., ImportReport]] = {
    "departments": import_departments,
    "people": import_people,
    "enterprises": import_enterprises,
}


def import_file(
    session: Session, kind: str, path: Path, *, clock: Clock, actor: Person | None = None
) -> ImportReport:
    """Import one file of departments, people or enterprises into the caller's transaction."""
    importer = IMPORTERS.get(kind)
    if importer is None:
        raise Invalid(f"不能导入「{kind}」：可导入 {'、'.join(IMPORTERS)}")
    return importer(session, read_table(path), clock=clock, actor=actor)
