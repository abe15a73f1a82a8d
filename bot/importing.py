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

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.clock import Clock
from bot.errors import Invalid
from bot.models import Department, DepartmentKind, Enterprise, Person, Role
from bot.uscc import validate_uscc

MAX_ERRORS_SHOWN = 20
HEADER = "表头"

# ---------------------------------------------------------------------------------------------
# Results and errors


@dataclass(frozen=True)
class RowError:
    """One problem in the file: the spreadsheet line (header = 1), the column, and what is wrong."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"第{self.line}行 {self.field}：{self.message}"


class ImportFailed(Invalid):
    """The file has errors; nothing was written. `errors` holds all of them, in line order."""

    def __init__(self, errors: Iterable[RowError]) -> None:
        self.errors = sorted(errors, key=lambda e: e.line)
        shown = "\n".join(str(e) for e in self.errors[:MAX_ERRORS_SHOWN])
        hidden = len(self.errors) - MAX_ERRORS_SHOWN
        more = f"\n……另有{hidden}处错误未列出" if hidden > 0 else ""
        super().__init__(f"导入失败：共{len(self.errors)}处错误，未写入任何数据。\n{shown}{more}")


KIND_LABELS = {"departments": "部门", "people": "人员", "enterprises": "企业"}


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows created, rows changed, and rows already up to date."""

    kind: str
    created: int
    updated: int
    unchanged: int = 0

    def summary(self) -> str:
        """One line for the operator, e.g. "导入部门：新增3条，更新1条，未变10条"."""
        label = KIND_LABELS.get(self.kind, self.kind)
        return f"导入{label}：新增{self.created}条，更新{self.updated}条，未变{self.unchanged}条"


# ---------------------------------------------------------------------------------------------
# Reading CSV and XLSX into rows of text


class Row(dict[str, str]):
    """One data row: cell text by header name, and the spreadsheet line it came from."""

    def __init__(self, line: int, cells: dict[str, str]) -> None:
        super().__init__(cells)
        self.line = line


@dataclass(frozen=True)
class Table:
    """A file's header (named columns only) and its non-blank data rows."""

    header_line: int
    header: list[str]
    rows: list[Row]


def read_rows(path: Path) -> list[Row]:
    """The data rows of a CSV or XLSX file, each with its line number (`row.line`)."""
    return read_table(path).rows


def read_table(path: Path) -> Table:
    """The first non-blank row as header, then every non-blank row below it."""
    lines = [(n, cells) for n, cells in _read_lines(path) if any(cells)]
    if not lines:
        raise Invalid(f"文件里没有内容：{path.name}")
    (header_line, header), data = lines[0], lines[1:]
    keep = _named_columns(header_line, header, data)
    names = [header[i] for i in keep]
    rows = [Row(n, {name: _cell(cells, i) for name, i in zip(names, keep, strict=True)}) for n, cells in data]
    return Table(header_line, names, rows)


def _named_columns(header_line: int, header: list[str], data: list[tuple[int, list[str]]]) -> list[int]:
    """Indexes of the named columns; unnamed columns must be empty, names must not repeat."""
    width = max(len(cells) for _, cells in [(header_line, header), *data])
    errors, keep = [], []
    for i in range(width):
        name = _cell(header, i)
        first_used = next((n for n, cells in data if _cell(cells, i)), None)
        if name and name in header[:i]:
            errors.append(RowError(header_line, HEADER, f"列名「{name}」出现了不止一次"))
        elif name:
            keep.append(i)
        elif first_used is not None:
            errors.append(RowError(first_used, f"第{i + 1}列", "这一列有内容，但表头没有列名"))
    if errors:
        raise ImportFailed(errors)
    return keep


def _cell(cells: Sequence[str], i: int) -> str:
    return cells[i] if i < len(cells) else ""


def _read_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cell texts) for every row of the file, blank rows included."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise Invalid(f"只能导入 .csv 或 .xlsx 文件（.xls 请在 Excel 中另存为 .xlsx）：{path.name}")
    try:
        return _csv_lines(path.read_bytes()) if suffix == ".csv" else _xlsx_lines(path)
    except FileNotFoundError:
        raise Invalid(f"找不到文件：{path}") from None
    except OSError as exc:
        raise Invalid(f"无法读取文件 {path.name}：{exc.strerror or exc}") from None


