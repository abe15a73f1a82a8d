"""What an import reports: one RowError per problem, ImportFailed for a refused file, ImportReport."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import Invalid

MAX_ERRORS_SHOWN = 20
HEADER = "表头"


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


# The features' importers (routing, lenient, quiet-rules) live with the features; their labels here.
KIND_LABELS = {
    "departments": "部门",
    "people": "人员",
    "enterprises": "企业",
    "routing": "分派规则",
    "lenient": "免罚清单",
    "quiet-rules": "宁静日规则",
    "projects": "重点项目",
}


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
