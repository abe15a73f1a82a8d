"""台账 in chat: the 重点项目台账 as an XLSX file, for leaders and admins (officials: their department's)."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import date, datetime
from pathlib import Path

from bot.clock import as_utc, local
from bot.errors import Invalid
from bot.models import Department, Person, Role
from bot.replies import File, Text
from bot.routing import Context, HandlerResult, Router
from handlers.projects.ledger import write_ledger
from handlers.projects.rules import rules_from

router = Router("project-ledger")

USAGE = "台账 [年度]"
EXPORT_DIR = "exports"  # under ZTC_VAR_DIR; the outbox uploads the file from there
_YEAR = re.compile(r"(\d{4})\s*年?度?")
RELATIVE_YEARS = {"今年": 0, "本年": 0, "本年度": 0, "去年": -1, "上年": -1, "上年度": -1, "明年": 1}


@router.command(
    "台账", "项目台账", roles=(Role.LEADER, Role.ADMIN, Role.OFFICIAL), slow=True, usage=USAGE
)  # slow: a worker writes the workbook, the web process only acknowledges
def ledger(ctx: Context, args: str) -> HandlerResult:
    """导出重点项目台账（Excel：汇总，每月一页，含每周绿白黄红、月汇报、督办卡）；干部导出本部门的"""
    person = ctx.require_person()
    today = local(as_utc(ctx.now)).date()
    year = parse_year(args, today)
    department = scope_of(person)
    path = export_path(ctx.services["settings"].var_dir, year, ctx.now)
    rules = rules_from(ctx.services["settings"])
    summary = write_ledger(ctx.session, path, year, today=today, department=department, rules=rules)
    whose = f"{department.name}负责的" if department is not None else ""
    if summary.projects == 0:
        path.unlink()
        return Text(f"目前没有{whose}在册重点项目，无台账可导出。项目由管理员用「ztc import projects」导入。")
    return [Text(f"{whose}{summary.text()}\n台账（Excel）随后发送。"), File(path=str(path))]


def parse_year(args: str, today: date) -> int:
    """「」「2026」「2026年」「今年」「去年」 → the year; anything else is refused with the usage."""
    text = unicodedata.normalize("NFKC", args).strip()
    if not text:
        return today.year
    if text in RELATIVE_YEARS:
        return today.year + RELATIVE_YEARS[text]
    match = _YEAR.fullmatch(text)
    if match is None or int(match.group(1)) < 2000:
        raise Invalid(f"「{args}」不是年度。用法：{USAGE}，如「台账 {today.year}」；不写年度导出今年的。")
    return int(match.group(1))


def scope_of(person: Person) -> Department | None:
    """Whose projects the person may export: an official his department's, leaders and admins all."""
    if person.role_enum is not Role.OFFICIAL:
        return None
    if person.department is None:
        raise Invalid("您没有所属部门，无法导出台账，请联系管理员。")
    return person.department


def export_path(var_dir: Path, year: int, now: datetime) -> Path:
    """A new file under var/exports whose name says what it is and never collides with another."""
    folder = (var_dir / EXPORT_DIR).resolve()  # the outbox may run from another working directory
    folder.mkdir(parents=True, exist_ok=True)
    stamp = local(as_utc(now)).strftime("%Y%m%d-%H%M%S")
    return folder / f"重点项目台账{year}年-{stamp}-{secrets.token_hex(3)}.xlsx"