def _csv_lines(data: bytes) -> list[tuple[int, list[str]]]:
    """CSV records numbered as a spreadsheet shows them (a quoted line break stays in its cell)."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    try:
        return [(n, [c.strip() for c in cells]) for n, cells in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise Invalid(f"CSV 格式有误（第{reader.line_num}行）：{exc}") from None


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first; then GBK, which Excel uses for "CSV" on Chinese Windows."""
    for encoding in ("utf-8-sig", "gbk", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("无法识别文件编码：请在 Excel 中另存为「CSV UTF-8」或 .xlsx 后再导入")


def _xlsx_lines(path: Path) -> list[tuple[int, list[str]]]:
    """The first sheet's rows as text; read-only, cached formula values."""
    with warnings.catch_warnings():
        # Files saved by WPS or other tools make openpyxl warn (no default style, …): noise to an operator.
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError) as exc:
            raise Invalid(f"无法打开 Excel 文件 {path.name}：{exc}") from None
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # some tools write a wrong <dimension>; read what is really there
            rows = sheet.iter_rows(values_only=True)
            return [(n, [_cell_text(v) for v in values]) for n, values in enumerate(rows, start=1)]
        finally:
            book.close()


def _cell_text(value: object) -> str:
    """A cell as text; whole numbers lose Excel's ".0" (userid 1001, a mobile, a code)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


# ---------------------------------------------------------------------------------------------
# Columns and cell parsers


@dataclass(frozen=True)
class Column:
    """A column an import understands: the model attribute, its Chinese label, accepted headers."""

    attr: str
    label: str
    aliases: tuple[str, ...]
    required: bool = False


DEPARTMENT_COLUMNS = (
    Column("code", "部门编码", ("部门编码", "编码", "部门代码", "代码", "code"), required=True),
    Column("name", "部门名称", ("部门名称", "名称", "部门", "name"), required=True),
    Column("kind", "类型", ("类型", "部门类型", "kind", "type")),
)
PERSON_COLUMNS = (
    Column(
        "wecom_userid",
        "账号",
        ("账号", "帐号", "企业微信账号", "企业微信帐号", "userid", "wecom_userid"),
        required=True,
    ),
    Column("name", "姓名", ("姓名", "name"), required=True),
    Column("role", "角色", ("角色", "role"), required=True),
    Column("department", "部门", ("部门", "部门编码", "部门名称", "所在部门", "所属部门", "department")),
    Column("title", "职务", ("职务", "title")),
    Column("is_head", "负责人", ("负责人", "是否负责人", "部门负责人", "is_head")),
    Column("mobile", "手机", ("手机", "手机号", "手机号码", "mobile")),
)
ENTERPRISE_COLUMNS = (
    Column(
        "uscc", "统一社会信用代码", ("统一社会信用代码", "社会信用代码", "信用代码", "uscc"), required=True
    ),
    Column("name", "企业名称", ("企业名称", "名称", "企业", "name"), required=True),
    Column("contact_department", "包联部门", ("包联部门", "包联单位", "contact_department")),
    Column("region", "所在乡镇", ("所在乡镇", "乡镇", "乡镇/园区", "所在乡镇/园区", "乡镇(园区)", "region")),
)

KIND_WORDS = {
    DepartmentKind.CONTACT: ("包联部门", "包联", "contact"),
    DepartmentKind.FUNCTIONAL: ("职能部门", "职能", "functional"),
    DepartmentKind.BOTH: ("兼", "both", "包联和职能", "包联+职能", "包联/职能", "包联、职能", "两者"),
    DepartmentKind.OFFICE: ("办公室", "office", "协调"),
}
KIND_LABELS_ZH = {kind: words[0] for kind, words in KIND_WORDS.items()}
ROLE_WORDS = {
    Role.ENTERPRISE: ("企业", "企业联系人", "enterprise"),
    Role.OFFICIAL: ("干部", "official"),
    Role.LEADER: ("县领导", "领导", "leader"),
    Role.ADMIN: ("管理员", "admin"),
}
TRUE_WORDS = ("是", "y", "yes", "true", "1", "√", "✓")
FALSE_WORDS = ("", "否", "n", "no", "false", "0", "×")
USERID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")  # WeCom's rule for a member's UserID
SCIENTIFIC = re.compile(r"[+-]?\d+(\.\d+)?E\+\d+", re.IGNORECASE)


def _norm(word: str) -> str:
    """Header and keyword form: NFKC (full-width → ASCII), lower case, no spaces, "*" or "(必填)"."""
    word = unicodedata.normalize("NFKC", word).lower()
    return re.sub(r"\s|\*|\((必填|选填|可选)\)", "", word)


def _lookup(words: dict[Any, tuple[str, ...]]) -> dict[str, Any]:
    return {_norm(w): value for value, ws in words.items() for w in ws}


_KINDS = _lookup(KIND_WORDS)
_ROLES = _lookup(ROLE_WORDS)


def _text(max_len: int) -> Callable[[str], str | None]:
    """A parser for free text of at most max_len characters (empty → None)."""

    def parse(raw: str) -> str | None:
        if len(raw) > max_len:
            raise Invalid(f"不能超过{max_len}个字（现有{len(raw)}个）")
        return raw or None

    return parse


def _parse_kind(raw: str) -> str:
    """包联部门 / 职能部门 / 兼 / 办公室 (or the English values); empty means both."""
    if not raw:
        return DepartmentKind.BOTH.value
    kind = _KINDS.get(_norm(raw))
    if kind is None:
        raise Invalid(f"「{raw}」无法识别，可填：包联部门、职能部门、兼、办公室")
    return str(kind.value)


def _parse_role(raw: str) -> str:
    """企业 / 干部 / 县领导 / 管理员, or enterprise / official / leader / admin."""
    role = _ROLES.get(_norm(raw))
    if role is None:
        raise Invalid(f"「{raw}」无法识别，可填：企业、干部、县领导、管理员")
    return str(role.value)


def _parse_bool(raw: str) -> bool:
    """是/否 (also Y/N, TRUE/FALSE, 1/0); empty means 否."""
    word = _norm(raw)
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise Invalid(f"「{raw}」无法识别，请填「是」或「否」")


def _parse_mobile(raw: str) -> str | None:
    """An 11-digit mainland mobile starting with 1; spaces, dashes and a +86 prefix are dropped."""
    digits = re.sub(r"[\s-]", "", raw)
    digits = re.sub(r"^(\+?86)(?=1\d{10}$)", "", digits)
    if digits and not re.fullmatch(r"1\d{10}", digits):
        raise Invalid(f"手机号应为以1开头的11位数字：{raw}")
    return digits or None


def _parse_userid(raw: str) -> str:
    """A WeCom UserID: letters, digits and _ - . @, starting with a letter or digit, ≤64."""
    if not USERID.fullmatch(raw):
        raise Invalid(f"「{raw}」不是有效账号：只能用英文字母、数字和 _ - . @，以字母或数字开头，不超过64位")
    return raw


class _Departments:
    """Departments already in the database, found by 部门编码 or by 部门名称."""

    def __init__(self, session: Session) -> None:
        departments = list(session.scalars(select(Department)))
        self.by_code = {d.code: d for d in departments}
        self.by_name = {d.name: d for d in departments}

    def find(self, raw: str) -> Department | None:
        """The department a cell names (empty → None)."""
        if not raw:
            return None
        found = self.by_code.get(raw) or self.by_name.get(raw)
        if found is None:
            raise Invalid(f"找不到部门「{raw}」：请填部门编码或部门名称，新部门请先导入部门表")
        return found

    def find_contact(self, raw: str) -> Department | None:
        """A department that may be an enterprise's 包联部门 (kind 包联部门 or 兼)."""
        found = self.find(raw)
        if found is not None and found.kind not in (DepartmentKind.CONTACT, DepartmentKind.BOTH):
            label = KIND_LABELS_ZH.get(DepartmentKind(found.kind), found.kind)
            raise Invalid(f"「{found.name}」是{label}，不能包联企业（部门类型须为包联部门或兼）")
        return found


