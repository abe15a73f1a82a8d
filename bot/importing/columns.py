"""The columns each import understands, the parsers for their cells, and validating whole rows."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import Invalid
from bot.importing.bulk import no_gc_pauses
from bot.importing.reading import Table
from bot.importing.results import HEADER, ImportFailed, RowError
from bot.models import Department, DepartmentKind, Role


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
    Column(
        "group_webhook_key",
        "群机器人",
        ("群机器人", "群机器人地址", "群机器人key", "webhook", "group_webhook_key", "group_webhook"),
    ),
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
    Column("oversees", "分管部门", ("分管部门", "分管单位", "oversees")),  # 县领导 only; not a Person column
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
LIST_SEPARATORS = re.compile(r"[、,，]")  # 「FGJ、县财政局, ZRZYJ」


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


WEBHOOK_KEY = re.compile(r"[A-Za-z0-9-]{8,100}")


def _parse_webhook_key(raw: str) -> str | None:
    """A 群机器人's key, alone or inside its webhook address (…/webhook/send?key=KEY)."""
    if not raw:
        return None
    key = raw.split("key=", 1)[1].split("&", 1)[0] if "key=" in raw else raw
    if not WEBHOOK_KEY.fullmatch(key):
        raise Invalid(
            f"「{raw}」不是群机器人的 Webhook 地址或 key（形如 …/webhook/send?key=xxxxxxxx-xxxx-…）"
        )
    return key


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
        self.by_id = {d.id: d for d in departments}

    def find(self, raw: str) -> Department | None:
        """The department a cell names (empty → None)."""
        if not raw:
            return None
        found = self.by_code.get(raw) or self.by_name.get(raw)
        if found is None:
            raise Invalid(f"找不到部门「{raw}」：请填部门编码或部门名称，新部门请先导入部门表")
        return found

    def find_many(self, raw: str) -> tuple[Department, ...]:
        """The departments a cell lists, separated by 、 or commas (empty → none; repeats count once)."""
        names = [n.strip() for n in LIST_SEPARATORS.split(raw) if n.strip()]
        unknown = [n for n in names if n not in self.by_code and n not in self.by_name]
        if unknown:
            listed = "、".join(f"「{n}」" for n in unknown)
            raise Invalid(f"找不到部门{listed}：请填部门编码或部门名称，多个部门用「、」隔开")
        found = (self.by_code.get(n) or self.by_name[n] for n in names)
        return tuple({d.id: d for d in found}.values())

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
    with no_gc_pauses():
        return _parse_all(table, columns, parsers, unique=unique)


def _parse_all(
    table: Table, columns: Sequence[Column], parsers: Parsers, *, unique: Sequence[str]
) -> tuple[list[_Record], list[RowError]]:
    mapping = _map_header(table, columns)
    present = [
        (column, mapping[column.attr], parsers[column.attr]) for column in columns if column.attr in mapping
    ]
    records, errors = [], []
    for row in table.rows:  # the hot loop of a large import: no per-cell lookups beyond the row's own
        record = _Record(row.line)
        values = record.values
        for column, name, parse in present:
            try:
                values[column.attr] = _parse_value(row[name], column, parse)
            except Invalid as exc:
                errors.append(RowError(row.line, column.label, exc.message))
                record.ok = False
        records.append(record)
    labels = {c.attr: c.label for c in columns}
    return records, errors + [e for attr in unique for e in _duplicates(records, attr, labels[attr])]


def _parse_value(raw: str, column: Column, parse: Callable[[str], Any]) -> Any:
    """One cell's value; empty required cells and numbers Excel has mangled are refused."""
    if not raw and column.required:
        raise Invalid("必填，不能为空")
    if "+" in raw and SCIENTIFIC.fullmatch(raw):  # (the cheap test first: it runs for every cell)
        raise Invalid(f"「{raw}」是 Excel 的科学计数法，原数字已丢失：请把这一列设为文本格式后重新填写")
    return parse(raw)


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
