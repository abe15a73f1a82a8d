"""导出 in chat: a period's 诉求工单, 重点项目周报 or 涉企检查 as XLSX (officials: their department's)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path

from bot.clock import as_utc, local
from bot.errors import Invalid
from bot.models import Department, Person, Role
from bot.replies import File, Text
from bot.routing import Context, HandlerResult, Router
from handlers.digests.delivery import store_file
from handlers.digests.exports import TITLES, Exported, Span, parse_day, span_between, write_register

router = Router("digest-exports")

USAGE = "导出 <诉求|项目|检查> [期间]"
EXPORT_DIR = "exports"  # under ZTC_VAR_DIR (shared by every worker); the outbox uploads the file from there
KINDS = {
    "诉求": "orders",
    "工单": "orders",
    "项目": "projects",
    "重点项目": "projects",
    "检查": "inspections",
}
PERIOD_WORDS = ("本月", "上月", "本周", "上周", "本季", "今年")
ALIASES = {
    "这个月": "本月",
    "上个月": "上月",
    "这周": "本周",
    "本季度": "本季",
    "本年": "今年",
    "本年度": "今年",
}
PERIOD_HELP = "期间可写：本月（默认）、上月、本周、上周、本季、今年，或起止日期如「2026-11-01 2026-11-30」。"
_SEPARATORS = re.compile(r"\s+|至|到|~|—")
_EMPTY = {"orders": "诉求", "projects": "重点项目周报和督办卡", "inspections": "检查报备"}


@router.command(
    "导出", roles=(Role.LEADER, Role.ADMIN, Role.OFFICIAL), slow=True, usage=USAGE
)  # slow: a worker writes the workbook, the web process only acknowledges
def export(ctx: Context, args: str) -> HandlerResult:
    """导出某期间的诉求工单、重点项目周报或涉企检查（Excel）；期间默认本月，干部导出本部门的"""
    person = ctx.require_person()
    today = local(as_utc(ctx.now)).date()
    kind, span = parse_request(args, today)
    department = scope_of(person)
    workbook = BytesIO()
    exported = write_register(kind, ctx.session, workbook, span, now=ctx.now, department=department)
    if exported.rows == 0:
        return reply(exported, kind, None, department)
    path = export_file(ctx.services["settings"].var_dir, kind, span, ctx.now, workbook.getvalue())
    return reply(exported, kind, path, department)


def reply(exported: Exported, kind: str, path: Path | None, department: Department | None) -> HandlerResult:
    """The counts and the file; when the period holds nothing (no file written), a line saying so."""
    if exported.rows == 0 or path is None:
        whose = f"{department.name}的" if department is not None else ""
        return Text(f"{exported.span.label}没有{whose}{_EMPTY[kind]}，无文件可导出。")
    whose = f"【{department.name}】" if department is not None else ""
    return [Text(f"{whose}{exported.text()}\n文件（Excel）随后发送。"), File(path=str(path))]


def parse_request(args: str, today: date) -> tuple[str, Span]:
    """「诉求 上月」 → ("orders", last month); an unknown kind or period word is named in the refusal."""
    words = [w for w in _SEPARATORS.split(unicodedata.normalize("NFKC", args).strip()) if w]
    if not words:
        raise Invalid(f"请写明导出什么。用法：{USAGE}，如「导出 诉求 上月」。")
    if words[0] not in KINDS:
        raise Invalid(
            f"「{words[0]}」不是可导出的内容，请写诉求、项目或检查。用法：{USAGE}；重点项目台账请发送「台账」。"
        )
    return KINDS[words[0]], parse_period(words[1:], today)


def parse_period(words: list[str], today: date) -> Span:
    """「」「本月」「上周」…「2026-11-01 2026-11-30」「2026-11-24」 → the span; others refused by name."""
    words = [ALIASES.get(w, w) for w in words]
    unknown = [w for w in words if w not in PERIOD_WORDS and not _is_day(w)]
    if unknown:
        raise Invalid(f"没有看懂期间「{'、'.join(unknown)}」。{PERIOD_HELP}")
    if not words:
        return relative_span("本月", today)
    if len(words) == 1 and words[0] in PERIOD_WORDS:
        return relative_span(words[0], today)
    if len(words) <= 2 and not any(w in PERIOD_WORDS for w in words):
        return span_between(parse_day(words[0]), parse_day(words[-1]))
    raise Invalid(f"期间只能写一个词或一对起止日期（您写了「{' '.join(words)}」）。{PERIOD_HELP}")


def _is_day(word: str) -> bool:
    """Whether the word reads as a date."""
    try:
        parse_day(word)
    except Invalid:
        return False
    return True


def relative_span(word: str, today: date) -> Span:
    """本月/本周/本季/今年 so far (up to today); 上月/上周 whole."""
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    if word == "上月":
        last = first - timedelta(days=1)
        return Span(last.replace(day=1), last)
    if word == "上周":
        return Span(monday - timedelta(days=7), monday - timedelta(days=1))
    starts = {
        "本月": first,
        "本周": monday,
        "本季": date(today.year, (today.month - 1) // 3 * 3 + 1, 1),
        "今年": date(today.year, 1, 1),
    }
    return Span(starts[word], today)


def scope_of(person: Person) -> Department | None:
    """Whose rows the person may export: an official his department's, leaders and admins all."""
    if person.role_enum is not Role.OFFICIAL:
        return None
    if person.department is None:
        raise Invalid("您没有所属部门，无法导出，请联系管理员。")
    return person.department


def export_file(var_dir: Path, kind: str, span: Span, now: datetime, data: bytes) -> Path:
    """The workbook written (atomically) under var/exports: an absolute path whose name says what it
    holds — the kind, the span's first and last day, when, and a hash of its bytes."""
    stamp = local(as_utc(now)).strftime("%Y%m%d-%H%M%S")
    stem = f"{TITLES[kind]}{span.start:%Y%m%d}-{span.end:%Y%m%d}-{stamp}"
    return store_file(Path(var_dir) / EXPORT_DIR, stem, ".xlsx", data)