# ---------------------------------------------------------------------------------------------
# Validating rows


@dataclass
class _Record:
    """A row's parsed values by model attribute; `ok` is False when some cell was refused."""

    line: int
    values: dict[str, Any] = field(default_factory=dict)
    ok: bool = True


Parsers = dict[str, Callable[[str], Any]]


def _map_header(table: Table, columns: Sequence[Column]) -> dict[str, str]:
    """Which header name holds each column's attribute; unknown, repeated or missing columns fail."""
    by_alias = {_norm(alias): column for column in columns for alias in column.aliases}
    found: dict[str, str] = {}
    problems = []
    for name in table.header:
        column = by_alias.get(_norm(name))
        if column is None:
            allowed = "、".join(c.label for c in columns)
            problems.append(f"不认识的列「{name}」（可用的列：{allowed}）")
        elif column.attr in found:
            problems.append(f"「{found[column.attr]}」和「{name}」是同一列（{column.label}），请只保留一列")
        else:
            found[column.attr] = name
    missing = [c.label for c in columns if c.required and c.attr not in found]
    if missing:
        problems.append("缺少必填的列：" + "、".join(missing))
    if problems:
        raise ImportFailed(RowError(table.header_line, HEADER, p) for p in problems)
    return found


def _parse_rows(
    table: Table, columns: Sequence[Column], parsers: Parsers, *, unique: Sequence[str]
) -> tuple[list[_Record], list[RowError]]:
    """Every row parsed cell by cell, collecting every refusal; then duplicates of the unique columns."""
    mapping = _map_header(table, columns)
    records, errors = [], []
    for row in table.rows:
        record = _Record(row.line)
        for column in columns:
            if column.attr not in mapping:
                continue
            try:
                record.values[column.attr] = _parse_cell(row[mapping[column.attr]], column, parsers)
            except Invalid as exc:
                errors.append(RowError(row.line, column.label, exc.message))
                record.ok = False
        records.append(record)
    labels = {c.attr: c.label for c in columns}
    return records, errors + [e for attr in unique for e in _duplicates(records, attr, labels[attr])]


