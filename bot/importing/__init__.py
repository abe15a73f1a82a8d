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
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    _Record,
    _text,
)
from bot.importing.reading import Row, Table, read_rows, read_table
from bot.importing.results import HEADER, KIND_LABELS, MAX_ERRORS_SHOWN, ImportFailed, ImportReport, RowError
from bot.importing.writing import _existing, _Target, _write
from bot.models import Department, Enterprise, Person, Role
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
    parsers = {"code": _text(32), "name": _text(100), "kind": _parse_kind}
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
    }
    records, errors = _parse_rows(table, PERSON_COLUMNS, parsers, unique=("wecom_userid",))
    existing = _existing(session, Person, "wecom_userid")
    for record in records:
        if record.ok:
            errors += _person_rules(record, existing.get(record.values["wecom_userid"]))
    return _write(session, PEOPLE, records, existing, errors, clock=clock, actor=actor)


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
    return errors


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
