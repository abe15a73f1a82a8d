"""`ztc import lenient FILE`: the 包容免罚清单 (minor first-time violations that are not fined).

Columns: 编号/code, 领域/field, 违法行为/violation, 法律依据/basis, 免罚条件/conditions (all
required) and 处理方式/measure (optional). The file follows the rules of every import
(bot.importing): all rows or none, errors by line, upsert by 编号, one audit event per change. A 编号
is stored as typed but full-width folded and in upper case (「ｓｃｊｇ－００１」 → SCJG-001), so the
inspection record and chat find it however it is typed. Items the file leaves out are kept.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.errors import Invalid
from bot.importing import Column, ImportReport, Table, read_table
from bot.importing.columns import Parsers, _parse_rows, _text
from bot.importing.writing import _existing, _Target, _write
from bot.models import Person
from handlers.inspections.lenient import normalise_code
from handlers.inspections.models import LenientItem

LENIENT_COLUMNS = (
    Column("code", "编号", ("编号", "清单编号", "事项编号", "code"), required=True),
    Column("field", "领域", ("领域", "执法领域", "所属领域", "field"), required=True),
    Column("violation", "违法行为", ("违法行为", "轻微违法行为", "违法行为名称", "violation"), required=True),
    Column("basis", "法律依据", ("法律依据", "依据", "处罚依据", "basis"), required=True),
    Column("conditions", "免罚条件", ("免罚条件", "适用条件", "不予处罚条件", "conditions"), required=True),
    Column("measure", "处理方式", ("处理方式", "处理措施", "措施", "measure")),
)
LENIENT = _Target("lenient", LenientItem, "lenient_item", "code")
CODE_CHARS = 32  # LenientItem.code
_SPACE = re.compile(r"\s")


def _parse_code(raw: str) -> str:
    code = normalise_code(raw)
    if _SPACE.search(code):
        raise Invalid(f"「{raw}」含有空格：编号应为一个词，如 SCJG-001")
    if len(code) > CODE_CHARS:
        raise Invalid(f"不能超过{CODE_CHARS}个字（现有{len(code)}个）")
    return code


def import_lenient(
    session: Session, table: Table, *, clock: Clock, actor: Person | None = None
) -> ImportReport:
    """Upsert 包容免罚清单 items by 编号; a column absent from the file leaves stored values alone."""
    parsers: Parsers = {
        "code": _parse_code,
        "field": _text(50),
        "violation": _text(500),
        "basis": _text(2000),
        "conditions": _text(1000),
        "measure": _text(500),
    }
    records, errors = _parse_rows(table, LENIENT_COLUMNS, parsers, unique=("code",))
    existing = _existing(session, LenientItem, "code")
    return _write(session, LENIENT, records, existing, errors, clock=clock, actor=actor)


def import_lenient_file(
    session: Session, path: Path, *, clock: Clock, actor: Person | None = None
) -> ImportReport:
    """Import a 包容免罚清单 CSV or XLSX file into the caller's transaction."""
    return import_lenient(session, read_table(path), clock=clock, actor=actor)