def _parse_cell(raw: str, column: Column, parsers: Parsers) -> Any:
    """One cell's value; empty required cells and numbers Excel has mangled are refused."""
    if not raw and column.required:
        raise Invalid("必填，不能为空")
    if SCIENTIFIC.fullmatch(raw):
        raise Invalid(f"「{raw}」是 Excel 的科学计数法，原数字已丢失：请把这一列设为文本格式后重新填写")
    return parsers[column.attr](raw)


def _duplicates(records: list[_Record], attr: str, label: str) -> list[RowError]:
    """A value that a previous row of the file already used."""
    first: dict[Any, int] = {}
    errors = []
    for record in records:
        value = record.values.get(attr)
        if value is None:
            continue
        if value in first:
            errors.append(RowError(record.line, label, f"「{value}」与第{first[value]}行重复"))
        else:
            first[value] = record.line
    return errors


# ---------------------------------------------------------------------------------------------
# Writing


def _existing(session: Session, model: type[Any], key: str) -> dict[str, Any]:
    """Every row of the model already stored, by its import key."""
    return {getattr(obj, key): obj for obj in session.scalars(select(model))}


def _shown(attr: str, value: Any) -> Any:
    """A value as the audit trail keeps it: departments by code, mobiles masked."""
    if isinstance(value, Department):
        return value.code
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


def _write(
    session: Session,
    target: _Target,
    records: list[_Record],
    existing: dict[str, Any],
    errors: list[RowError],
    *,
    clock: Clock,
    actor: Person | None,
) -> ImportReport:
    """All or nothing: any error fails the file; else create or update every row, and audit changes."""
    if errors:
        raise ImportFailed(errors)
    now = clock.now()
    events: list[tuple[Any, str, dict[str, Any]]] = []
    for record in records:
        obj = existing.get(record.values[target.key])
        if obj is None:
            obj = target.model(**record.values, created_at=now)
            session.add(obj)
            events.append((obj, "import.create", {a: _shown(a, v) for a, v in record.values.items()}))
        elif changes := _apply(obj, record.values):
            events.append((obj, "import.update", changes))
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


# ---------------------------------------------------------------------------------------------
# The three imports


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
